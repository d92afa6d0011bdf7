package inventory

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// A manual `receipt` (POST …/inventory/adjustments) may say what its units cost: the movement
// then goes through Stock.Receive, the verb a purchase order's receipt uses, so the product's
// average moves by the same rule (AverageAfter), under the same lock of its cost row, and the
// movement records the cost. Lines are merged by level before any check (sumLines), so lines
// naming one level must agree on the cost.

// manualCosts is each level's unit cost from an adjustment's lines (absent: no cost given), or
// the lines whose unitCost cannot be taken: on another kind than a receipt, or not what an
// earlier line naming the same level gave (a cost, or none).
func manualCosts(kind stockdb.MovementKind, lines []api.StockAdjustmentLine) (map[Level]int64, []api.FieldError) {
	costs := map[Level]int64{}
	first := map[Level]int{}
	var bad []api.FieldError
	for i, l := range lines {
		field := fmt.Sprintf("lines[%d].unitCost", i)
		if l.UnitCost != nil && kind != stockdb.MovementKindReceipt {
			bad = append(bad, api.FieldError{Field: field, Message: "is only taken on a receipt"})
			continue
		}
		k := Level{l.ProductId, l.LocationId}
		j, seen := first[k]
		if !seen {
			first[k] = i
			if l.UnitCost != nil {
				costs[k] = *l.UnitCost
			}
			continue
		}
		if had, ok := costs[k]; ok != (l.UnitCost != nil) || (ok && had != *l.UnitCost) {
			bad = append(bad, api.FieldError{Field: field, Message: fmt.Sprintf("must be what lines[%d], naming the same level, gives", j)})
		}
	}
	return costs, bad
}

// costOrder is the order in which an adjustment's levels are moved: as given, unless some carry a
// cost; then by product (stable), since each costed receipt locks its product's cost row and two
// requests taking them in opposite orders would wait on each other (the order PO receipts keep).
func costOrder(order []Level, costs map[Level]int64) []Level {
	if len(costs) == 0 {
		return order
	}
	out := slices.Clone(order)
	slices.SortStableFunc(out, func(a, b Level) int { return bytes.Compare(a.Product[:], b.Product[:]) })
	return out
}
