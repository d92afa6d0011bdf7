package inventory

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// sweepBatch is how many expired holds one sweep looks at per round.
const sweepBatch = 500

// Sweep releases the holds of every reservation that expired by now, with `release` movements,
// and returns how many it released. Several sweepers (one per instance) may run at once: each
// hold is locked with SKIP LOCKED and released only while still active, so none is released twice.
func Sweep(ctx context.Context, d *kit.Deps) (int, error) {
	released := 0
	for {
		now := d.Now()
		var due []db.ReservationsDueRow
		err := d.InTx(ctx, func(q *db.Queries) error {
			if err := q.SweeperScopeSet(ctx); err != nil {
				return err
			}
			var err error
			due, err = q.ReservationsDue(ctx, db.ReservationsDueParams{Now: now, RowLimit: sweepBatch})
			return err
		})
		if err != nil {
			return released, err
		}
		n := 0
		for _, r := range due {
			ok, err := kit.InBrand(ctx, d, r.BrandID, func(q *db.Queries) (bool, error) {
				if _, err := q.ReservationLockDue(ctx, db.ReservationLockDueParams{BrandID: r.BrandID, ID: r.ID, Now: now}); err != nil {
					if errors.Is(kit.DBError(err), kit.ErrNotFound) {
						return false, nil // another sweeper or a release has it
					}
					return false, err
				}
				id := r.ID
				st, err := Open(ctx, q, r.BrandID, now, Scope{Reservation: &id})
				if err != nil {
					return false, err
				}
				return true, st.Release(id, db.ReservationStatusExpired)
			})
			if err != nil {
				return released, err
			}
			if ok {
				n++
			}
		}
		released += n
		observe.Reservations(observe.ReservationExpired, n)
		if len(due) < sweepBatch || n == 0 {
			return released, nil
		}
	}
}

// RunSweeper sweeps every interval until ctx ends.
func RunSweeper(ctx context.Context, d *kit.Deps, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := Sweep(ctx, d)
			observe.SweeperRun("reservations", err)
			switch {
			case err != nil && ctx.Err() == nil:
				d.Log.WarnContext(ctx, "reservation sweep failed", slog.Any("error", err))
			case n > 0:
				d.Log.InfoContext(ctx, "reservations expired", slog.Int("released", n))
			}
		}
	}
}
