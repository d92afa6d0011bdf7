package kit

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
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
	d := &Deps{Pool: pool, Queries: db.New(pool), TxAttempts: 3}
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
		{"business refusals are not retried", 5, ErrNotFound, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runs := 0
			err := d.InTx(context.Background(), func(*db.Queries) error {
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
