package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// requestDeadline gives every request DBConfig.RequestTimeout to finish its database work,
// waiting for a pooled connection included: past it the work is cut off and the client gets 503
// database_timeout (see unavailable), well before the HTTP server's own write timeout would hang
// up on it with nothing.
func (s *Server) requestDeadline(next http.Handler) http.Handler {
	if s.db.RequestTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.db.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// dbLogInterval is how often one kind of database unavailability is logged at most: an outage
// under load fails thousands of requests a second, and one line per interval (with the count of
// the others) says as much as all of them.
const dbLogInterval = 10 * time.Second

// logDeduper lets one line per key through each interval and counts the rest.
type logDeduper struct {
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex
	seen     map[string]*dedupEntry
}

type dedupEntry struct {
	last       time.Time
	suppressed int
}

func newLogDeduper(interval time.Duration, now func() time.Time) *logDeduper {
	return &logDeduper{interval: interval, now: now, seen: map[string]*dedupEntry{}}
}

// allow reports whether a line for key should be written now and, when it should, how many were
// held back since the last one.
func (d *logDeduper) allow(key string) (ok bool, suppressed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	e := d.seen[key]
	if e == nil {
		d.seen[key] = &dedupEntry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < d.interval {
		e.suppressed++
		return false, 0
	}
	suppressed = e.suppressed
	e.last, e.suppressed = now, 0
	return true, suppressed
}
