package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/api"
)

// TestUnavailableClassification: the one mapping from failures to 503 codes.
func TestUnavailableClassification(t *testing.T) {
	t.Parallel()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want api.ProblemCode // "" for a real internal error
	}{
		{"deadlock", context.Background(), fmt.Errorf("tx: %w", &pgconn.PgError{Code: "40P01"}), api.ProblemCodeWriteConflict},
		{"serialization failure", context.Background(), &pgconn.PgError{Code: "40001"}, api.ProblemCodeWriteConflict},
		{"lock_timeout", context.Background(), &pgconn.PgError{Code: "55P03"}, api.ProblemCodeDatabaseTimeout},
		{"statement_timeout", context.Background(), &pgconn.PgError{Code: "57014"}, api.ProblemCodeDatabaseTimeout},
		{"request deadline", context.Background(), fmt.Errorf("query: %w", context.DeadlineExceeded), api.ProblemCodeDatabaseTimeout},
		{"request deadline, odd driver error", expired, errors.New("conn closed"), api.ProblemCodeDatabaseTimeout},
		{"connection refused", context.Background(), &net.OpError{Op: "dial", Err: errors.New("connection refused")}, api.ProblemCodeDatabaseUnavailable},
		{"connection lost", context.Background(), fmt.Errorf("read: %w", io.ErrUnexpectedEOF), api.ProblemCodeDatabaseUnavailable},
		{"server shutting down", context.Background(), &pgconn.PgError{Code: "57P01"}, api.ProblemCodeDatabaseUnavailable},
		{"too many connections", context.Background(), &pgconn.PgError{Code: "53300"}, api.ProblemCodeDatabaseUnavailable},
		{"connection exception", context.Background(), &pgconn.PgError{Code: "08006"}, api.ProblemCodeDatabaseUnavailable},
		{"a bug stays a 500", context.Background(), &pgconn.PgError{Code: "42703"}, ""},
		{"a plain error stays a 500", context.Background(), errors.New("boom"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, ok := unavailable(tc.ctx, tc.err)
			if got := u.code; ok != (tc.want != "") || got != tc.want {
				t.Errorf("unavailable(%v) = %q, %v; want %q", tc.err, got, ok, tc.want)
			}
			if ok && u.retryAfter < 1 {
				t.Errorf("Retry-After %d", u.retryAfter)
			}
		})
	}
}

// TestLogDeduper: one line per key per interval, and the next line counts the ones held back.
func TestLogDeduper(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	d := newLogDeduper(10*time.Second, func() time.Time { return now })
	if ok, n := d.allow("a"); !ok || n != 0 {
		t.Fatalf("first = %v %d", ok, n)
	}
	for range 1000 {
		if ok, _ := d.allow("a"); ok {
			t.Fatal("a repeat within the interval was let through")
		}
	}
	if ok, _ := d.allow("b"); !ok {
		t.Error("another key was held back")
	}
	now = now.Add(10 * time.Second)
	if ok, n := d.allow("a"); !ok || n != 1000 {
		t.Errorf("after the interval = %v suppressed=%d, want true 1000", ok, n)
	}
	if ok, _ := d.allow("a"); ok {
		t.Error("the interval did not restart")
	}
}
