package kit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/problem"
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

func TestCursorsAreTamperEvident(t *testing.T) {
	t.Parallel()
	c := NewCursors([]byte("a secret of at least thirty-two bytes"))
	type pos struct{ N int }
	s, err := c.Seal("list", pos{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got pos
	if err := c.Open("list", s, &got); err != nil || got.N != 7 {
		t.Fatalf("open = %v %+v", err, got)
	}
	for name, bad := range map[string]string{
		"other list": s,
		"flipped":    s[:2] + string(s[2]^1) + s[3:],
		"no mac":     strings.Split(s, ".")[0],
		"empty":      "",
	} {
		list := "list"
		if name == "other list" {
			list = "other"
		}
		if err := c.Open(list, bad, &got); err == nil {
			t.Errorf("%s cursor accepted", name)
		}
	}
	other := NewCursors([]byte("another secret of at least 32 bytes"))
	if err := other.Open("list", s, &got); err == nil {
		t.Error("a cursor of another server's key accepted")
	}
}

// TestUnmet: a conditional change that touched no row is refused not_found or precondition_failed;
// any other outcome is left to the handler, unchanged.
func TestUnmet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		wantCode   api.ProblemCode
		wantDetail string
	}{
		{"a row that is gone", Stale(struct{}{}, pgx.ErrNoRows), api.ProblemCodeNotFound, "No such brand."},
		{"a stale version", Stale(struct{}{}, nil), api.ProblemCodePreconditionFailed, "The brand changed since the version If-Match names; read it again."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var refusal *problem.Error
			if err := Unmet(c.err, "No such brand.", "brand"); !errors.As(err, &refusal) {
				t.Fatalf("answered %v, want a refusal", err)
			}
			if refusal.Code != c.wantCode || refusal.Detail != c.wantDetail {
				t.Errorf("refused %s %q, want %s %q", refusal.Code, refusal.Detail, c.wantCode, c.wantDetail)
			}
		})
	}
	boom := errors.New("boom")
	for _, err := range []error{nil, boom, &ConflictError{Constraint: "x"}} {
		if got := Unmet(err, "No such brand.", "brand"); got != err { //nolint:errorlint // the very value
			t.Errorf("%v became %v", err, got)
		}
	}
}

// TestBadCursorIsARefusal: a list handler returns ErrBadCursor as it is; it reads as a 400 naming
// the cursor.
func TestBadCursorIsARefusal(t *testing.T) {
	t.Parallel()
	var refusal *problem.Error
	if !errors.As(ErrBadCursor, &refusal) {
		t.Fatal("ErrBadCursor is not a refusal")
	}
	p := refusal.Problem(context.Background())
	if p.Status != 400 || p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Field != "query.cursor" {
		t.Errorf("ErrBadCursor reads as %+v", p)
	}
}
