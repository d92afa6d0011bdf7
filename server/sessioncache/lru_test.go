package sessioncache

import (
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
)

func TestLRUBound(t *testing.T) {
	t.Parallel()
	l := newLRU[int](3)
	ids := make([]uuid.UUID, 5)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for i := range 3 {
		l.put(ids[i], i)
	}
	l.get(ids[0]) // 0 is now the most recent: 1 goes first
	l.put(ids[3], 3)
	if _, ok := l.get(ids[1]); ok {
		t.Fatal("the least recently used entry was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if v, ok := l.get(ids[i]); !ok || v != i {
			t.Fatalf("entry %d: %v %v", i, v, ok)
		}
	}
	l.remove(ids[2])
	l.put(ids[4], 4)
	if got := l.len(); got != 3 {
		t.Fatalf("len = %d", got)
	}
	l.clear()
	if got := l.len(); got != 0 || l.head != nil || l.tail != nil {
		t.Fatal("clear left entries")
	}
}

// TestFullCacheMemory fills a cache of DefaultSize sessions and users with rows like real ones
// and reports the heap they take (the README's figure); it fails past 100 MiB.
func TestFullCacheMemory(t *testing.T) {
	c := newCache(Config{Size: DefaultSize})
	c.trusted.Store(true) // no listener: trusted by hand
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	now := time.Now()
	brand := uuid.New()
	for range 2 * DefaultSize { // twice over: every shard full
		u := db.User{
			ID: uuid.New(), Email: "someone-" + uuid.NewString()[:8] + "@example.com", Name: "Some One " + uuid.NewString()[:6],
			PasswordHash: "$2a$12$" + uuid.NewString() + uuid.NewString()[:17], Role: db.UserRoleSTAFF, BrandID: &brand,
			TokenVersion: 1, CreatedAt: now, UpdatedAt: now,
		}
		c.store(c.seq.Load(), uuid.New(), now.Add(time.Hour), u)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := c.Stats()
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("%d sessions and %d users: %.1f MiB of heap", st.Sessions, st.Users, heap)
	if st.Sessions != DefaultSize || st.Users != DefaultSize { // the shards' bounds add up to the size
		t.Fatalf("not full: %+v", st)
	}
	if heap > 100 {
		t.Fatalf("a full cache takes %.1f MiB", heap)
	}
}
