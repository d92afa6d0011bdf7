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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
)

// TestInTxRetriesConflicts: a transaction aborted as a deadlock victim or a serialization failure
// runs again, up to TxAttempts in all; any other failure is not retried.
func TestInTxRetriesConflicts(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := &Server{deps: &kit.Deps{Pool: pool, Queries: db.New(pool), TxAttempts: 3}}
	for _, tc := range []struct {
		name      string
		failures  int   // attempts that fail before one succeeds
		failWith  error // what they fail with
		wantRuns  int
		wantError bool
	}{
		{"deadlock, then success", 2, &pgconn.PgError{Code: "40P01"}, 3, false},
		{"serialization failure, then success", 1, &pgconn.PgError{Code: "40001"}, 2, false},
		{"conflicts outlast the attempts", 5, &pgconn.PgError{Code: "40P01"}, 3, true},
		{"other failures are not retried", 5, &pgconn.PgError{Code: "23505"}, 1, true},
		{"business refusals are not retried", 5, errNotFound, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runs := 0
			err := s.inTx(context.Background(), func(*db.Queries) error {
				runs++
				if runs <= tc.failures {
					return tc.failWith
				}
				return nil
			})
			if runs != tc.wantRuns || (err != nil) != tc.wantError {
				t.Errorf("ran %d times, err %v; want %d runs, error %v", runs, err, tc.wantRuns, tc.wantError)
			}
			if tc.wantError && !errors.Is(err, tc.failWith) {
				t.Errorf("err = %v, want the last failure", err)
			}
		})
	}
}

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
