package servertest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
)

// Return asks for a return of an order's lines with a fresh Idempotency-Key.
func (b StockBrand) Return(t testing.TB, order uuid.UUID, lines ...api.ReturnRequestLine) *api.CreateReturnResponse {
	t.Helper()
	resp, err := b.Env.Client.CreateReturnWithResponse(context.Background(), b.Brand, order, &api.CreateReturnParams{IdempotencyKey: *NewKey()},
		api.CreateReturnRequest{Lines: lines}, b.Auth)
	if err != nil {
		t.Fatalf("create return: %v", err)
	}
	return resp
}

// MustReturn requests a return, or fails the test.
func (b StockBrand) MustReturn(t testing.TB, order uuid.UUID, lines ...api.ReturnRequestLine) api.Return {
	t.Helper()
	resp := b.Return(t, order, lines...)
	if resp.JSON201 == nil {
		t.Fatalf("create return: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Receive receives a return with lines.
func (b StockBrand) ReceiveReturn(t testing.TB, ret uuid.UUID, lines ...api.ReceiveReturnLine) *api.ReceiveReturnResponse {
	t.Helper()
	resp, err := b.Env.Client.ReceiveReturnWithResponse(context.Background(), b.Brand, ret, &api.ReceiveReturnParams{},
		api.ReceiveReturnRequest{Lines: lines}, b.Auth)
	if err != nil {
		t.Fatalf("receive return: %v", err)
	}
	return resp
}

// Refund records a refund of amount (in the brand's USD) on an order.
func (b StockBrand) Refund(t testing.TB, order uuid.UUID, amount int64) *api.CreateRefundResponse {
	t.Helper()
	resp, err := b.Env.Client.CreateRefundWithResponse(context.Background(), b.Brand, order, &api.CreateRefundParams{},
		api.CreateRefundRequest{Amount: amount, Currency: "USD"}, b.Auth)
	if err != nil {
		t.Fatalf("create refund: %v", err)
	}
	return resp
}

// ShippedOrder places an order of n units of product, confirms it and ships them all.
func (b StockBrand) ShippedOrder(t testing.TB, product uuid.UUID, n int64) api.Order {
	t.Helper()
	o := b.PlaceOrder(t, product, n)
	b.ConfirmOrder(t, o.Id)
	if r := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: o.Lines[0].Id, Quantity: n}); r.JSON201 == nil {
		t.Fatalf("fulfil: %d %s", r.StatusCode(), r.Body)
	}
	return b.GetOrder(t, o.Id)
}
