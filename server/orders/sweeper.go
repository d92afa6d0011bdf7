package orders

import (
	"context"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// DefaultPendingTTL is how long an order may stay pending before the sweeper cancels it
// (ORDER_PENDING_TTL).
const DefaultPendingTTL = 30 * time.Minute

// ExpiredReason is the cancel reason the sweeper gives.
const ExpiredReason = "expired"

// sweeper cancels the orders still pending ttl after they were placed, with reason `expired`,
// giving their holds back. Several sweepers (one per instance) may run at once, and a confirm may
// race them: each order is locked with SKIP LOCKED and cancelled only while still pending and due,
// so it is expired once, or confirmed, never both.
func sweeper(ttl time.Duration) kit.Sweeper {
	reason := ExpiredReason
	return kit.Sweeper{
		Name:  "orders",
		Batch: 500,
		List: func(ctx context.Context, tx db.DBTX, now time.Time, limit int32) ([]kit.Due, error) {
			rows, err := ordersdb.New(tx).OrdersDue(ctx, ordersdb.OrdersDueParams{Cutoff: now.Add(-ttl), RowLimit: limit})
			due := make([]kit.Due, len(rows))
			for i, r := range rows {
				due[i] = kit.Due{Brand: r.BrandID, ID: r.ID}
			}
			return due, err
		},
		Handle: func(ctx context.Context, tx db.DBTX, due kit.Due, now time.Time) (bool, error) {
			o, err := ordersdb.New(tx).OrderLockDue(ctx, ordersdb.OrderLockDueParams{BrandID: due.Brand, ID: due.ID, Cutoff: now.Add(-ttl)})
			if err != nil {
				if kit.Skipped(err) {
					return false, nil // another sweeper or a transition has it, or it moved on
				}
				return false, err
			}
			_, err = cancel(ctx, tx, o, &reason, now)
			return err == nil, err
		},
		Handled: func(n int) {
			for range n {
				observe.OrderTransition(string(ordersdb.OrderStatusCancelled))
			}
		},
	}
}

// Sweep cancels every order still pending ttl after it was placed (0: none) and says how many.
func Sweep(ctx context.Context, d *kit.Deps, ttl time.Duration) (int, error) {
	if ttl <= 0 {
		return 0, nil
	}
	return sweeper(ttl).Run(ctx, d)
}

// RunSweeper sweeps every interval until ctx ends (ttl 0: never).
func RunSweeper(ctx context.Context, d *kit.Deps, interval, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	sweeper(ttl).Every(ctx, d, interval)
}
