package kit

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDBErrorTranslatesRacedForeignKeys: a foreign-key violation on the referring side (a write
// whose product or location was deleted meanwhile) is the missing parent's ErrNotFound, named,
// never an unexpected failure (a 500).
func TestDBErrorTranslatesRacedForeignKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		constraint, parent string
	}{
		{"stock_levels_brand_id_product_id_fkey", "product"},
		{"order_lines_brand_id_product_id_fkey", "product"},
		{"stock_levels_brand_id_location_id_fkey", "location"},
		{"reservation_allocations_brand_id_reservation_id_fkey", "reservation"},
		{"some_future_fkey", "resource"},
	} {
		t.Run(tc.constraint, func(t *testing.T) {
			t.Parallel()
			err := DBError(&pgconn.PgError{Code: "23503", ConstraintName: tc.constraint})
			var gone *GoneError
			if !errors.As(err, &gone) || gone.Parent != tc.parent || gone.Constraint != tc.constraint {
				t.Fatalf("DBError(23503 %s) = %#v, want a GoneError naming %q", tc.constraint, err, tc.parent)
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("a GoneError is not ErrNotFound")
			}
		})
	}
	if err := DBError(&pgconn.PgError{Code: "23505", ConstraintName: "products_sku_key"}); !IsConflict(err, "products_sku_key") {
		t.Errorf("a unique violation is no longer a conflict: %v", err)
	}
}
