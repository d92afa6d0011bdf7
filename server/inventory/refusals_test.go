package inventory_test

import (
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/orders"
	"github.com/ecompointer/ecompointer/server/problem"
)

// TestRefusalCodesKnown: every refusal of the stock engine and of orders names a code that
// server/problem's table knows, so its status comes from that table and nowhere else.
func TestRefusalCodesKnown(t *testing.T) {
	t.Parallel()
	for _, r := range []interface {
		error
		Code() api.ProblemCode
	}{
		&inventory.ProductsMissing{}, &inventory.LocationsMissing{}, &inventory.LocationInactive{},
		&inventory.ProductsUnavailable{}, &inventory.InsufficientStock{}, &inventory.StockChanged{},
		&inventory.QuantityLimit{}, &inventory.ReservationMismatch{}, &inventory.ReservationNotActive{},
		&orders.TransitionRefused{}, &orders.CurrencyMismatch{}, &orders.AmountOverflow{},
		&orders.OverFulfilment{}, &orders.UnknownLine{}, &orders.ExternalReferenceTaken{},
	} {
		if !problem.Known(r.Code()) {
			t.Errorf("%T: code %q is not in server/problem's table", r, r.Code())
		}
	}
}
