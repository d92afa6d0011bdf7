package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// redisURL is the machine's Redis (see TOOLCHAIN.md); .ci/run starts it when it is down.
const redisURL = "redis://127.0.0.1:6379/0"

// TestSharedRateLimit: two limiters on one Redis behave as one limit, as two instances must.
func TestSharedRateLimit(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	a, closeA, err := newRateLimiter(3, redisURL, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closeA() }()
	b, closeB, err := newRateLimiter(3, redisURL, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closeB() }()
	ip := "test-" + uuid.NewString() // a fresh client, whatever earlier runs left in Redis
	for i, l := range []rateLimiter{a, b, a} {
		if ok, _ := l.allow(ip); !ok {
			t.Fatalf("request %d refused within the budget of 3", i+1)
		}
	}
	ok, retry := b.allow(ip)
	if ok {
		t.Fatal("a 4th request over two instances was allowed: the limit is not shared")
	}
	if retry < 1 || retry > 60 {
		t.Errorf("Retry-After %d, want 1..60", retry)
	}
	if sl := a.(*sharedLimiter); !sl.downAt.IsZero() {
		t.Errorf("Redis answered, yet the limiter thinks it is down")
	}
}

// TestSharedRateLimitRedisDown: with Redis unreachable every request is still answered, by the
// in-memory limit, and the outage is logged once however many requests meet it.
func TestSharedRateLimitRedisDown(t *testing.T) {
	t.Parallel()
	var buf syncLog
	l, closeL, err := newRateLimiter(2, "redis://127.0.0.1:1/0", time.Now, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closeL() }()
	sl := l.(*sharedLimiter)
	for i := range 2 {
		if ok, _ := l.allow("10.0.0.1"); !ok {
			t.Fatalf("request %d refused: the in-memory fallback should allow 2", i+1)
		}
		sl.mu.Lock()
		sl.retryAt = time.Time{} // try Redis again at once: the log must still say it once
		sl.mu.Unlock()
	}
	if ok, _ := l.allow("10.0.0.1"); ok {
		t.Error("the in-memory fallback did not limit")
	}
	if n := strings.Count(buf.String(), "Redis is unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, buf.String())
	}
	if _, _, err := newRateLimiter(2, "http://nope", time.Now, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a non-redis URL was accepted")
	}
}

type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
