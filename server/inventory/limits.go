package inventory

import (
	"fmt"
	"strconv"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/kit"
)

// Bounds on stock quantities (openapi.yaml: Quantity, ReservationRequestLine, OrderRequestLine).
const (
	// MaxLevelQuantity bounds a level's onHand (and so its reserved, never above onHand): exact
	// in every JSON client, JavaScript's 2^53 included, and far enough from int64's end that a
	// level plus any request's merged delta (at most 1,000 lines of 10^9) cannot overflow.
	MaxLevelQuantity = 1_000_000_000_000
	// MaxLineQuantity bounds one line of a reservation or an order once the lines naming the
	// same product (and location) are merged; the spec bounds each request line the same.
	MaxLineQuantity = 100_000
	// LevelBoundConstraint is the schema's CHECK of MaxLevelQuantity (schema/000010), the last
	// line of defence behind Fits: its violation is answered as QuantityLimit, never a 500.
	LevelBoundConstraint = "stock_levels_bound"
)

// QuantityLimit: lines that would take a level past MaxLevelQuantity (422 quantity_limit).
type QuantityLimit struct{ Lines []api.ProblemLine }

func (e *QuantityLimit) Error() string { return "quantity limit" }

// Code is the refusal's problem code.
func (e *QuantityLimit) Code() api.ProblemCode { return api.ProblemCodeQuantityLimit }

// Fits reports whether delta more units fit at the locked level l without passing
// MaxLevelQuantity (written so that it cannot overflow whatever delta is).
func (s *Stock) Fits(l Level, delta int64) bool {
	return delta <= 0 || s.OnHand(l) <= MaxLevelQuantity-delta
}

func limitLine(index int, l Level, requested, onHand int64) api.ProblemLine {
	loc := l.Location
	return api.ProblemLine{Index: index, ProductId: l.Product, LocationId: &loc, Requested: &requested, OnHand: &onHand}
}

// boundViolation translates the schema's CHECK of the level bound, met by a movement of line
// index at l, to QuantityLimit; any other error is returned as it is.
func boundViolation(err error, index int, l Level, m movement, onHand int64) error {
	if kit.CheckViolation(err, LevelBoundConstraint) {
		return &QuantityLimit{Lines: []api.ProblemLine{limitLine(index, l, max(m.onHandDelta, m.reservedDelta), onHand)}}
	}
	return err
}

// LineOverCap is the field error of the first merged line (orders' and reservations' alike)
// past MaxLineQuantity, named by the first request line it merges; nil when every line fits.
func LineOverCap(lines []HoldLine) *api.FieldError {
	for _, l := range lines {
		if l.Quantity > MaxLineQuantity {
			return &api.FieldError{
				Field:   "lines[" + strconv.Itoa(l.Index) + "].quantity",
				Message: fmt.Sprintf("lines naming the same product add up to more than %d", MaxLineQuantity),
			}
		}
	}
	return nil
}

// signErrors names each adjustment line whose delta has the wrong sign for kind: a receipt or a
// return brings stock in (positive); an adjustment goes either way (the spec makes 0 a 400).
func signErrors(kind stockdb.MovementKind, lines []api.StockAdjustmentLine) []api.FieldError {
	if kind != stockdb.MovementKindReceipt && kind != stockdb.MovementKindReturn {
		return nil
	}
	var bad []api.FieldError
	for i, l := range lines {
		if l.Delta < 0 {
			bad = append(bad, api.FieldError{Field: fmt.Sprintf("lines[%d].delta", i), Message: "must be positive for a " + string(kind)})
		}
	}
	return bad
}
