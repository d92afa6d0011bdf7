package sessioncache

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// TestKeyNotification: the payload schema/000014's trigger sends ('k' and the digest's first 16
// bytes in hex) drops that key alone, not the whole cache (which an unknown payload would do,
// hiding a wrong payload behind a refusal that happens anyway); a key's digest must match in full
// and its expiry is checked on every hit.
func TestKeyNotification(t *testing.T) {
	c := newCache(Config{})
	c.mono = func() time.Duration { return 0 }
	c.trusted.Store(true)
	wall := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	expires := wall.Add(time.Hour)
	user := db.User{ID: uuid.New(), TokenVersion: 1}
	digest := func(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }
	kept, dropped := digest("kept"), digest("dropped")
	for _, d := range [][]byte{kept, dropped} {
		c.storeKey(c.seq.Load(), db.ApiKey{ID: uuid.New(), SecretHash: d, CreatedBy: user.ID, ExpiresAt: &expires}, user)
	}
	c.store(c.seq.Load(), uuid.New(), expires, user)

	c.handle(&pgconn.Notification{Channel: Channel, Payload: "k" + hex.EncodeToString(dropped[:16])})
	if s := c.Stats(); s.Keys != 1 || s.Sessions != 1 || s.Users != 1 || s.Flushes != 0 || s.Invalidations != 1 {
		t.Fatalf("after one key's notification: %+v", s)
	}
	if _, _, hit := c.lookupKey(dropped, wall); hit {
		t.Fatal("the notified key is still answered from memory")
	}
	if _, _, hit := c.lookupKey(kept, wall); !hit {
		t.Fatal("the other key was dropped too")
	}
	// Same slot, another digest: never answered from the slot's entry.
	forged := append(append([]byte{}, kept[:16]...), make([]byte, 16)...)
	if _, _, hit := c.lookupKey(forged, wall); hit {
		t.Fatal("a digest matching only the slot was answered from memory")
	}
	if _, _, hit := c.lookupKey(kept, expires); hit {
		t.Fatal("an expired key was answered from memory")
	}
}
