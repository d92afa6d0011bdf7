package inventory

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// ReturnLine is one line of a received return that goes back to stock: Quantity units of Product
// at Location, for request line Index, returned for Reason.
type ReturnLine struct {
	Index    int
	Product  uuid.UUID
	Location uuid.UUID
	Quantity int64
	Reason   string
}

// RestockReturn puts a received return's lines back on hand: onHand grows at each line's
// location by its quantity, with one `return` movement per line naming the order (and the return
// as its reference), so that the ledger explains the level and the level's events fire. Nothing
// is held or released: a return brings stock in. It runs in tx (scoped to brand), the order's row
// locked; the locations must be the brand's and active (404, 409 location_inactive), and a level
// past its bound is a 422 quantity_limit, as for any receipt.
func RestockReturn(ctx context.Context, tx db.DBTX, brand, order, ret uuid.UUID, now time.Time, lines []ReturnLine) error {
	var sc Scope
	for _, l := range lines {
		k := Level{l.Product, l.Location}
		sc.Products = append(sc.Products, l.Product)
		sc.Locations = append(sc.Locations, l.Location)
		sc.Create = append(sc.Create, k)
	}
	st, err := Open(ctx, tx, brand, now, sc)
	if err != nil {
		return err
	}
	// Lines at one level add up before the bound is checked (two lines of one product back to
	// one location are one level's change).
	adding := map[Level]int64{}
	var over []api.ProblemLine
	for _, l := range lines {
		k := Level{l.Product, l.Location}
		adding[k] += l.Quantity
		if !st.Fits(k, adding[k]) {
			over = append(over, limitLine(l.Index, k, l.Quantity, st.OnHand(k)))
		}
	}
	if len(over) > 0 {
		return &QuantityLimit{Lines: over}
	}
	reference := "return:" + ret.String()
	for _, l := range lines {
		reason := l.Reason
		if err := st.move(ctx, Level{l.Product, l.Location}, movement{
			kind: stockdb.MovementKindReturn, onHandDelta: l.Quantity, reason: &reason, reference: &reference, order: &order, line: l.Index,
		}); err != nil {
			return err
		}
	}
	return nil
}
