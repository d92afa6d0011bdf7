package orders_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestOrderConcurrentCreatesNeverOversell: 1,000 single-unit orders at once (distinct keys) for
// 100 available units: exactly 100 orders, 900 × 422 insufficient_stock, no 5xx, reserved = 100,
// numbers 1001..1100 with no gap, and the ledger sums to the level.
//
// Not parallel: 1,000 requests at once are the whole test; run beside the parallel tests on a
// small machine they would time out others' requests (and their own) with 503s.
func TestOrderConcurrentCreatesNeverOversell(t *testing.T) { //nolint:paralleltest // see above
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "rush")
	p := b.Product(t, "RUSH-1")
	loc := b.Location(t, "RUSH")
	b.Receive(t, p.Id, loc.Id, 100)

	const n = 1000
	var res servertest.Outcomes
	numbers := make([]int64, n)
	servertest.AtOnce(n, func(i int) {
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *servertest.NewKey()}, servertest.OrderBody(servertest.OrderLine(p.Id, 1)), b.Auth)
		if err != nil {
			t.Errorf("order: %v", err)
			return
		}
		res.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
		if resp.JSON201 != nil {
			numbers[i] = resp.JSON201.Number
		}
	})
	if res.Status[201] != 100 || res.Status[422] != 900 || res.Codes[api.ProblemCodeInsufficientStock] != 900 || len(res.Status) != 2 {
		t.Errorf("answers %v (codes %v), want 100 × 201 and 900 × 422 insufficient_stock", res.Status, res.Codes)
	}
	seen := map[int64]bool{}
	for _, num := range numbers {
		if num != 0 {
			seen[num] = true
		}
	}
	for num := int64(1001); num <= 1100; num++ {
		if !seen[num] {
			t.Errorf("number %d missing: numbers are not gapless", num)
		}
	}
	b.WantLevel(t, "after the rush", p.Id, loc.Id, 100, 100)
	if got := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM orders`); got != 100 {
		t.Errorf("%d orders, want 100", got)
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderSameKeyConcurrent: 50 requests with one key at once make exactly one order; the others
// replay it or are told it is in flight; no second number is consumed.
func TestOrderSameKeyConcurrent(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "samekey")
	p := b.Product(t, "SK-1")
	loc := b.Location(t, "SK")
	b.Receive(t, p.Id, loc.Id, 100)
	key := servertest.NewKey()
	ids := sync1{mu: make(chan struct{}, 1), ids: map[uuid.UUID]bool{}}
	var created, replayed, inFlight atomic.Int64
	servertest.AtOnce(50, func(int) {
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *key}, servertest.OrderBody(servertest.OrderLine(p.Id, 2)), b.Auth)
		if err != nil {
			t.Errorf("order: %v", err)
			return
		}
		switch {
		case resp.JSON201 != nil && resp.HTTPResponse.Header.Get("Idempotent-Replayed") == "true":
			replayed.Add(1)
			ids.add(resp.JSON201.Id)
		case resp.JSON201 != nil:
			created.Add(1)
			ids.add(resp.JSON201.Id)
		case resp.StatusCode() == 409 && resp.ApplicationproblemJSON409.Code == api.ProblemCodeIdempotencyKeyInFlight:
			inFlight.Add(1)
		default:
			t.Errorf("answer %d %s", resp.StatusCode(), resp.Body)
		}
	})
	if created.Load() != 1 || created.Load()+replayed.Load()+inFlight.Load() != 50 || ids.count() != 1 {
		t.Errorf("created %d, replayed %d, in flight %d, distinct orders %d; want one order", created.Load(), replayed.Load(), inFlight.Load(), ids.count())
	}
	b.WantLevel(t, "one order's hold", p.Id, loc.Id, 100, 2)
	if o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)); o.Number != 1002 {
		t.Errorf("next number %d, want 1002", o.Number)
	}
	env.AssertStock(t, b.Brand)
}

// sync1 collects distinct ids from goroutines.
type sync1 struct {
	mu  chan struct{}
	ids map[uuid.UUID]bool
}

func (s *sync1) add(id uuid.UUID) {
	if s.mu == nil {
		panic("sync1 used before init")
	}
	s.mu <- struct{}{}
	s.ids[id] = true
	<-s.mu
}

func (s *sync1) count() int { return len(s.ids) }

// TestOrderCancelRacesFulfilment: a cancel and a fulfilment of every line of the same confirmed
// order at once: exactly one wins; the stock is either all shipped or all released.
func TestOrderCancelRacesFulfilment(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "race")
	p := b.Product(t, "RACE-1")
	loc := b.Location(t, "RACE")
	const rounds = 10
	b.Receive(t, p.Id, loc.Id, 3*rounds)
	var shipped, released int64
	for range rounds {
		o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 3))
		if r := b.ConfirmOrder(t, o.Id); r.JSON200 == nil {
			t.Fatalf("confirm: %s", r.Body)
		}
		var fulfilStatus, cancelStatus int
		servertest.AtOnce(2, func(i int) {
			if i == 0 {
				fulfilStatus = b.Fulfil(t, o.Id, fline(o.Lines[0].Id, 3)).StatusCode()
			} else {
				cancelStatus = b.CancelOrder(t, o.Id, nil).StatusCode()
			}
		})
		got := b.GetOrder(t, o.Id)
		switch {
		case fulfilStatus == 201 && cancelStatus == 409 && got.Status == api.OrderFulfilled:
			shipped += 3
		case cancelStatus == 200 && fulfilStatus == 409 && got.Status == api.OrderCancelled:
			released += 3
		default:
			t.Errorf("fulfil %d, cancel %d, order %s: want exactly one winner", fulfilStatus, cancelStatus, got.Status)
		}
	}
	b.WantLevel(t, "after the races", p.Id, loc.Id, 3*rounds-shipped, 0)
	env.AssertStock(t, b.Brand)
}

// TestOrderSweeperRacesConfirm: pending orders past ORDER_PENDING_TTL are expired by the sweeper
// (several at once) while confirms race it: each order ends confirmed or cancelled (reason
// expired, no actor), never both, and only expired orders gave their stock back.
func TestOrderSweeperRacesConfirm(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "sweep")
	p := b.Product(t, "SW-1")
	loc := b.Location(t, "SW")
	b.Receive(t, p.Id, loc.Id, 100)
	var ids []uuid.UUID
	for range 20 {
		ids = append(ids, b.MustCreateOrder(t, servertest.OrderLine(p.Id, 2)).Id)
	}
	fresh := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)) // placed later: not due
	if n, err := server.SweepOrders(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 0 {
		t.Fatalf("sweep before the TTL = %d, %v", n, err)
	}
	env.Clock.Advance(30*time.Minute + time.Second)
	b = b.Relogin(t)

	var swept, confirmed atomic.Int64
	servertest.AtOnce(len(ids)+3, func(i int) {
		if i >= len(ids) {
			n, err := server.SweepOrders(ctx, env.Pool, nil, env.Clock.Now)
			if err != nil {
				t.Errorf("sweeper: %v", err)
			}
			swept.Add(int64(n))
			return
		}
		if r := b.ConfirmOrder(t, ids[i]); r.JSON200 != nil {
			confirmed.Add(1)
		} else if r.StatusCode() != 409 {
			t.Errorf("confirm: %d %s", r.StatusCode(), r.Body)
		}
	})
	// The later order is due as well by now: the sweepers expire it too.
	if swept.Load()+confirmed.Load() != int64(len(ids))+1 {
		t.Errorf("swept %d + confirmed %d, want %d in all", swept.Load(), confirmed.Load(), len(ids)+1)
	}
	var held int64
	for _, id := range ids {
		o := b.GetOrder(t, id)
		evs := b.OrderEvents(t, id)
		last := evs[len(evs)-1]
		switch o.Status {
		case api.OrderConfirmed:
			held += 2
		case api.OrderCancelled:
			if o.CancelReason == nil || *o.CancelReason != "expired" || last.ActorId != nil || last.Action != api.OrderEventCancel {
				t.Errorf("expired order %s: reason %v, last event %+v", id, o.CancelReason, last)
			}
		default:
			t.Errorf("order %s is %s after the race", id, o.Status)
		}
		if len(evs) != 2 {
			t.Errorf("order %s has %d events, want 2 (one transition)", id, len(evs))
		}
	}
	if got := b.GetOrder(t, fresh.Id); got.Status != api.OrderCancelled {
		t.Errorf("the later order is %s, want cancelled (it was due as well)", got.Status)
	}
	b.WantLevel(t, "after the sweep", p.Id, loc.Id, 100, held)
	if n, err := server.SweepOrders(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 0 {
		t.Errorf("a second sweep = %d, %v; want nothing left", n, err)
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderMultiLineOppositeOrders: orders naming the same two products in opposite line orders
// cannot deadlock, and each holds both lines or nothing.
func TestOrderMultiLineOppositeOrders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "cross")
	p1, p2 := b.Product(t, "OX-1"), b.Product(t, "OX-2")
	la, lb := b.Location(t, "OXA"), b.Location(t, "OXB")
	b.Receive(t, p1.Id, la.Id, 15)
	b.Receive(t, p1.Id, lb.Id, 5)
	b.Receive(t, p2.Id, lb.Id, 40)
	var res servertest.Outcomes
	var ok atomic.Int64
	servertest.AtOnce(60, func(i int) {
		lines := []api.OrderRequestLine{servertest.OrderLine(p1.Id, 1), servertest.OrderLine(p2.Id, 1)}
		if i%2 == 1 {
			lines[0], lines[1] = lines[1], lines[0]
		}
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *servertest.NewKey()}, servertest.OrderBody(lines...), b.Auth)
		if err != nil {
			t.Errorf("order: %v", err)
			return
		}
		res.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
		if resp.JSON201 != nil {
			ok.Add(1)
		}
	})
	if res.Status[201] != 20 || res.Status[422] != 40 || res.Codes[api.ProblemCodeInsufficientStock] != 40 {
		t.Errorf("answers %v (codes %v), want 20 × 201 and 40 × 422", res.Status, res.Codes)
	}
	if got := b.Level(t, p1.Id, la.Id).Reserved + b.Level(t, p1.Id, lb.Id).Reserved; got != ok.Load() {
		t.Errorf("p1 reserved %d, want %d", got, ok.Load())
	}
	b.WantLevel(t, "p2", p2.Id, lb.Id, 40, ok.Load())
	env.AssertStock(t, b.Brand)
}

// TestOrderTakesItsNumberLast: an order takes its brand's number (and with it the counter row,
// which every order of the brand waits for until the taker commits) only once its stock is held
// and its lines and movements are written: caught waiting for a counter another transaction
// holds, its transaction is in OrderCreate and already holds what it wrote before. Then the
// counter is held only for OrderCreate and the COMMIT (with which the history and the events
// travel). Before schema/000025 the wait came at OrderNumberNext, with the lines, the movements,
// the reads and the history still to come under the counter.
func TestOrderTakesItsNumberLast(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.DB.LockTimeout = time.Minute })
	b := servertest.NewStockBrand(t, env, "counter")
	p := b.Product(t, "CTR-1")
	loc := b.Location(t, "CTR")
	b.Receive(t, p.Id, loc.Id, 10)
	first := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)) // the brand's counter row exists

	// Another transaction holds the counter.
	holder, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close(ctx) }()
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := db.New(tx).BrandScopeSet(ctx, b.Brand.String()); err != nil {
		t.Fatal(err)
	}
	if tag, err := tx.Exec(ctx, `SELECT 1 FROM order_counters WHERE brand_id = $1 FOR UPDATE`, b.Brand); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("locking the brand's counter: %v (%d rows)", err, tag.RowsAffected())
	}
	done := make(chan *api.CreateOrderResponse, 1)
	go func() {
		resp, err := env.Client.CreateOrderWithResponse(ctx, b.Brand, &api.CreateOrderParams{IdempotencyKey: *servertest.NewKey()}, servertest.OrderBody(servertest.OrderLine(p.Id, 2)), b.Auth)
		if err != nil {
			t.Errorf("order: %v", err)
		}
		done <- resp
	}()

	// The order's backend, once it waits for the counter, seen from outside any transaction (one
	// reads pg_stat_activity once, at its first look).
	watcher, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watcher.Close(ctx) }()
	var pid int32
	var query string
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for pid == 0 {
		err := watcher.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, holder.PgConn().PID()).Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if pid == 0 {
			select {
			case resp := <-done:
				if resp == nil {
					t.Fatal("the order failed without waiting for the counter")
				}
				t.Fatalf("the order ended (%d) without waiting for the counter", resp.StatusCode())
			case <-tick.C:
			}
		}
	}
	// Read again: the look that found it may have read the activity a moment before it blocked.
	if err := watcher.QueryRow(ctx, `SELECT query FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&query); err != nil {
		t.Fatal(err)
	}
	if got := observe.QueryName(query); got != "OrderCreate" {
		t.Errorf("the order waits for the counter in %s, want OrderCreate (its row last)", got)
	}
	rows, err := watcher.Query(ctx, `SELECT DISTINCT relation::regclass::text FROM pg_locks
		WHERE pid = $1 AND granted AND locktype = 'relation' AND mode = 'RowExclusiveLock'`, pid)
	if err != nil {
		t.Fatal(err)
	}
	written, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"order_lines", "stock_movements", "order_allocations", "stock_levels"} {
		if !slices.Contains(written, table) {
			t.Errorf("waiting for the counter, the order had not yet written %s (it wrote %v)", table, written)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	resp := <-done
	if resp == nil || resp.JSON201 == nil {
		t.Fatalf("the order once the counter is free: %v", resp)
	}
	if got, want := resp.JSON201.Number, first.Number+1; got != want {
		t.Errorf("number %d, want %d (the next)", got, want)
	}
	b.WantLevel(t, "after both orders", p.Id, loc.Id, 10, 3)
	env.AssertStock(t, b.Brand)
}
