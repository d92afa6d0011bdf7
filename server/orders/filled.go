package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
)

// The stock engine fills backorders wherever stock arrives or comes free (inventory, fill), in
// the transaction of whatever brought it: a receipt, a return, an adjustment, a cancellation, the
// reservation sweeper. The orders it fills change as the API shows them, so it tells this package,
// which gives each its due as any other change of an order does.
func init() { inventory.OnOrdersFilled(backorderFilled) }

// backorderFilled bumps the version of the orders a fill at one level gave stock to (their ETag
// changes, so an If-Match read before the fill fails), records the fill in each one's history and
// tells its order.backorder_filled with the order as it now is. It waits for an order a transition
// holds (OrdersBackorderFilled says what that costs).
func backorderFilled(ctx context.Context, tx db.DBTX, brand uuid.UUID, now time.Time, ids []uuid.UUID) error {
	q := ordersdb.New(tx)
	rows, err := q.OrdersBackorderFilled(ctx, ordersdb.OrdersBackorderFilledParams{BrandID: brand, Ids: ids, Now: now})
	if err != nil {
		return err
	}
	if len(rows) != len(ids) {
		return fmt.Errorf("orders: %d orders filled, %d found", len(ids), len(rows))
	}
	history := make([]uuid.UUID, len(ids))
	for i := range history {
		history[i] = uuid.Must(uuid.NewV7())
	}
	if err := q.OrderBackorderFillsAdd(kit.SendWithCommit(ctx), ordersdb.OrderBackorderFillsAddParams{
		BrandID: brand, OrderIds: ids, Ids: history, ActorID: kit.UserID(ctx), RequestID: kit.RequestID(ctx), Now: now,
	}); err != nil {
		return err
	}
	lines, holds, err := contents(ctx, tx, brand, ids...)
	if err != nil {
		return err
	}
	es := make([]events.Event, len(rows))
	for i, o := range rows {
		order, err := apiOrder(o, lines, holds)
		if err != nil {
			return err
		}
		es[i] = orderEvent(api.EventTypeOrderBackorderFilled, o, order)
	}
	return events.Emit(ctx, db.New(tx), brand, now, es...)
}
