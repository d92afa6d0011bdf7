package inventory_test

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
func holdMany(t *testing.T, b servertest.StockBrand, product, location uuid.UUID, n int, ttl int) []uuid.UUID {
	t.Helper()
	const workers = 8
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				resp, err := b.Env.Client.CreateReservationWithResponse(ctx, b.Brand, &api.CreateReservationParams{},
					api.CreateReservationRequest{Lines: []api.ReservationRequestLine{servertest.HoldLine(product, &location, 1)}, TtlSeconds: new(ttl)}, b.Auth)
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
	b := servertest.NewStockBrand(t, env, "holds")
	p := b.Product(t, "HOLD-1")
	loc := b.Location(t, "H1")
	const holds = 2000
	b.Receive(t, p.Id, loc.Id, holds)
	holdMany(t, b, p.Id, loc.Id, holds, 60)
	refused := b.Reserve(t, servertest.HoldLine(p.Id, nil, 1))
	servertest.StatusIs(t, "reserve while all is held", refused.HTTPResponse, refused.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock)

	env.Clock.Advance(61 * time.Second)
	b = b.Relogin(t)
	before := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements`)
	o := b.PlaceOrder(t, p.Id, 5)

	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM reservations WHERE status = 'active'`); n != holds {
		t.Errorf("%d reservations still unreleased after the order, want all %d (the sale must not release them)", n, holds)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release'`); n != 0 {
		t.Errorf("the order's transaction appended %d release movements, want 0", n)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements`) - before; n != 1 {
		t.Errorf("the order appended %d movements, want 1 (its own hold)", n)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements WHERE order_id = $1 AND kind = 'reservation' AND reserved_delta = 5`, o.Id); n != 1 {
		t.Errorf("%d hold movements of the order, want 1", n)
	}
	b.WantLevel(t, "after the order", p.Id, loc.Id, holds, 5)
	inv, err := env.Client.GetProductInventoryWithResponse(ctx, b.Brand, p.Id, b.Auth)
	if err != nil || inv.JSON200 == nil {
		t.Fatalf("product inventory: %v %d %s", err, inv.StatusCode(), inv.Body)
	}
	if got := inv.JSON200; got.OnHand != holds || got.Reserved != 5 || got.Available != holds-5 {
		t.Errorf("product inventory %d/%d/%d, want %d/5/%d", got.OnHand, got.Reserved, got.Available, holds, holds-5)
	}

	// Every unit the expired holds kept can be sold; not one more.
	b.PlaceOrder(t, p.Id, holds-5)
	resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *servertest.NewKey()}, servertest.OrderBody(servertest.OrderLine(p.Id, 1)), b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.StatusIs(t, "order past the stock", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock)
	b.WantLevel(t, "sold out", p.Id, loc.Id, holds, holds)

	n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
	if err != nil || n != holds {
		t.Fatalf("sweep = %d, %v; want %d", n, err, holds)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release' AND reservation_id IS NOT NULL`); n != holds {
		t.Errorf("%d release movements after the sweep, want %d", n, holds)
	}
	b.WantLevel(t, "after the sweep", p.Id, loc.Id, holds, holds)
	env.AssertStock(t, b.Brand)
}

// TestHoldsOrdersRaceTheSweeper: expired and live holds on one level; 16 orders and two
// sweepers run at once. Every order is placed, the stock is exact, the ledger sums, every
// expired hold is released exactly once, and reserved is what live holds (orders and the live
// reservations) hold.
func TestHoldsOrdersRaceTheSweeper(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "holdsrace")
	p := b.Product(t, "RACE-1")
	loc := b.Location(t, "R1")
	const stock, expired, live, orders, each = 300, 200, 20, 16, 5
	b.Receive(t, p.Id, loc.Id, stock)
	holdMany(t, b, p.Id, loc.Id, expired, 60)
	env.Clock.Advance(61 * time.Second)
	b = b.Relogin(t)
	holdMany(t, b, p.Id, loc.Id, live, 3600)

	var o servertest.Outcomes
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
	servertest.AtOnce(orders, func(int) {
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *servertest.NewKey()}, servertest.OrderBody(servertest.OrderLine(p.Id, each)), b.Auth)
		if err != nil {
			t.Errorf("order: %v", err)
			return
		}
		o.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
	})
	swept.Wait()
	if o.Status[201] != orders {
		t.Errorf("orders answered %v (codes %v), want %d × 201", o.Status, o.Codes, orders)
	}
	if released != expired {
		t.Errorf("the sweepers released %d reservations, want %d", released, expired)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM stock_movements WHERE kind = 'release' AND reservation_id IS NOT NULL`); n != expired {
		t.Errorf("%d release movements, want one per expired hold (%d)", n, expired)
	}
	b.WantLevel(t, "after the race", p.Id, loc.Id, stock, live+orders*each)
	env.AssertStock(t, b.Brand)
}
