package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// DefaultRetention is how long events stay in the feed (EVENTS_RETENTION).
const DefaultRetention = 30 * 24 * time.Hour

// pruneBatch bounds one prune transaction: the feed's readers and writers never wait behind a
// delete of a month's events at once.
const pruneBatch = 5000

// Prune deletes the events of every brand that occurred more than retention ago, batch after
// batch, and says how many. Several instances may prune at once: a row is deleted once.
func Prune(ctx context.Context, d *kit.Deps, retention time.Duration) (int64, error) {
	cutoff := d.Now().Add(-retention)
	var total int64
	for {
		n, err := kit.InTxV(ctx, d, func(q *db.Queries) (int64, error) {
			if err := q.SweeperScopeSet(ctx); err != nil {
				return 0, err
			}
			return q.EventPrune(ctx, db.EventPruneParams{Cutoff: cutoff, RowLimit: pruneBatch})
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// RunPruner prunes every interval until ctx ends.
func RunPruner(ctx context.Context, d *kit.Deps, interval, retention time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := Prune(ctx, d, retention)
			observe.SweeperRun("events", err)
			switch {
			case err != nil && ctx.Err() == nil:
				d.Log.WarnContext(ctx, "event prune failed", slog.Any("error", err))
			case n > 0:
				d.Log.InfoContext(ctx, "pruned events", slog.Int64("count", n))
			}
		}
	}
}
