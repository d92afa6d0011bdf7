package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// Issue 16, item 5: expired holds never count against availability, and a sale never releases
// them in its own transaction (4,000 of them made the next order take 9 s); the sweeper releases
// them, one reservation per transaction, outside any sale.

// holdMany makes n one-unit reservations of product at location, ttl seconds each, from a few
// clients at once (the API way a flash sale's carts hold stock).
func holdMany(t *testing.T, b stockBrand, product, location uuid.UUID, n int, ttl int) []uuid.UUID {
	t.Helper()
	const workers = 8
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				resp, err := b.env.Client.CreateReservationWithResponse(ctx, b.brand, &api.CreateReservationParams{},
					api.CreateReservationRequest{Lines: []api.ReservationRequestLine{line(product, &location, 1)}, TtlSeconds: ptr(ttl)}, b.auth)
				if err != nil || resp.JSON201 == nil {
					t.Errorf("hold %d: %v %d %s", i, err, resp.StatusCode(), resp.Body)
					return
				}
				ids[i] = resp.JSON201.Id
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// TestHoldsExpiredNeverBlockASale: 2,000 expired one-unit holds take every unit of a product
// and the sweeper has not run. An order for it succeeds, and its transaction released none of
// them: all 2,000 reservations are still unreleased, no `release` movement exists, and the
// order's transaction appended exactly its own movement. The levels show the expired holds as
// not reserved; the sweeper then releases every one of them and the ledger sums.
func TestHoldsExpiredNeverBlockASale(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newStockBrand(t, env, "holds")
	p := b.product(t, "HOLD-1")
	loc := createLocation(t, env, b.owner, "H1")
	const holds = 2000
	receive(t, env, b.owner, p.Id, loc.Id, holds)
	holdMany(t, b, p.Id, loc.Id, holds, 60)
	refused := b.reserve(t, line(p.Id, nil, 1))
	statusIs(t, "reserve while all is held", refused.HTTPResponse, refused.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock)

	env.Clock.Advance(61 * time.Second)
	b = b.relogin(t)
	before := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements`)
	o := placeOrder(t, env, b.owner, p.Id, 5)

	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM reservations WHERE status = 'active'`); n != holds {
		t.Errorf("%d reservations still unreleased after the order, want all %d (the sale must not release them)", n, holds)
	}
	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release'`); n != 0 {
		t.Errorf("the order's transaction appended %d release movements, want 0", n)
	}
	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements`) - before; n != 1 {
		t.Errorf("the order appended %d movements, want 1 (its own hold)", n)
	}
	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements WHERE order_id = $1 AND kind = 'reservation' AND reserved_delta = 5`, o.Id); n != 1 {
		t.Errorf("%d hold movements of the order, want 1", n)
	}
	b.wantLevel(t, "after the order", p.Id, loc.Id, holds, 5)
	inv, err := env.Client.GetProductInventoryWithResponse(ctx, b.brand, p.Id, b.auth)
	if err != nil || inv.JSON200 == nil {
		t.Fatalf("product inventory: %v %d %s", err, inv.StatusCode(), inv.Body)
	}
	if got := inv.JSON200; got.OnHand != holds || got.Reserved != 5 || got.Available != holds-5 {
		t.Errorf("product inventory %d/%d/%d, want %d/5/%d", got.OnHand, got.Reserved, got.Available, holds, holds-5)
	}

	// Every unit the expired holds kept can be sold; not one more.
	placeOrder(t, env, b.owner, p.Id, holds-5)
	resp, err := env.Client.CreateOrderWithResponse(ctx, b.brand, &api.CreateOrderParams{IdempotencyKey: *newKey()}, orderBody(oline(p.Id, 1)), b.auth)
	if err != nil {
		t.Fatal(err)
	}
	statusIs(t, "order past the stock", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock)
	b.wantLevel(t, "sold out", p.Id, loc.Id, holds, holds)

	n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
	if err != nil || n != holds {
		t.Fatalf("sweep = %d, %v; want %d", n, err, holds)
	}
	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release' AND reservation_id IS NOT NULL`); n != holds {
		t.Errorf("%d release movements after the sweep, want %d", n, holds)
	}
	b.wantLevel(t, "after the sweep", p.Id, loc.Id, holds, holds)
	assertLedger(t, env, b.brand)
	assertLiveHolds(t, env, b.brand)
}

// TestHoldsOrdersRaceTheSweeper: expired and live holds on one level; 16 orders and two
// sweepers run at once. Every order is placed, the stock is exact, the ledger sums, every
// expired hold is released exactly once, and reserved is what live holds (orders and the live
// reservations) hold.
func TestHoldsOrdersRaceTheSweeper(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, patientBrands)
	b := newStockBrand(t, env, "holdsrace")
	p := b.product(t, "RACE-1")
	loc := createLocation(t, env, b.owner, "R1")
	const stock, expired, live, orders, each = 300, 200, 20, 16, 5
	receive(t, env, b.owner, p.Id, loc.Id, stock)
	holdMany(t, b, p.Id, loc.Id, expired, 60)
	env.Clock.Advance(61 * time.Second)
	b = b.relogin(t)
	holdMany(t, b, p.Id, loc.Id, live, 3600)

	var o outcomes
	var swept sync.WaitGroup
	var releasedMu sync.Mutex
	released := 0
	for range 2 {
		swept.Add(1)
		go func() {
			defer swept.Done()
			n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
			if err != nil {
				t.Errorf("sweeper: %v", err)
			}
			releasedMu.Lock()
			released += n
			releasedMu.Unlock()
		}()
	}
	run(orders, func(int) {
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.brand, &api.CreateOrderParams{IdempotencyKey: *newKey()}, orderBody(oline(p.Id, each)), b.auth)
		if err != nil {
			t.Errorf("order: %v", err)
			return
		}
		o.add(resp.StatusCode(), resp.ApplicationproblemJSON422)
	})
	swept.Wait()
	if o.status[201] != orders {
		t.Errorf("orders answered %v (codes %v), want %d × 201", o.status, o.codes, orders)
	}
	if released != expired {
		t.Errorf("the sweepers released %d reservations, want %d", released, expired)
	}
	if n := ownerCount(t, env, b.brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release' AND reservation_id IS NOT NULL`); n != expired {
		t.Errorf("%d release movements, want one per expired hold (%d)", n, expired)
	}
	b.wantLevel(t, "after the race", p.Id, loc.Id, stock, live+orders*each)
	assertLedger(t, env, b.brand)
	assertLiveHolds(t, env, b.brand)
}

// assertLiveHolds checks the second invariant, as the tables' owner: every level's reserved is
// what unreleased reservations and orders hold there (for tests that cancel no order).
func assertLiveHolds(t *testing.T, env *servertest.Env, brand uuid.UUID) {
	t.Helper()
	if n := ownerCount(t, env, brand, `
		SELECT count(*) FROM stock_levels l
		WHERE l.reserved <> coalesce((SELECT sum(a.quantity) FROM reservation_allocations a JOIN reservations r
		                                ON r.brand_id = a.brand_id AND r.id = a.reservation_id
		                              WHERE a.brand_id = l.brand_id AND a.product_id = l.product_id
		                                AND a.location_id = l.location_id AND r.status = 'active'), 0)
		                 + coalesce((SELECT sum(h.quantity - h.fulfilled_quantity) FROM order_allocations h
		                              WHERE h.brand_id = l.brand_id AND h.product_id = l.product_id
		                                AND h.location_id = l.location_id), 0)`); n != 0 {
		t.Errorf("%d levels whose reserved is not what live holds hold", n)
	}
}
