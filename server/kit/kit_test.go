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

// TestUnmet: a conditional change that touched no row answers the operation's 404 or 412; any
// other outcome is left to the handler.
func TestUnmet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	answers := Answers[api.UpdateBrandResponseObject]{
		NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.UpdateBrandResponseObject {
			return api.UpdateBrand404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
		},
		PreconditionFailed: func(r api.PreconditionFailedApplicationProblemPlusJSONResponse) api.UpdateBrandResponseObject {
			return api.UpdateBrand412ApplicationProblemPlusJSONResponse{PreconditionFailedApplicationProblemPlusJSONResponse: r}
		},
	}
	unmet := func(err error) (api.UpdateBrandResponseObject, bool) {
		return answers.Unmet(ctx, err, "No such brand.", "brand")
	}
	if resp, ok := unmet(Stale(struct{}{}, pgx.ErrNoRows)); !ok {
		t.Error("a row that is gone: not mapped")
	} else if nf, is := resp.(api.UpdateBrand404ApplicationProblemPlusJSONResponse); !is || nf.Body.Detail == nil || *nf.Body.Detail != "No such brand." {
		t.Errorf("a row that is gone answered %#v, want the 404", resp)
	}
	if resp, ok := unmet(Stale(struct{}{}, nil)); !ok {
		t.Error("a stale version: not mapped")
	} else if _, is := resp.(api.UpdateBrand412ApplicationProblemPlusJSONResponse); !is {
		t.Errorf("a stale version answered %#v, want the 412", resp)
	}
	for _, err := range []error{nil, errors.New("boom"), &ConflictError{Constraint: "x"}} {
		if resp, ok := unmet(err); ok || resp != nil {
			t.Errorf("%v mapped to %#v", err, resp)
		}
	}
}

// TestAnswersProblem: a problem answers with the status server/problem's table gives its code,
// wrapped in the operation's own response; a status the operation does not answer is not mapped.
func TestAnswersProblem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	answers := Answers[api.CreateStockAdjustmentResponseObject]{
		NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.CreateStockAdjustmentResponseObject {
			return api.CreateStockAdjustment404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
		},
		Conflict: func(r api.ConflictApplicationProblemPlusJSONResponse) api.CreateStockAdjustmentResponseObject {
			return api.CreateStockAdjustment409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: r}
		},
		Unprocessable: func(r api.UnprocessableApplicationProblemPlusJSONResponse) api.CreateStockAdjustmentResponseObject {
			return api.CreateStockAdjustment422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: r}
		},
	}
	resp, ok := answers.Problem(problem.New(ctx, api.ProblemCodeStockChanged, "changed"))
	if _, is := resp.(api.CreateStockAdjustment409ApplicationProblemPlusJSONResponse); !ok || !is {
		t.Errorf("stock_changed answered %#v, %v; want the 409", resp, ok)
	}
	resp, ok = answers.Problem(problem.New(ctx, api.ProblemCodeInsufficientStock, "short"))
	if _, is := resp.(api.CreateStockAdjustment422ApplicationProblemPlusJSONResponse); !ok || !is {
		t.Errorf("insufficient_stock answered %#v, %v; want the 422", resp, ok)
	}
	if resp, ok := answers.Problem(problem.New(ctx, api.ProblemCodePreconditionFailed, "stale")); ok || resp != nil {
		t.Errorf("a 412 the operation does not answer mapped to %#v", resp)
	}
}
