package purchasing_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// wantTotal asserts a valuation's single currency total and that it equals its lines' sum.
func wantTotal(t *testing.T, what string, v api.InventoryValuation, want int64) {
	t.Helper()
	var sum int64
	for _, it := range v.Items {
		if it.Value != nil {
			sum += *it.Value
		}
	}
	if len(v.Totals) != 1 || v.Totals[0].Value != want || sum != want {
		t.Errorf("%s: totals %+v, lines sum %d, want %d", what, v.Totals, sum, want)
	}
}

// TestValuationTotalsFollowChanges: the totals are cached between valuations (valuation_cache.go)
// and every change of what they sum shows in the next one: a receipt, a cost change, a sale, a
// change another brand makes does not disturb them, and a movement dated before an asOf already
// answered (a transaction that committed late) shows in that asOf's next answer.
func TestValuationTotalsFollowChanges(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "valcache")
	other := newBuyer(t, env, "valcacheother")
	p := b.Product(t, "VC")
	loc := b.Location(t, "L1")
	op, ol := other.Product(t, "VO"), other.Location(t, "O1")
	receive := func(t *testing.T, n, cost int64) {
		t.Helper()
		if r := b.Adjust(t, api.AdjustmentReceipt, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: n, UnitCost: &cost}); r.JSON201 == nil {
			t.Fatalf("receipt: %d %s", r.StatusCode(), r.Body)
		}
	}

	receive(t, 10, 100)
	wantTotal(t, "first", b.valuation(t, nil), 1000)
	wantTotal(t, "unchanged", b.valuation(t, nil), 1000)

	receive(t, 10, 200) // average 150
	wantTotal(t, "after a costed receipt", b.valuation(t, nil), 20*150)

	other.Receive(t, op.Id, ol.Id, 5)
	wantTotal(t, "after another brand's receipt", b.valuation(t, nil), 20*150)

	o := b.PlaceOrder(t, p.Id, 4)
	b.ConfirmOrder(t, o.Id)
	if f := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: o.Lines[0].Id, Quantity: 4}); f.JSON201 == nil {
		t.Fatalf("fulfil: %d %s", f.StatusCode(), f.Body)
	}
	wantTotal(t, "after a sale", b.valuation(t, nil), 16*150)

	// asOf: answered once, then a movement dated before it commits (the clock set back stands
	// for a transaction that began before asOf and committed after the answer).
	env.Clock.Advance(time.Minute)
	at := env.Clock.Now()
	wantTotal(t, "asOf now", b.valuation(t, &at), 16*150)
	env.Clock.Advance(-30 * time.Second)
	b.Receive(t, p.Id, loc.Id, 4) // uncosted: valued at the average
	env.Clock.Advance(30 * time.Second)
	wantTotal(t, "asOf, after a late movement dated before it", b.valuation(t, &at), 20*150)
	b.Env.AssertStock(t, b.Brand)
}

// TestValuationTotalsUnderConcurrentReceipts: valuations read while receipts commit at once never
// answer totals that disagree with a state the stock was in (each receipt adds 10 units at the
// one cost, so every total is a multiple of 10 × 7 between the first and the last), and the one
// after them all sums everything.
func TestValuationTotalsUnderConcurrentReceipts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "valrace")
	p := b.Product(t, "VR")
	loc := b.Location(t, "L1")
	cost := int64(7)
	const receipts = 12
	var wg sync.WaitGroup
	errs := make(chan string, 4*receipts)
	for range receipts {
		wg.Go(func() {
			r, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.Brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
				Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: p.Id, LocationId: loc.Id, Delta: 10, UnitCost: &cost}},
			}, b.Auth)
			if err != nil || r.JSON201 == nil {
				errs <- "receipt failed"
			}
		})
		wg.Go(func() {
			r, err := env.Client.GetInventoryValuationWithResponse(ctx, b.Brand, &api.GetInventoryValuationParams{}, b.Auth)
			if err != nil || r.JSON200 == nil {
				errs <- "valuation failed"
				return
			}
			for _, tot := range r.JSON200.Totals {
				if tot.Value%70 != 0 || tot.Value > receipts*70 {
					errs <- "a total no state had"
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	wantTotal(t, "after every receipt", b.valuation(t, nil), receipts*70)
	b.Env.AssertStock(t, b.Brand)
}
