package inventory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// Issue 16, item 7: every documented movement filter, alone or combined, is served by an index
// (a brand with 1M movements answered `kind` alone and `locationId` alone with 503 after 5 s),
// and the ledger can be filtered by order.

// TestMovementFiltersUseAnIndex seeds a brand's ledger with 200,000 movements over 20 products
// (one of them rare),
// 5 locations (60 % of them at the first, 1 % at the last), every kind (mostly holds, releases
// and fulfilments; a count one in 200), references, reservations, orders and 200 days, ANALYZEs
// it, and
// EXPLAINs the list query (planned for its parameters, as the handler runs it) for each filter
// alone and for combinations: none scans stock_movements sequentially, and each is served by an
// index on one of its own filters (an Index Cond on the filtered column, not a walk of the whole
// ledger that filters row by row).
func TestMovementFiltersUseAnIndex(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "ledger")
	var products, locations []uuid.UUID
	for i := range 20 {
		products = append(products, b.Product(t, fmt.Sprintf("LEDGER-%02d", i)).Id)
	}
	for i := range 5 {
		locations = append(locations, b.Location(t, fmt.Sprintf("LG%d", i)).Id)
	}
	b.Receive(t, products[0], locations[0], 100)
	var orders []uuid.UUID
	for range 3 {
		orders = append(orders, b.PlaceOrder(t, products[0], 2).Id)
	}
	res := b.MustReserve(t, servertest.HoldLine(products[0], &locations[0], 1))

	// The order filter, through the API: exactly the order's own movements.
	got := b.Movements(t, api.ListStockMovementsParams{OrderId: &orders[1]})
	if len(got) != 1 || got[0].OrderId == nil || *got[0].OrderId != orders[1] || got[0].Kind != api.MovementReservation || got[0].ReservedDelta != 2 {
		t.Errorf("movements of order %s = %+v, want its one hold of 2", orders[1], got)
	}
	if got := b.Movements(t, api.ListStockMovementsParams{OrderId: &orders[0], Kind: new(api.MovementRelease)}); len(got) != 0 {
		t.Errorf("release movements of order %s = %+v, want none", orders[0], got)
	}

	conn, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	start := time.Now()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, b.Brand.String()); err != nil {
			return err
		}
		// Every product has a level at every location; movements need one.
		if _, err := tx.Exec(ctx, `
			INSERT INTO stock_levels (brand_id, product_id, location_id, updated_at)
			SELECT $1, p, l, now() FROM unnest($2::uuid[]) p, unnest($3::uuid[]) l
			ON CONFLICT DO NOTHING`, b.Brand, products, locations); err != nil {
			return err
		}
		// Ids sort like created_at (UUIDv7-shaped, older than anything the server made); the
		// quantities are not a ledger that sums: this brand is only planned against.
		_, err := tx.Exec(ctx, `
			INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
			                             on_hand_after, reserved_after, reference, reservation_id, order_id, created_at)
			SELECT $1, (lpad(to_hex(i), 12, '0') || '7000' || '8000' || lpad(to_hex(i), 12, '0'))::uuid,
			       ($2::uuid[])[CASE WHEN i % 500 = 3 THEN 4 WHEN i % 20 = 3 THEN 5 ELSE 1 + i % 20 END],
			       ($3::uuid[])[CASE WHEN i % 100 < 60 THEN 1 WHEN i % 100 < 85 THEN 2 WHEN i % 100 < 95 THEN 3
			                         WHEN i % 100 < 99 THEN 4 ELSE 5 END],
			       k.kind::movement_kind,
			       -- each kind's sign rule (stock_movements_sign)
			       CASE k.kind WHEN 'reservation' THEN 0 WHEN 'release' THEN 0 WHEN 'fulfilment' THEN -1
			                   WHEN 'transfer_out' THEN -1 ELSE 1 END,
			       CASE k.kind WHEN 'reservation' THEN 1 WHEN 'release' THEN -1 WHEN 'fulfilment' THEN -1 ELSE 0 END,
			       1, 0,
			       CASE WHEN i % 10 = 0 THEN 'REF-' || (i % 5000) END,
			       CASE WHEN i % 50 = 1 THEN $4::uuid END,
			       CASE WHEN i % 50 = 2 THEN ($5::uuid[])[1 + i % 3] END,
			       now() - interval '200 days' + make_interval(secs => i * 86)
			FROM generate_series(1, 200000) AS i,
			     LATERAL (SELECT CASE WHEN i % 200 < 70 THEN 'reservation' WHEN i % 200 < 130 THEN 'release'
			                          WHEN i % 200 < 180 THEN 'fulfilment' WHEN i % 200 < 190 THEN 'receipt'
			                          WHEN i % 200 < 194 THEN 'adjustment' WHEN i % 200 < 196 THEN 'transfer_out'
			                          WHEN i % 200 < 198 THEN 'transfer_in' WHEN i % 200 < 199 THEN 'return'
			                          ELSE 'count' END AS kind) AS k`, b.Brand, products, locations, res.Id, orders)
		return err
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	// After the commit: statistics of committed rows, as autovacuum would gather them.
	if _, err := conn.Exec(ctx, `ANALYZE stock_movements`); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	t.Logf("seeded 200,000 movements in %s", time.Since(start).Round(time.Millisecond))

	// The rare values are the hard ones: a walk of the whole ledger finds few of them.
	p, l, o := products[3], locations[4], orders[1]
	ref, kind := "REF-40", stockdb.NullMovementKind{MovementKind: stockdb.MovementKindCount, Valid: true}
	recent, old := time.Now().Add(-24*time.Hour), time.Now().Add(-190*24*time.Hour)
	for _, c := range []struct {
		name    string
		params  stockdb.MovementListParams
		columns []string // the plan must have an index condition on one of these
	}{
		{"productId", stockdb.MovementListParams{ProductID: &p}, []string{"product_id"}},
		{"locationId", stockdb.MovementListParams{LocationID: &l}, []string{"location_id"}},
		{"kind", stockdb.MovementListParams{Kind: kind}, []string{"kind"}},
		{"reference", stockdb.MovementListParams{Reference: &ref}, []string{"reference"}},
		{"reservationId", stockdb.MovementListParams{ReservationID: &res.Id}, []string{"reservation_id"}},
		{"orderId", stockdb.MovementListParams{OrderID: &o}, []string{"order_id"}},
		{"createdAfter", stockdb.MovementListParams{CreatedAfter: &recent}, []string{"created_at"}},
		// Known limit: createdBefore alone is planned as a walk from the newest movement (the
		// planner cannot tell that old rows sit at the far end of the id order); no sequential
		// scan, but no index condition either.
		{"createdBefore", stockdb.MovementListParams{CreatedBefore: &old}, nil},
		{"productId+locationId", stockdb.MovementListParams{ProductID: &p, LocationID: &l}, []string{"product_id"}},
		{"productId+kind", stockdb.MovementListParams{ProductID: &p, Kind: kind}, []string{"product_id", "kind"}},
		{"locationId+kind", stockdb.MovementListParams{LocationID: &l, Kind: kind}, []string{"location_id", "kind"}},
		{"kind+createdBefore", stockdb.MovementListParams{Kind: kind, CreatedBefore: &old}, []string{"kind", "created_at"}},
		{"reference+kind", stockdb.MovementListParams{Reference: &ref, Kind: kind}, []string{"reference", "kind"}},
		{"orderId+kind", stockdb.MovementListParams{OrderID: &o, Kind: kind}, []string{"order_id", "kind"}},
		{"reservationId+locationId", stockdb.MovementListParams{ReservationID: &res.Id, LocationID: &l}, []string{"reservation_id", "location_id"}},
		{"all", stockdb.MovementListParams{ProductID: &p, LocationID: &l, Kind: kind, Reference: &ref, ReservationID: &res.Id, OrderID: &o, CreatedAfter: &old, CreatedBefore: &recent},
			[]string{"product_id", "location_id", "kind", "reference", "reservation_id", "order_id", "created_at"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := env.PlanOf(t, b.Brand, func(ctx context.Context, tx db.DBTX) error {
				params := c.params
				params.BrandID, params.RowLimit = b.Brand, 21
				_, err := stockdb.New(tx).MovementList(ctx, params)
				return err
			})
			if strings.Contains(plan, "Seq Scan on stock_movements") {
				t.Fatalf("sequential scan of the ledger:\n%s", plan)
			}
			served := false
			for _, line := range strings.Split(plan, "\n") {
				if !strings.Contains(line, "Index Cond") && !strings.Contains(line, "Recheck Cond") {
					continue
				}
				for _, col := range c.columns {
					if strings.Contains(line, col) {
						served = true
					}
				}
			}
			if !served && c.columns != nil {
				t.Errorf("no index condition on %v: the ledger is walked and filtered row by row:\n%s", c.columns, plan)
			}
		})
	}
}
