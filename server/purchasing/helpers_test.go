package purchasing_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// buyer is a stock brand with a supplier, for the purchasing tests.
type buyer struct {
	servertest.StockBrand
	supplier api.Supplier
}

func newBuyer(t *testing.T, env *servertest.Env, name string) buyer {
	t.Helper()
	b := servertest.NewStockBrand(t, env, name)
	resp, err := env.Client.CreateSupplierWithResponse(ctx, b.Brand, api.CreateSupplierRequest{Code: "ACME", Name: "Acme", Currency: "USD"}, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create supplier: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return buyer{StockBrand: b, supplier: *resp.JSON201}
}

func pl(product uuid.UUID, n, cost int64) api.PurchaseOrderRequestLine {
	return api.PurchaseOrderRequestLine{ProductId: product, Quantity: n, UnitCost: cost}
}

func (b buyer) draft(t *testing.T, location uuid.UUID, lines ...api.PurchaseOrderRequestLine) api.PurchaseOrder {
	t.Helper()
	resp, err := b.Env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{},
		api.CreatePurchaseOrderRequest{SupplierId: b.supplier.Id, LocationId: location, Lines: lines}, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create PO: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func (b buyer) submit(t *testing.T, id uuid.UUID) api.PurchaseOrder {
	t.Helper()
	resp, err := b.Env.Client.SubmitPurchaseOrderWithResponse(ctx, b.Brand, id, &api.SubmitPurchaseOrderParams{}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("submit PO: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// ordered drafts and submits a PO.
func (b buyer) ordered(t *testing.T, location uuid.UUID, lines ...api.PurchaseOrderRequestLine) api.PurchaseOrder {
	t.Helper()
	return b.submit(t, b.draft(t, location, lines...).Id)
}

func (b buyer) receiveAs(t *testing.T, auth api.RequestEditorFn, id uuid.UUID, allowOver bool, lines ...api.ReceiptLine) *api.CreatePurchaseOrderReceiptResponse {
	t.Helper()
	resp, err := b.Env.Client.CreatePurchaseOrderReceiptWithResponse(ctx, b.Brand, id, &api.CreatePurchaseOrderReceiptParams{IdempotencyKey: uuid.NewString()},
		api.CreateReceiptRequest{Lines: lines, AllowOverReceipt: &allowOver}, auth)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return resp
}

func (b buyer) receive(t *testing.T, id uuid.UUID, lines ...api.ReceiptLine) api.PurchaseOrderReceipt {
	t.Helper()
	resp := b.receiveAs(t, b.Auth, id, false, lines...)
	if resp.JSON201 == nil {
		t.Fatalf("receive: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func rl(line uuid.UUID, n int64) api.ReceiptLine { return api.ReceiptLine{LineId: line, Quantity: n} }

// wantIncoming asserts a level's onHand and incoming.
func (b buyer) wantIncoming(t *testing.T, what string, product, location uuid.UUID, onHand, incoming int64) {
	t.Helper()
	l := b.Level(t, product, location)
	if l.OnHand != onHand || l.Incoming != incoming || l.Available != l.OnHand-l.Reserved {
		t.Errorf("%s: onHand %d incoming %d available %d, want onHand %d incoming %d (incoming never available)", what, l.OnHand, l.Incoming, l.Available, onHand, incoming)
	}
}

func (b buyer) averageCost(t *testing.T, product uuid.UUID) *int64 {
	t.Helper()
	resp, err := b.Env.Client.GetProductInventoryWithResponse(ctx, b.Brand, product, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("product inventory: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.AverageCost
}

func nullableString(s string) nullable.Nullable[string] { return nullable.NewNullableWithValue(s) }
