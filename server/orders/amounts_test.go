package orders_test

import (
	"math"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func disc(code string, amount int64) api.Discount { return api.Discount{Code: &code, Amount: amount} }
func tax(name string, amount int64) api.TaxLine   { return api.TaxLine{Name: name, Amount: amount} }

// TestOrderAmounts: shipping, discounts and tax lines, on the order and on lines, total exactly
// (subtotal − discounts + shipping + tax) up to int64's last unit, and are refused past it or when
// a discount takes off more than it applies to; refusals leave no order, stock held or number.
func TestOrderAmounts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "amounts")
	active := api.Active
	p := b.CreateProduct(t, api.CreateProductRequest{Sku: "AMT", Name: "amt", PriceAmount: 1999, Status: &active})
	big := b.CreateProduct(t, api.CreateProductRequest{Sku: "BIGA", Name: "big", PriceAmount: 1_000_000_000_000_000, Status: &active})
	loc := b.Location(t, "AMOUNTS")
	b.Receive(t, p.Id, loc.Id, 1000)
	b.Receive(t, big.Id, loc.Id, 100_000)

	// Two lines of one product merge, and so do their discounts and taxes.
	body := servertest.OrderBody(
		api.OrderRequestLine{ProductId: p.Id, Quantity: 2, Discounts: &api.Discounts{disc("PAIR", 500)}, TaxLines: &api.TaxLines{tax("VAT", 700)}},
		api.OrderRequestLine{ProductId: p.Id, Quantity: 1, TaxLines: &api.TaxLines{tax("VAT", 300)}},
	)
	body.ShippingAmount, body.ShippingMethod = new(int64(499)), new("Tracked 48")
	body.Discounts = &api.Discounts{{Description: new("Welcome"), Amount: 1000}}
	body.TaxLines = &api.TaxLines{{Name: "VAT on shipping", Rate: new("20"), Amount: 100}}
	r := b.CreateOrder(t, servertest.NewKey(), body)
	if r.JSON201 == nil {
		t.Fatalf("order with amounts: %d %s", r.StatusCode(), r.Body)
	}
	o := *r.JSON201
	// 3 × 1999 = 5997; − (500 + 1000) + 499 + (700 + 300 + 100) = 6096.
	if o.Subtotal != 5997 || o.DiscountTotal != 1500 || o.ShippingTotal != 499 || o.ShippingAmount != 499 || o.TaxTotal != 1100 || o.Total != 6096 {
		t.Errorf("totals %d %d %d %d = %d, want 5997 1500 499 1100 = 6096", o.Subtotal, o.DiscountTotal, o.ShippingTotal, o.TaxTotal, o.Total)
	}
	l := o.Lines[0]
	if len(o.Lines) != 1 || l.LineTotal != 5997 || l.DiscountTotal != 500 || l.TaxTotal != 1000 || len(l.Discounts) != 1 || len(l.TaxLines) != 2 {
		t.Errorf("merged line %+v", l)
	}
	if len(o.Discounts) != 1 || *o.Discounts[0].Description != "Welcome" || len(o.TaxLines) != 1 || *o.TaxLines[0].Rate != "20" ||
		o.ShippingMethod == nil || *o.ShippingMethod != "Tracked 48" || o.CancelledTotal != 0 || o.RefundedTotal != 0 {
		t.Errorf("order amounts %+v %+v %v", o.Discounts, o.TaxLines, o.ShippingMethod)
	}
	if got := b.GetOrder(t, o.Id); got.Total != 6096 || got.TaxTotal != 1100 {
		t.Errorf("read back: total %d tax %d", got.Total, got.TaxTotal)
	}

	// int64's edge: 9,223 × 10^15 + shipping + tax − discount lands exactly on MaxInt64.
	const lines = 9_223_000_000_000_000_000
	rest := int64(math.MaxInt64 - lines) // 372,036,854,775,807
	edge := servertest.OrderBody(servertest.OrderLine(big.Id, 9223))
	edge.ShippingAmount = new(rest - 7)
	edge.TaxLines = &api.TaxLines{tax("VAT", 10)}
	edge.Discounts = &api.Discounts{disc("EDGE", 3)}
	if r := b.CreateOrder(t, servertest.NewKey(), edge); r.JSON201 == nil || r.JSON201.Total != math.MaxInt64 {
		t.Fatalf("order at int64's edge: %d %s", r.StatusCode(), r.Body)
	}

	number := b.GetOrder(t, o.Id).Number
	refusals := map[string]struct {
		mutate func(*api.CreateOrderRequest)
		status int
		code   api.ProblemCode
	}{
		"shipping one past int64": {func(b *api.CreateOrderRequest) {
			b.ShippingAmount = new(rest + 1)
		}, 422, api.ProblemCodeAmountOverflow},
		"tax one past int64": {func(b *api.CreateOrderRequest) {
			b.TaxLines = &api.TaxLines{tax("A", rest), tax("B", 1)}
		}, 422, api.ProblemCodeAmountOverflow},
		"tax lines summing past int64": {func(b *api.CreateOrderRequest) {
			b.TaxLines = &api.TaxLines{tax("A", math.MaxInt64), tax("B", math.MaxInt64)}
		}, 422, api.ProblemCodeAmountOverflow},
		"line tax past int64": {func(b *api.CreateOrderRequest) {
			b.Lines[0].TaxLines = &api.TaxLines{tax("A", math.MaxInt64), tax("B", 1)}
		}, 422, api.ProblemCodeAmountOverflow},
		"line discount over the line": {func(b *api.CreateOrderRequest) {
			b.Lines[0].Discounts = &api.Discounts{disc("X", lines), disc("Y", 1)}
		}, 422, api.ProblemCodeDiscountTooLarge},
		"line discounts summing past int64": {func(b *api.CreateOrderRequest) {
			b.Lines[0].Discounts = &api.Discounts{disc("X", math.MaxInt64), disc("Y", math.MaxInt64)}
		}, 422, api.ProblemCodeDiscountTooLarge},
		"order discount over the subtotal": {func(b *api.CreateOrderRequest) {
			b.Lines[0].Discounts = &api.Discounts{disc("X", 1)}
			b.Discounts = &api.Discounts{disc("Y", lines)}
		}, 422, api.ProblemCodeDiscountTooLarge},
		"a discount without code or description": {func(b *api.CreateOrderRequest) {
			b.Discounts = &api.Discounts{{Amount: 1}}
		}, 400, api.ProblemCodeValidationFailed},
	}
	for name, c := range refusals {
		t.Run(name, func(t *testing.T) {
			body := servertest.OrderBody(servertest.OrderLine(big.Id, 9223))
			c.mutate(&body)
			r := b.CreateOrder(t, servertest.NewKey(), body)
			p := r.ApplicationproblemJSON422
			if c.status == 400 {
				p = r.ApplicationproblemJSON400
			}
			servertest.StatusIs(t, name, r.HTTPResponse, p, c.status, c.code)
		})
	}
	b.WantLevel(t, "big after refusals", big.Id, loc.Id, 100_000, 9223)
	if next := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)); next.Number != number+2 || next.Total != 1999 || next.DiscountTotal != 0 {
		t.Errorf("after refusals: number %d total %d, want %d 1999 (refusals consume no number)", next.Number, next.Total, number+2)
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderCancelledQuantities: cancelling a partly shipped order records each line's unshipped
// remainder and its value, and leaves the totals as placed.
func TestOrderCancelledQuantities(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "cancelq")
	p, q := b.Product(t, "CQ-1"), b.Product(t, "CQ-2") // 100 each
	loc := b.Location(t, "CANCELQ")
	b.Receive(t, p.Id, loc.Id, 10)
	b.Receive(t, q.Id, loc.Id, 10)
	body := servertest.OrderBody(servertest.OrderLine(p.Id, 5), servertest.OrderLine(q.Id, 2))
	body.ShippingAmount = new(int64(250))
	o := b.CreateOrder(t, servertest.NewKey(), body).JSON201
	b.ConfirmOrder(t, o.Id)
	b.Fulfil(t, o.Id, fline(o.Lines[0].Id, 3))
	c := b.CancelOrder(t, o.Id, nil).JSON200
	if c.Total != 950 || c.Subtotal != 700 || c.CancelledTotal != 400 {
		t.Errorf("cancelled: total %d subtotal %d cancelledTotal %d, want 950 700 400", c.Total, c.Subtotal, c.CancelledTotal)
	}
	want := [][3]int64{{5, 3, 2}, {2, 0, 2}}
	for i, l := range c.Lines {
		if got := [3]int64{l.Quantity, l.QuantityFulfilled, l.QuantityCancelled}; got != want[i] || l.FulfilledQuantity != l.QuantityFulfilled {
			t.Errorf("line %d quantity/fulfilled/cancelled %v, want %v", i, got, want[i])
		}
	}
	b.WantLevel(t, "p", p.Id, loc.Id, 7, 0)
	b.WantLevel(t, "q", q.Id, loc.Id, 10, 0)
	env.AssertStock(t, b.Brand)
}
