package orders

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// DefaultPendingTTL is how long an order may stay pending before the sweeper cancels it
// (ORDER_PENDING_TTL).
const DefaultPendingTTL = 30 * time.Minute

// ExpiredReason is the cancel reason the sweeper gives.
const ExpiredReason = "expired"

// sweepBatch is how many pending orders one sweep looks at per round.
const sweepBatch = 500

// Sweep cancels every order still pending ttl after it was placed, with reason `expired`, giving
// its holds back, and returns how many it cancelled. Several sweepers (one per instance) may run
// at once, and a confirm may race them: each order is locked with SKIP LOCKED and cancelled only
// while still pending and due, so it is expired once, or confirmed, never both.
func Sweep(ctx context.Context, d *kit.Deps, ttl time.Duration) (int, error) {
	if ttl <= 0 {
		return 0, nil
	}
	reason := ExpiredReason
	cancelled := 0
	for {
		now := d.Now()
		cutoff := now.Add(-ttl)
		var due []db.OrdersDueRow
		err := d.InTx(ctx, func(q *db.Queries) error {
			if err := q.SweeperScopeSet(ctx); err != nil {
				return err
			}
			var err error
			due, err = q.OrdersDue(ctx, db.OrdersDueParams{Cutoff: cutoff, RowLimit: sweepBatch})
			return err
		})
		if err != nil {
			return cancelled, err
		}
		n := 0
		for _, r := range due {
			ok, err := kit.InBrand(ctx, d, r.BrandID, func(q *db.Queries) (bool, error) {
				o, err := q.OrderLockDue(ctx, db.OrderLockDueParams{BrandID: r.BrandID, ID: r.ID, Cutoff: cutoff})
				if err != nil {
					if errors.Is(kit.DBError(err), kit.ErrNotFound) {
						return false, nil // another sweeper or a transition has it, or it moved on
					}
					return false, err
				}
				_, err = cancel(ctx, q, o, &reason, now)
				return err == nil, err
			})
			if err != nil {
				return cancelled, err
			}
			if ok {
				n++
			}
		}
		cancelled += n
		for range n {
			observe.OrderTransition(string(db.OrderStatusCancelled))
		}
		if len(due) < sweepBatch || n == 0 {
			return cancelled, nil
		}
	}
}

// RunSweeper sweeps every interval until ctx ends.
func RunSweeper(ctx context.Context, d *kit.Deps, interval, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := Sweep(ctx, d, ttl)
			observe.SweeperRun("orders", err)
			switch {
			case err != nil && ctx.Err() == nil:
				d.Log.WarnContext(ctx, "pending order sweep failed", slog.Any("error", err))
			case n > 0:
				d.Log.InfoContext(ctx, "pending orders expired", slog.Int("cancelled", n))
			}
		}
	}
}
