package inventory

import (
	"context"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// sweeper releases the holds of reservations that expired, with `release` movements. Several
// (one per instance) may run at once: each hold is locked with SKIP LOCKED and released only
// while still active, so none is released twice.
var sweeper = kit.Sweeper{
	Name:  "reservations",
	Batch: 500,
	List: func(ctx context.Context, tx db.DBTX, now time.Time, limit int32) ([]kit.Due, error) {
		rows, err := stockdb.New(tx).ReservationsDue(ctx, stockdb.ReservationsDueParams{Now: now, RowLimit: limit})
		due := make([]kit.Due, len(rows))
		for i, r := range rows {
			due[i] = kit.Due{Brand: r.BrandID, ID: r.ID}
		}
		return due, err
	},
	Handle: func(ctx context.Context, tx db.DBTX, due kit.Due, now time.Time) (bool, error) {
		if _, err := stockdb.New(tx).ReservationLockDue(ctx, stockdb.ReservationLockDueParams{BrandID: due.Brand, ID: due.ID, Now: now}); err != nil {
			if kit.Skipped(err) {
				return false, nil // another sweeper or a release has it
			}
			return false, err
		}
		st, err := Open(ctx, tx, due.Brand, now, Scope{Reservation: &due.ID})
		if err != nil {
			return false, err
		}
		return true, st.Release(ctx, due.ID, stockdb.ReservationStatusExpired)
	},
	Handled: func(n int) { observe.Reservations(observe.ReservationExpired, n) },
}

// Sweep releases every reservation that expired by now once, and says how many.
func Sweep(ctx context.Context, d *kit.Deps) (int, error) { return sweeper.Run(ctx, d) }

// RunSweeper sweeps every interval until ctx ends.
func RunSweeper(ctx context.Context, d *kit.Deps, interval time.Duration) {
	sweeper.Every(ctx, d, interval)
}
