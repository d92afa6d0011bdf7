package purchasing

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTotalsCacheBound: asOf takes any instant, each its own key; the cache never holds more than
// maxCachedTotals entries, and keys differing only in a filter never share an entry (a location
// filter of the nil UUID is not "every location").
func TestTotalsCacheBound(t *testing.T) {
	t.Parallel()
	c := newTotalsCache()
	brand := uuid.New()
	for i := range maxCachedTotals + 100 {
		c.put(totalsKey{brand: brand, hasAsOf: true, asOf: int64(i)}, totalsEntry{horizon: int64(i)})
	}
	if got := len(c.entries); got != maxCachedTotals {
		t.Errorf("%d entries, want %d", got, maxCachedTotals)
	}
	all, nilLoc := totalsKey{brand: brand}, totalsKey{brand: brand, byLocation: true}
	c.put(all, totalsEntry{horizon: 1, rows: []totalRow{{value: "5"}}, at: time.Now()})
	if _, ok := c.get(nilLoc); ok {
		t.Error("the nil location's key found every location's totals")
	}
	if e, ok := c.get(all); !ok || e.horizon != 1 || len(e.rows) != 1 {
		t.Errorf("every location's totals: %+v %v", e, ok)
	}
	// Past maxTotalsAge an entry no longer answers (the events that would invalidate it may have
	// been pruned).
	c.put(all, totalsEntry{horizon: 1, at: time.Now().Add(-maxTotalsAge - time.Second)})
	if _, ok := c.get(all); ok {
		t.Error("an entry older than maxTotalsAge answered")
	}
}
