package purchasing_test

import (
	"slices"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestManualReceiptUnitCost: a manual receipt (POST …/inventory/adjustments, kind receipt) may
// carry a unitCost: it moves the product's average exactly as a PO receipt does (same rule, half
// up) and is recorded on its movement; without one the average stays and the movement has none.
func TestManualReceiptUnitCost(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "manualcost")
	p := b.Product(t, "MC")
	la, lb := b.Location(t, "LA"), b.Location(t, "LB")

	receipt := func(t *testing.T, loc api.StockLocation, n int64, cost *int64) api.StockMovement {
		t.Helper()
		resp := b.Adjust(t, api.AdjustmentReceipt, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: n, UnitCost: cost})
		if resp.JSON201 == nil || len(resp.JSON201.MovementIds) != 1 {
			t.Fatalf("manual receipt: %d %s", resp.StatusCode(), resp.Body)
		}
		kind := api.MovementKind("receipt")
		for _, m := range b.Movements(t, api.ListStockMovementsParams{Kind: &kind}) {
			if m.Id == resp.JSON201.MovementIds[0] {
				return m
			}
		}
		t.Fatalf("movement %s not listed", resp.JSON201.MovementIds[0])
		return api.StockMovement{}
	}

	t.Run("without a cost the product has no average and the movement none", func(t *testing.T) {
		m := receipt(t, la, 4, nil)
		if m.UnitCost != nil || m.PurchaseOrderId != nil {
			t.Errorf("movement %+v, want no unitCost nor purchaseOrderId", m)
		}
		if got := b.averageCost(t, p.Id); got != nil {
			t.Errorf("average %d, want none", *got)
		}
	})
	t.Run("a first cost becomes the average (4 on hand had none)", func(t *testing.T) {
		m := receipt(t, la, 6, ptr[int64](100))
		if m.UnitCost == nil || *m.UnitCost != 100 || m.Kind != "receipt" || m.OnHandDelta != 6 {
			t.Errorf("movement %+v, want a receipt of 6 at 100", m)
		}
		if got := b.averageCost(t, p.Id); got == nil || *got != 100 {
			t.Errorf("average %v, want 100", got)
		}
	})
	t.Run("a PO receipt then a manual one average exactly across both", func(t *testing.T) {
		po := b.ordered(t, lb.Id, pl(p.Id, 5, 131))
		b.receive(t, po.Id, rl(po.Lines[0].Id, 5))
		if got := b.averageCost(t, p.Id); got == nil || *got != 110 { // (10·100 + 5·131) / 15 = 110.33
			t.Fatalf("after the PO receipt: average %v, want 110", got)
		}
		// (15·110 + 1·118) / 16 = 110.5: half up, the rule the PO receipt follows.
		m := receipt(t, lb, 1, ptr[int64](118))
		if m.UnitCost == nil || *m.UnitCost != 118 {
			t.Errorf("movement %+v, want unitCost 118", m)
		}
		if got := b.averageCost(t, p.Id); got == nil || *got != 111 {
			t.Errorf("after the manual receipt: average %v, want 111", got)
		}
	})
	t.Run("an uncosted receipt leaves the average", func(t *testing.T) {
		receipt(t, lb, 9, nil)
		if got := b.averageCost(t, p.Id); got == nil || *got != 111 {
			t.Errorf("average %v, want 111", got)
		}
	})
	t.Run("the valuation values the manual receipts at the average", func(t *testing.T) {
		v := b.valuation(t, nil)
		if len(v.Totals) != 1 || v.Totals[0].Value != 25*111 {
			t.Errorf("totals %+v, want 25 × 111", v.Totals)
		}
	})
	b.WantLevel(t, "LA", p.Id, la.Id, 10, 0)
	b.WantLevel(t, "LB", p.Id, lb.Id, 15, 0)
	b.Env.AssertStock(t, b.Brand)
}

// TestManualReceiptUnitCostRefused: a unitCost out of bounds, on another kind than a receipt, or
// disagreeing with another line of the same level is a 400 naming it, and nothing moves.
func TestManualReceiptUnitCostRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "manualcostbad")
	p := b.Product(t, "MCB")
	loc := b.Location(t, "L1")
	line := func(delta int64, cost *int64) api.StockAdjustmentLine {
		return api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: delta, UnitCost: cost}
	}
	for _, c := range []struct {
		name  string
		kind  api.AdjustmentKind
		lines []api.StockAdjustmentLine
		field string
	}{
		{"negative", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, ptr[int64](-1))}, "lines[0].unitCost"},
		{"past 10^12", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, ptr[int64](1_000_000_000_001))}, "lines[0].unitCost"},
		{"huge", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, ptr[int64](9_223_372_036_854_775_807))}, "lines[0].unitCost"},
		{"on an adjustment", api.AdjustmentAdjustment, []api.StockAdjustmentLine{line(1, ptr[int64](5))}, "lines[0].unitCost"},
		{"on a return", api.AdjustmentReturn, []api.StockAdjustmentLine{line(1, ptr[int64](5))}, "lines[0].unitCost"},
		{"two costs for one level", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, ptr[int64](5)), line(1, ptr[int64](6))}, "lines[1].unitCost"},
		{"a cost, then none, for one level", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, ptr[int64](5)), line(1, nil)}, "lines[1].unitCost"},
		{"none, then a cost, for one level", api.AdjustmentReceipt, []api.StockAdjustmentLine{line(1, nil), line(1, ptr[int64](5))}, "lines[1].unitCost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := b.Adjust(t, c.kind, c.lines...)
			if resp.StatusCode() != 400 || resp.ApplicationproblemJSON400 == nil || resp.ApplicationproblemJSON400.Errors == nil {
				t.Fatalf("status %d %s, want 400", resp.StatusCode(), resp.Body)
			}
			var fields []string
			for _, e := range *resp.ApplicationproblemJSON400.Errors {
				fields = append(fields, e.Field)
			}
			if !slices.ContainsFunc(fields, func(f string) bool { return f == c.field }) {
				t.Errorf("errors %v, want one naming %s", fields, c.field)
			}
		})
	}
	t.Run("the same cost twice for one level is one costed receipt", func(t *testing.T) {
		resp := b.Adjust(t, api.AdjustmentReceipt, line(2, ptr[int64](7)), line(3, ptr[int64](7)))
		if resp.JSON201 == nil || len(resp.JSON201.MovementIds) != 1 {
			t.Fatalf("status %d %s", resp.StatusCode(), resp.Body)
		}
		if got := b.averageCost(t, p.Id); got == nil || *got != 7 {
			t.Errorf("average %v, want 7", got)
		}
	})
	b.WantLevel(t, "after the refusals", p.Id, loc.Id, 5, 0)
	b.Env.AssertStock(t, b.Brand)
}
