package events

import (
	"context"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
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
	kit.Periodically(ctx, d, "events", interval, func(ctx context.Context) (int64, error) { return Prune(ctx, d, retention) })
}
