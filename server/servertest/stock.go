package servertest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// Helpers for the stock tests (server/inventory, server/orders): the engine's invariants, read as
// the application role inside a brand's scope.

// StockMismatches runs both of the stock engine's invariant queries (the ledger sums to each
// level; each level's reserved is the sum of its live holds) for brand.
func (e *Env) StockMismatches(t testing.TB, brand uuid.UUID) []inventory.Mismatch {
	t.Helper()
	ctx := context.Background()
	var out []inventory.Mismatch
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		var err error
		out, err = inventory.Mismatches(ctx, tx, brand)
		return err
	})
	if err != nil {
		t.Fatalf("stock invariants of brand %s: %v", brand, err)
	}
	return out
}

// AssertStock fails the test for every level of brand that breaks a stock invariant, naming it.
func (e *Env) AssertStock(t testing.TB, brand uuid.UUID) {
	t.Helper()
	for _, m := range e.StockMismatches(t, brand) {
		t.Errorf("stock invariant broken: %s", m)
	}
}
