package inventory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// TestInvariantsNameACorruptedLevel: the invariant queries every stock test relies on can fail.
// A brand holds stock through a reservation and an order at one level per case; a write the
// engine would never make (as the tables' owner) then corrupts that level, and the invariant
// queries name exactly that level, under the invariant it breaks, while the untouched levels
// stay clean.
func TestInvariantsNameACorruptedLevel(t *testing.T) {
	t.Parallel()
	b := newLimitsBrand(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// corrupt runs as the owner, inside the brand's scope; $1 product, $2 location.
		corrupt string
		want    []inventory.Invariant
	}{
		{"reserved raised without a movement or a hold",
			`UPDATE stock_levels SET reserved = reserved + 1 WHERE product_id = $1 AND location_id = $2`,
			[]inventory.Invariant{inventory.InvariantLedger, inventory.InvariantHolds}},
		{"a reservation's hold record lost (the ledger still sums)",
			`DELETE FROM reservation_allocations WHERE product_id = $1 AND location_id = $2`,
			[]inventory.Invariant{inventory.InvariantHolds}},
		{"an order's hold recorded as shipped without a movement",
			`UPDATE order_allocations SET fulfilled_quantity = quantity WHERE product_id = $1 AND location_id = $2`,
			[]inventory.Invariant{inventory.InvariantHolds}},
		{"a hold expiry row out of step with its holds",
			`UPDATE level_hold_expiries SET quantity = quantity + 1 WHERE product_id = $1 AND location_id = $2`,
			[]inventory.Invariant{inventory.InvariantHolds}},
	} {
		t.Run(c.name, func(t *testing.T) {
			active := api.Active
			p, err := b.env.Client.CreateProductWithResponse(ctx, b.brand,
				api.CreateProductRequest{Sku: "INV-" + uuid.NewString()[:8], Name: c.name, PriceAmount: 100, Status: &active}, b.auth)
			if err != nil || p.JSON201 == nil {
				t.Fatalf("create product: %v %d %s", err, p.StatusCode(), p.Body)
			}
			product := p.JSON201.Id
			if status, prob := b.post(t, "/inventory/adjustments", map[string]any{"kind": "receipt",
				"lines": []any{map[string]any{"productId": product, "locationId": b.loc, "delta": 10}}}); status != 201 {
				t.Fatalf("receipt: %d %+v", status, prob)
			}
			if status, prob := b.post(t, "/reservations", map[string]any{
				"lines": []any{map[string]any{"productId": product, "locationId": b.loc, "quantity": 2}}}); status != 201 {
				t.Fatalf("reserve: %d %+v", status, prob)
			}
			if status, prob := b.post(t, "/orders", map[string]any{
				"lines":           []any{map[string]any{"productId": product, "quantity": 3}},
				"customer":        map[string]any{"email": "ada@example.com", "name": "Ada"},
				"shippingAddress": map[string]any{"line1": "1 Road", "city": "London", "country": "GB"},
			}); status != 201 {
				t.Fatalf("order: %d %+v", status, prob)
			}
			if bad := mismatchesAt(b.env.StockMismatches(t, b.brand), product); len(bad) != 0 {
				t.Fatalf("before the corruption: %v", bad)
			}

			conn, err := pgx.Connect(ctx, b.env.OwnerURL)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close(ctx) }()
			err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if err := db.New(tx).BrandScopeSet(ctx, b.brand.String()); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, c.corrupt, product, b.loc)
				if err == nil && tag.RowsAffected() == 0 {
					t.Errorf("the corruption changed no row")
				}
				return err
			})
			if err != nil {
				t.Fatalf("corrupt: %v", err)
			}

			bad := mismatchesAt(b.env.StockMismatches(t, b.brand), product)
			if len(bad) != len(c.want) {
				t.Fatalf("mismatches at the corrupted product: %v, want one for each of %v", bad, c.want)
			}
			for i, m := range bad {
				if m.Invariant != c.want[i] || m.Level != (inventory.Level{Product: product, Location: b.loc}) {
					t.Errorf("mismatch %d = %s, want invariant %s at %s/%s", i, m, c.want[i], product, b.loc)
				}
				if !strings.Contains(m.String(), product.String()) {
					t.Errorf("%q does not name the level", m)
				}
			}
			// Corrupted levels of earlier cases stay listed; they are another product's.
		})
	}
}

// mismatchesAt keeps the mismatches at product's levels.
func mismatchesAt(all []inventory.Mismatch, product uuid.UUID) []inventory.Mismatch {
	var out []inventory.Mismatch
	for _, m := range all {
		if m.Level.Product == product {
			out = append(out, m)
		}
	}
	return out
}
