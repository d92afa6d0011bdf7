package servertest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// PlanOf runs list (one sqlc query on the DBTX it is given) in brand's scope, planned for its own
// parameters as kit.ListInBrand runs a list, and answers the plan PostgreSQL chose for it: the
// plan of the very statement sqlc generated, with the handler's parameters.
func (e *Env) PlanOf(t testing.TB, brand uuid.UUID, list func(ctx context.Context, tx db.DBTX) error) string {
	t.Helper()
	ctx := context.Background()
	x := &explainer{}
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		x.tx = tx
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		return list(ctx, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	return x.plan
}

// explainer is a db.DBTX that EXPLAINs each query before running it.
type explainer struct {
	tx   pgx.Tx
	plan string
}

func (e *explainer) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return e.tx.Exec(ctx, sql, args...)
}

func (e *explainer) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := e.tx.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	e.plan = strings.Join(lines, "\n")
	return e.tx.Query(ctx, sql, args...)
}

func (e *explainer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return e.tx.QueryRow(ctx, sql, args...)
}
