package kit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/observe"
)

// Due is one row a sweeper found due: which brand it belongs to, and its id.
type Due struct {
	Brand uuid.UUID
	ID    uuid.UUID
}

// Sweeper is a background job over brand-scoped rows that fall due (expired reservations,
// pending orders past their time), safe to run on every instance at once.
type Sweeper struct {
	// Name labels the sweeper in logs and metrics.
	Name string
	// Batch is how many due rows one round lists.
	Batch int32
	// List lists up to limit due rows across brands, oldest first. It runs in a transaction that
	// said it is the sweeper (a policy then shows it the due rows' ids across brands).
	List func(ctx context.Context, tx db.DBTX, now time.Time, limit int32) ([]Due, error)
	// Handle deals with one due row inside its brand's scope: it locks the row (SKIP LOCKED, and
	// only while still due) and answers false, having done nothing, when another sweeper or a
	// request has it or it moved on. That lock is why no row is handled twice.
	// List and Handle get the transaction itself: the stock engine builds its own queries on it.
	Handle func(ctx context.Context, tx db.DBTX, due Due, now time.Time) (bool, error)
	// Handled, when set, is told after each round how many rows it handled (committed).
	Handled func(n int)
}

// Run handles every row due by now and returns how many it handled, round after round until a
// round lists fewer than Batch or handles none.
func (s Sweeper) Run(ctx context.Context, d *Deps) (int, error) {
	handled := 0
	for {
		now := d.Now()
		var due []Due
		err := d.inTxDB(ctx, func(tx db.DBTX) error {
			if err := db.New(tx).SweeperScopeSet(ctx); err != nil {
				return err
			}
			var err error
			due, err = s.List(ctx, tx, now, s.Batch)
			return err
		})
		if err != nil {
			return handled, err
		}
		n := 0
		for _, r := range due {
			ok, err := InBrandDB(ctx, d, r.Brand, func(tx db.DBTX) (bool, error) {
				return s.Handle(ctx, tx, r, now)
			})
			if err != nil {
				return handled, err
			}
			if ok {
				n++
			}
		}
		handled += n
		if s.Handled != nil && n > 0 {
			s.Handled(n)
		}
		if len(due) < int(s.Batch) || n == 0 {
			return handled, nil
		}
	}
}

// Every runs the sweeper every interval until ctx ends (Periodically).
func (s Sweeper) Every(ctx context.Context, d *Deps, interval time.Duration) {
	Periodically(ctx, d, s.Name, interval, func(ctx context.Context) (int64, error) {
		n, err := s.Run(ctx, d)
		return int64(n), err
	})
}

// Periodically runs job every interval until ctx ends: the one loop of every background sweeper
// and pruner, which logs what each run did (a failure, or how many rows it handled) and counts
// the runs by name (ecompointer_sweeper_runs_total).
func Periodically(ctx context.Context, d *Deps, name string, interval time.Duration, job func(context.Context) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := job(ctx)
			observe.SweeperRun(name, err)
			switch {
			case err != nil && ctx.Err() == nil:
				d.Log.WarnContext(ctx, "sweep failed", slog.String("sweeper", name), slog.Any("error", err))
			case n > 0:
				d.Log.InfoContext(ctx, "swept", slog.String("sweeper", name), slog.Int64("handled", n))
			}
		}
	}
}

// Skipped reports whether err says a sweeper's lock found nothing: the row is another's now.
func Skipped(err error) bool { return errors.Is(DBError(err), ErrNotFound) }
