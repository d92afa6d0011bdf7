package purchasing

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
)

// The valuation's totals sum every level of the brand with its product's cost and currency
// (200,000 levels for 100,000 products at two locations: about a second of a core, several on a
// loaded machine; asOf replays the whole ledger). The lines are a keyset page and stay cheap, so
// only the totals are cached here, by a version the database already keeps: the events outbox.
//
// Every change a valuation reads writes an event in its own transaction (a stock movement, and so
// every change of onHand and every costed receipt, which is a movement; a product's currency, a
// product created or deleted), tagged with the transaction's id (schema 000015). A computation
// first takes events_horizon(): every transaction below it has ended, so the totals' statement,
// run after it, sees all of their changes. Later, the totals are still exact unless some event of
// the brand has a transaction id at or above that horizon (ValuationChangedSince: one index
// probe); a transaction still in progress shows nothing yet and has changed nothing yet either.
// Any event counts, whatever its type: a spurious miss costs a recomputation, a missed change
// would be a wrong answer.
//
// Why not a running total kept by the engine: a row per brand and location that every movement
// updates serializes the brand's whole order flow on it, and a costed receipt revalues the
// product's stock at every location, which would have to lock levels other receipts and orders
// are changing. Why not only indexes: with covering indexes the sum stays a 200,000-row join
// and aggregate (measured: 0.7 s against 1.1 s on the loaded machine), not an answer in
// milliseconds. The cache costs the write path nothing. Its limit: a brand whose stock changes
// between two valuations pays the full sum again (the totals of a busy brand are recomputed on
// every call), which the README states.

// totalsKey is one cached computation: a brand's totals, over one location or all, now or as of
// a time (Unix nanoseconds).
type totalsKey struct {
	brand, location uuid.UUID
	byLocation      bool
	hasAsOf         bool
	asOf            int64
}

type totalsEntry struct {
	horizon int64
	rows    []totalRow
	// at is when the entry was computed (this process's monotonic clock).
	at time.Time
}

// maxTotalsAge is how long an entry may answer: the events that would invalidate it must still be
// there, and the pruner deletes events older than EVENTS_RETENTION (an hour at least, config.go).
// An event that invalidates an entry comes from a transaction that committed after the entry's
// horizon was taken, so it is younger than the entry by at most that transaction's own length.
const maxTotalsAge = 10 * time.Minute

// maxCachedTotals bounds the cache (asOf takes any instant: each is its own key); past it, an
// arbitrary entry makes room. An entry is a handful of rows per location and currency.
const maxCachedTotals = 4096

// totalsCache keeps the last totals computed per key. Concurrent misses each compute: sharing
// one computation would hand a caller totals whose statement may have started before that
// caller's own change committed (it must read its writes).
type totalsCache struct {
	mu      sync.Mutex
	entries map[totalsKey]totalsEntry
}

func newTotalsCache() *totalsCache {
	return &totalsCache{entries: map[totalsKey]totalsEntry{}}
}

func (c *totalsCache) get(k totalsKey) (totalsEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok && time.Since(e.at) > maxTotalsAge {
		delete(c.entries, k)
		return totalsEntry{}, false
	}
	return e, ok
}

func (c *totalsCache) put(k totalsKey, e totalsEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= maxCachedTotals {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = e
}

// totals answers the totals for k: the cached ones when nothing of the brand changed since they
// were computed, else compute's (run with the horizon taken first, in its own statement).
func (c *totalsCache) totals(ctx context.Context, d *kit.Deps, k totalsKey, compute func(ctx context.Context) ([]totalRow, error)) ([]totalRow, error) {
	if e, ok := c.get(k); ok {
		changed, err := kit.ReadInBrand(ctx, d, k.brand, func(q *db.Queries) (bool, error) {
			return q.ValuationChangedSince(ctx, db.ValuationChangedSinceParams{BrandID: k.brand, Horizon: e.horizon})
		})
		if err != nil {
			return nil, err
		}
		if !changed {
			return e.rows, nil
		}
	}
	horizon, err := kit.ReadInBrand(ctx, d, k.brand, func(q *db.Queries) (int64, error) { return q.EventsHorizon(ctx) })
	if err != nil {
		return nil, err
	}
	rows, err := compute(ctx)
	if err != nil {
		return nil, err
	}
	// Two computations may finish out of order: an entry with an older horizon is still exact,
	// only invalidated sooner.
	c.put(k, totalsEntry{horizon: horizon, rows: rows, at: time.Now()})
	return rows, nil
}
