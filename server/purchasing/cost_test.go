package purchasing_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func ptr[T any](v T) *T { return &v }

// TestAverageAfter: the rounding rule openapi.yaml states (ProductInventory.averageCost).
func TestAverageAfter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                    string
		onHand                  int64
		old                     *int64
		quantity, cost, average int64
	}{
		{"first receipt", 0, nil, 5, 7, 7},
		{"nothing on hand: the new cost", 0, ptr[int64](100), 5, 7, 7},
		{"below zero on hand: the new cost", -3, ptr[int64](100), 5, 7, 7},
		{"weighted, rounded down", 10, ptr[int64](100), 5, 131, 110}, // 110.33
		{"exactly half rounds up", 12, ptr[int64](110), 4, 112, 111}, // 110.5
		{"a quarter rounds down", 3, ptr[int64](0), 1, 1, 0},         // 0.25
		{"three quarters round up", 1, ptr[int64](0), 3, 1, 1},       // 0.75
		{"huge, exact", 1_000_000_000_000, ptr[int64](1_000_000_000_000), 1_000_000_000_000, 0, 500_000_000_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := inventory.AverageAfter(c.onHand, c.old, c.quantity, c.cost); got != c.average {
				t.Errorf("AverageAfter(%d, %v, %d, %d) = %d, want %d", c.onHand, c.old, c.quantity, c.cost, got, c.average)
			}
		})
	}
}

// TestAverageCostAndValuation: receipts at different costs at two locations move the product's
// average exactly (rounded half up); a fulfilment records the average on its movement; the
// valuation is onHand × average with totals per currency and location; and asked asOf a past
// time it answers what it answered then (the ledger replayed).
func TestAverageCostAndValuation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "cost")
	p := b.Product(t, "COST")
	la, lb := b.Location(t, "LA"), b.Location(t, "LB")

	po1 := b.ordered(t, la.Id, pl(p.Id, 10, 100))
	b.receive(t, po1.Id, rl(po1.Lines[0].Id, 10))
	if got := b.averageCost(t, p.Id); got == nil || *got != 100 {
		t.Fatalf("after 10 @ 100: average %v", got)
	}
	t0 := env.Clock.Now()
	then := b.valuation(t, nil)
	if len(then.Items) != 1 || *then.Items[0].Value != 1000 || then.Totals[0].Value != 1000 {
		t.Fatalf("valuation at t0: %+v", then)
	}

	env.Clock.Advance(time.Minute)
	po2 := b.ordered(t, lb.Id, pl(p.Id, 5, 131))
	b.receive(t, po2.Id, rl(po2.Lines[0].Id, 5))
	if got := b.averageCost(t, p.Id); got == nil || *got != 110 { // (10·100 + 5·131) / 15 = 110.33
		t.Fatalf("after 5 @ 131: average %v, want 110", got)
	}

	// Stock leaving records the average at that moment.
	env.Clock.Advance(time.Minute)
	o := b.PlaceOrder(t, p.Id, 3)
	b.ConfirmOrder(t, o.Id)
	if f := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: o.Lines[0].Id, Quantity: 3}); f.JSON201 == nil {
		t.Fatalf("fulfil: %d %s", f.StatusCode(), f.Body)
	}
	kind := api.MovementKind("fulfilment")
	fm := b.Movements(t, api.ListStockMovementsParams{Kind: &kind})
	if len(fm) == 0 || fm[0].UnitCost == nil || *fm[0].UnitCost != 110 {
		t.Errorf("fulfilment movements %+v, want unitCost 110", fm)
	}

	env.Clock.Advance(time.Minute)
	po3 := b.ordered(t, la.Id, pl(p.Id, 4, 112))
	b.receive(t, po3.Id, rl(po3.Lines[0].Id, 4))
	if got := b.averageCost(t, p.Id); got == nil || *got != 111 { // (12·110 + 4·112) / 16 = 110.5
		t.Fatalf("after 4 @ 112: average %v, want 111 (half up)", got)
	}
	now := b.valuation(t, nil)
	var sum int64
	for _, it := range now.Items {
		if it.AverageCost == nil || *it.AverageCost != 111 || *it.Value != it.OnHand*111 {
			t.Errorf("line %+v", it)
		}
		sum += *it.Value
	}
	if sum != 16*111 || len(now.Totals) != 1 || now.Totals[0].Value != sum || now.Totals[0].Currency != "USD" || len(now.LocationTotals) != 2 {
		t.Errorf("valuation now: %+v (lines sum %d)", now, sum)
	}

	// asOf t0 answers what the valuation answered at t0.
	past := b.valuation(t, &t0)
	if past.AsOf == nil || !past.AsOf.Equal(t0) {
		t.Errorf("asOf %v", past.AsOf)
	}
	past.AsOf = nil
	if !reflect.DeepEqual(past, then) {
		t.Errorf("valuation asOf t0:\n%+v\nat t0:\n%+v", past, then)
	}
	// And at a time in between (after the second receipt, before the sale).
	mid := t0.Add(90 * time.Second)
	between := b.valuation(t, &mid)
	if between.Totals[0].Value != 15*110 {
		t.Errorf("valuation between: %+v, want 15 × 110", between.Totals)
	}
	b.Env.AssertStock(t, b.Brand)
}

func (b buyer) valuation(t *testing.T, asOf *time.Time) api.InventoryValuation {
	t.Helper()
	resp, err := b.Env.Client.GetInventoryValuationWithResponse(ctx, b.Brand, &api.GetInventoryValuationParams{AsOf: asOf}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("valuation: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// TestReorderSuggestions: levels at or below their reorder point counting incoming are
// suggested, at their reorderQuantity or what brings them back to the point; the product's last
// supplier and cost come along; from-suggestions drafts one PO per supplier and location, and
// ordering it takes the level out of the suggestions.
func TestReorderSuggestions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "reorder")
	known, fresh, fine := b.Product(t, "KNOWN"), b.Product(t, "FRESH"), b.Product(t, "FINE")
	wh := b.Location(t, "WH")
	// KNOWN was bought before (at 42), is down to 2, point 5, reorder quantity 50.
	po := b.ordered(t, wh.Id, pl(known.Id, 2, 42))
	b.receive(t, po.Id, rl(po.Lines[0].Id, 2))
	b.Receive(t, fresh.Id, wh.Id, 1) // FRESH: 1 on hand, point 4, no supplier yet
	b.Receive(t, fine.Id, wh.Id, 9)  // FINE: 9 on hand, point 4
	b.setReorder(t, known.Id, wh.Id, 5, ptr[int64](50))
	b.setReorder(t, fresh.Id, wh.Id, 4, nil)
	b.setReorder(t, fine.Id, wh.Id, 4, nil)

	got := map[uuid.UUID]api.ReorderSuggestion{}
	for _, s := range b.suggestions(t) {
		got[s.ProductId] = s
	}
	if len(got) != 2 {
		t.Fatalf("suggestions %+v, want KNOWN and FRESH", got)
	}
	if s := got[known.Id]; s.SuggestedQuantity != 50 || s.Available != 2 || s.SupplierId == nil || *s.SupplierId != b.supplier.Id || *s.UnitCost != 42 || *s.Currency != "USD" {
		t.Errorf("KNOWN %+v", s)
	}
	if s := got[fresh.Id]; s.SuggestedQuantity != 3 || s.SupplierId != nil || s.UnitCost != nil {
		t.Errorf("FRESH %+v", s)
	}

	// Without a fallback supplier FRESH is left out; KNOWN gets one draft.
	resp, err := env.Client.CreatePurchaseOrdersFromSuggestionsWithResponse(ctx, b.Brand, &api.CreatePurchaseOrdersFromSuggestionsParams{}, api.PurchaseOrdersFromSuggestionsRequest{}, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("from suggestions: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	drafts := resp.JSON201.Items
	if len(drafts) != 1 || drafts[0].Status != api.PurchaseOrderDraft || drafts[0].SupplierId != b.supplier.Id || len(drafts[0].Lines) != 1 ||
		drafts[0].Lines[0].ProductId != known.Id || drafts[0].Lines[0].Quantity != 50 || drafts[0].Lines[0].UnitCost != 42 || drafts[0].Number != 1002 {
		t.Fatalf("drafts %+v", drafts)
	}
	// Ordered, its 50 are incoming: KNOWN (2 + 50 > 5) is no longer suggested.
	b.submit(t, drafts[0].Id)
	left := b.suggestions(t)
	if len(left) != 1 || left[0].ProductId != fresh.Id {
		t.Errorf("after ordering: %+v, want FRESH only", left)
	}
	b.Env.AssertStock(t, b.Brand)
}

func (b buyer) setReorder(t *testing.T, product, location uuid.UUID, point int64, quantity *int64) {
	t.Helper()
	q := nullable.NewNullNullable[int64]()
	if quantity != nil {
		q = nullable.NewNullableWithValue(*quantity)
	}
	resp, err := b.Env.Client.UpdateStockLevelWithResponse(ctx, b.Brand, product, location, &api.UpdateStockLevelParams{},
		api.UpdateStockLevelRequest{ReorderPoint: &point, ReorderQuantity: q}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("set reorder: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if resp.JSON200.ReorderPoint == nil || *resp.JSON200.ReorderPoint != point || !reflect.DeepEqual(resp.JSON200.ReorderQuantity, quantity) {
		t.Errorf("level after set reorder %+v", resp.JSON200)
	}
}

func (b buyer) suggestions(t *testing.T) []api.ReorderSuggestion {
	t.Helper()
	resp, err := b.Env.Client.ListReorderSuggestionsWithResponse(ctx, b.Brand, &api.ListReorderSuggestionsParams{}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("suggestions: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Items
}
