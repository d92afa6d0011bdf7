package sessioncache

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// TestHeartbeatBound proves the stalled-listener bound with an injected monotonic clock: the
// cache answers from memory only while the newest heartbeat received was sent less than
// heartbeatLate ago, so a change committed at any moment is never answered from memory more than
// heartbeatLate (750 ms, under the promised 1 s) after it, however late the listener runs.
func TestHeartbeatBound(t *testing.T) {
	if heartbeatLate >= time.Second {
		t.Fatalf("heartbeatLate %s breaks the 1 s promise", heartbeatLate)
	}
	var now time.Duration
	c := newCache(Config{})
	c.mono = func() time.Duration { return now }
	c.trusted.Store(true) // as the listener does once it listens
	sessionID, userID := uuid.New(), uuid.New()
	wall := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c.store(c.seq.Load(), sessionID, wall.Add(time.Hour), db.User{ID: userID, TokenVersion: 1})
	steps := []struct {
		name string
		// at is the clock; beat, when not negative, is a heartbeat received then, sent at beat.
		at, beat time.Duration
		hit      bool
	}{
		{"fresh heartbeat", 0, 0, true},
		{"just before late", heartbeatLate - time.Nanosecond, -1, true},
		{"late: nothing from memory", heartbeatLate, -1, false},
		{"long stalled", 10 * time.Second, -1, false},
		// A backlog arrives: a heartbeat sent at 9.5 s is received at 10 s, so every change
		// committed before 9.5 s has been applied; the cache answers until 9.5 s + late.
		{"backlog delivered", 10 * time.Second, 9500 * time.Millisecond, true},
		{"older heartbeat changes nothing", 10 * time.Second, 2 * time.Second, true},
		{"late again", 9500*time.Millisecond + heartbeatLate, -1, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			now = st.at
			if st.beat >= 0 {
				c.handle(&pgconn.Notification{Channel: c.beatChannel, Payload: strconv.FormatInt(int64(st.beat), 10)})
			}
			_, hit := c.lookup(sessionID, userID, 1, wall)
			if hit != st.hit {
				t.Fatalf("at %s: answered from memory = %v, want %v", st.at, hit, st.hit)
			}
			if got := c.Stats().Trusted; got != st.hit {
				t.Fatalf("at %s: Stats().Trusted = %v, want %v", st.at, got, st.hit)
			}
		})
	}
}
