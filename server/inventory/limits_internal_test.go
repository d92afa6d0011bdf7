package inventory

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// TestBoundViolation: the schema's level-bound CHECK, however wrapped, is answered as
// QuantityLimit naming the movement's line; other errors (the reserved ≤ onHand CHECK included)
// pass through untouched.
func TestBoundViolation(t *testing.T) {
	t.Parallel()
	l := Level{uuid.New(), uuid.New()}
	m := movement{kind: stockdb.MovementKindReceipt, onHandDelta: 7, line: 3}
	bound := &pgconn.PgError{Code: "23514", ConstraintName: LevelBoundConstraint}
	other := &pgconn.PgError{Code: "23514", ConstraintName: "stock_levels_quantities"}
	for _, c := range []struct {
		name  string
		err   error
		limit bool
	}{
		{"bound", bound, true},
		{"wrapped bound", fmt.Errorf("stock move: %w", bound), true},
		{"another check", other, false},
		{"not a database error", errors.New("boom"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := boundViolation(c.err, m.line, l, m, MaxLevelQuantity-1)
			var ql *QuantityLimit
			if !c.limit {
				if got != c.err { //nolint:errorlint // the very same error, unwrapped and unchanged
					t.Fatalf("got %v, want the error unchanged", got)
				}
				return
			}
			if !errors.As(got, &ql) || len(ql.Lines) != 1 {
				t.Fatalf("got %v, want one QuantityLimit line", got)
			}
			pl := ql.Lines[0]
			if pl.Index != 3 || pl.ProductId != l.Product || *pl.LocationId != l.Location || *pl.Requested != 7 || *pl.OnHand != MaxLevelQuantity-1 {
				t.Errorf("line %+v", pl)
			}
		})
	}
}
