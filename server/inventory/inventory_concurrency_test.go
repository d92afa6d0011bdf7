package inventory_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestInventoryConcurrentReservationsNeverOversell: 200 one-unit reservations at once against 50
// available units (the Magento MSI #2722 and Medusa #16569 race): exactly 50 hold a unit, the 150
// others are refused with insufficient_stock, reserved is 50, and the ledger sums to the level.
func TestInventoryConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "hot")
	p := b.Product(t, "HOT-1")
	loc := b.Location(t, "HOT")
	b.Receive(t, p.Id, loc.Id, 50)

	var res servertest.Outcomes
	var held atomic.Int64
	servertest.AtOnce(200, func(int) {
		resp, err := env.Client.CreateReservationWithResponse(ctx, b.Brand, &api.CreateReservationParams{},
			api.CreateReservationRequest{Lines: []api.ReservationRequestLine{servertest.HoldLine(p.Id, nil, 1)}}, b.Auth)
		if err != nil {
			t.Errorf("reserve: %v", err)
			return
		}
		res.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
		if resp.JSON201 != nil {
			held.Add(resp.JSON201.Lines[0].Quantity)
		}
	})
	if res.Status[201] != 50 || res.Status[422] != 150 || res.Codes[api.ProblemCodeInsufficientStock] != 150 || len(res.Status) != 2 {
		t.Errorf("answers %v (codes %v), want 50 × 201 and 150 × 422 insufficient_stock", res.Status, res.Codes)
	}
	if held.Load() != 50 {
		t.Errorf("successful reservations hold %d units, want 50", held.Load())
	}
	b.WantLevel(t, "after the rush", p.Id, loc.Id, 50, 50)
	if n := len(b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementReservation)})); n != 50 {
		t.Errorf("%d reservation movements, want 50", n)
	}
	env.AssertStock(t, b.Brand)
}

// TestInventoryMultiLineReservationsInOppositeOrders: reservations naming the same two levels in
// opposite orders cannot deadlock (one lock order whatever the request's), and each holds both
// lines or nothing: the two levels' reserved counts stay equal to the number of successes.
func TestInventoryMultiLineReservationsInOppositeOrders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "cross")
	p1, p2 := b.Product(t, "X-1"), b.Product(t, "X-2")
	la, lb := b.Location(t, "XA"), b.Location(t, "XB")
	b.Receive(t, p1.Id, la.Id, 20)
	b.Receive(t, p2.Id, lb.Id, 40)

	var res servertest.Outcomes
	var ok atomic.Int64
	servertest.AtOnce(60, func(i int) {
		lines := []api.ReservationRequestLine{servertest.HoldLine(p1.Id, &la.Id, 1), servertest.HoldLine(p2.Id, &lb.Id, 1)}
		if i%2 == 1 {
			lines[0], lines[1] = lines[1], lines[0]
		}
		if i%3 == 0 { // some lines left to the allocation rule: the same levels, found another way
			lines[0].LocationId = nil
		}
		resp, err := env.Client.CreateReservationWithResponse(ctx, b.Brand, &api.CreateReservationParams{},
			api.CreateReservationRequest{Lines: lines}, b.Auth)
		if err != nil {
			t.Errorf("reserve: %v", err)
			return
		}
		res.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
		if r := resp.JSON201; r != nil {
			ok.Add(1)
			if len(r.Lines) != 2 || r.Lines[0].Quantity != 1 || r.Lines[1].Quantity != 1 {
				t.Errorf("a reservation holds %+v, want both lines", r.Lines)
			}
		}
	})
	if res.Status[201] != 20 || res.Status[422] != 40 || res.Codes[api.ProblemCodeInsufficientStock] != 40 {
		t.Errorf("answers %v (codes %v), want 20 × 201 and 40 × 422", res.Status, res.Codes)
	}
	b.WantLevel(t, "p1 at A", p1.Id, la.Id, 20, ok.Load())
	b.WantLevel(t, "p2 at B", p2.Id, lb.Id, 40, ok.Load())
	env.AssertStock(t, b.Brand)
}

// TestInventoryConcurrentTransfersBothWays: transfers A→B and B→A at once lose no update: the
// total is conserved, each location ends at its start plus what came in minus what went out, and
// the only refusals are insufficient_stock.
func TestInventoryConcurrentTransfersBothWays(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "swap")
	p := b.Product(t, "SW-1")
	la, lb := b.Location(t, "SA"), b.Location(t, "SB")
	b.Receive(t, p.Id, la.Id, 100)
	b.Receive(t, p.Id, lb.Id, 100)

	var res servertest.Outcomes
	var ab, ba atomic.Int64
	servertest.AtOnce(40, func(i int) {
		body := api.StockTransferRequest{ProductId: p.Id, FromLocationId: la.Id, ToLocationId: lb.Id, Quantity: 7}
		if i%2 == 1 {
			body = api.StockTransferRequest{ProductId: p.Id, FromLocationId: lb.Id, ToLocationId: la.Id, Quantity: 3}
		}
		resp, err := env.Client.CreateStockTransferWithResponse(ctx, b.Brand, &api.CreateStockTransferParams{}, body, b.Auth)
		if err != nil {
			t.Errorf("transfer: %v", err)
			return
		}
		res.Add(resp.StatusCode(), resp.ApplicationproblemJSON422)
		if resp.JSON201 != nil {
			if len(resp.JSON201.MovementIds) != 2 {
				t.Errorf("a transfer appended %d movements, want 2", len(resp.JSON201.MovementIds))
			}
			if i%2 == 0 {
				ab.Add(1)
			} else {
				ba.Add(1)
			}
		}
	})
	if res.Status[201]+res.Status[422] != 40 || res.Status[422] != res.Codes[api.ProblemCodeInsufficientStock] {
		t.Errorf("answers %v (codes %v), want only 201 and 422 insufficient_stock", res.Status, res.Codes)
	}
	a, bb := b.Level(t, p.Id, la.Id), b.Level(t, p.Id, lb.Id)
	if a.OnHand+bb.OnHand != 200 {
		t.Errorf("total %d + %d, want 200 conserved", a.OnHand, bb.OnHand)
	}
	if want := 100 - 7*ab.Load() + 3*ba.Load(); a.OnHand != want {
		t.Errorf("A holds %d after %d transfers out and %d in, want %d", a.OnHand, ab.Load(), ba.Load(), want)
	}
	outs := b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementTransferOut)})
	ins := b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementTransferIn)})
	if int64(len(outs)) != ab.Load()+ba.Load() || len(ins) != len(outs) {
		t.Errorf("%d transfer_out and %d transfer_in movements for %d transfers", len(outs), len(ins), ab.Load()+ba.Load())
	}
	env.AssertStock(t, b.Brand)
}

// TestInventoryAdjustmentsRaceCounts: receipts race cycle counts that compare-and-set on
// expectedOnHand. A count applies only to the onHand it saw, so none erases a receipt (the
// nopCommerce #8085 lost update): the final onHand is the start plus every receipt plus every
// applied count's difference. Counts that lost the race get 409 stock_changed giving the current
// onHand.
func TestInventoryAdjustmentsRaceCounts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "count")
	p := b.Product(t, "CT-1")
	loc := b.Location(t, "CT")
	b.Receive(t, p.Id, loc.Id, 100)

	const counted = 1000 // each applied count finds 1000 more than it expected
	var res servertest.Outcomes
	var receipts, counts atomic.Int64
	servertest.AtOnce(30, func(i int) {
		if i%3 != 0 {
			resp, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.Brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
				Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: p.Id, LocationId: loc.Id, Delta: 1}},
			}, b.Auth)
			if err != nil {
				t.Errorf("receipt: %v", err)
				return
			}
			res.Add(resp.StatusCode(), nil)
			if resp.JSON201 != nil {
				receipts.Add(1)
			}
			return
		}
		// A counter retries from the onHand a refusal reports, as a client would.
		seen := b.Level(t, p.Id, loc.Id).OnHand
		for range 50 {
			resp, err := env.Client.CreateStockCountWithResponse(ctx, b.Brand, &api.CreateStockCountParams{}, api.StockCountRequest{
				Lines: []api.StockCountLine{{ProductId: p.Id, LocationId: loc.Id, OnHand: seen + counted, ExpectedOnHand: &seen}},
			}, b.Auth)
			if err != nil {
				t.Errorf("count: %v", err)
				return
			}
			res.Add(resp.StatusCode(), resp.ApplicationproblemJSON409)
			if resp.JSON201 != nil {
				counts.Add(1)
				return
			}
			if resp.ApplicationproblemJSON409 == nil {
				return
			}
			servertest.WantLines(t, "lost count", resp.ApplicationproblemJSON409, api.ProblemLine{ProductId: p.Id, LocationId: &loc.Id, ExpectedOnHand: &seen})
			l := *resp.ApplicationproblemJSON409.Lines
			if len(l) != 1 || l[0].OnHand == nil || *l[0].OnHand == seen {
				t.Errorf("a lost count's lines %+v, want the current onHand (not %d)", l, seen)
				return
			}
			seen = *l[0].OnHand
		}
	})
	if res.Status[201] != 20+int(counts.Load()) || res.Status[409] != res.Codes[api.ProblemCodeStockChanged] || len(res.Status) > 2 {
		t.Errorf("answers %v (codes %v), want only 201 and 409 stock_changed", res.Status, res.Codes)
	}
	if counts.Load() == 0 {
		t.Error("no count applied")
	}
	t.Logf("%d receipts, %d counts applied, %d counts lost the race", receipts.Load(), counts.Load(), res.Status[409])
	want := 100 + receipts.Load() + counted*counts.Load()
	b.WantLevel(t, "after the race", p.Id, loc.Id, want, 0)

	// A count from a stale read is refused whatever the timing, and writes nothing.
	stale := int64(100)
	resp, err := env.Client.CreateStockCountWithResponse(ctx, b.Brand, &api.CreateStockCountParams{}, api.StockCountRequest{
		Lines: []api.StockCountLine{{ProductId: p.Id, LocationId: loc.Id, OnHand: 5, ExpectedOnHand: &stale}},
	}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	if servertest.StatusIs(t, "stale count", resp.HTTPResponse, resp.ApplicationproblemJSON409, 409, api.ProblemCodeStockChanged) {
		servertest.WantLines(t, "stale count", resp.ApplicationproblemJSON409, api.ProblemLine{ProductId: p.Id, LocationId: &loc.Id, ExpectedOnHand: &stale, OnHand: &want})
	}
	b.WantLevel(t, "after the stale count", p.Id, loc.Id, want, 0)
	env.AssertStock(t, b.Brand)
}

// TestInventoryExpiredReservationNeverBlocksASale: a hold past its expiry gives its stock to the
// next request before any sweeper runs; the sweeper then releases only what is still held, once
// (one release movement per allocation), and reads the same whether one or two sweepers run.
func TestInventoryExpiredReservationNeverBlocksASale(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "expiry")
	p := b.Product(t, "EX-1")
	l1, l2 := b.Location(t, "E1"), b.Location(t, "E2")
	b.Receive(t, p.Id, l1.Id, 3)
	b.Receive(t, p.Id, l2.Id, 2)

	old := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 5)) // all of it, split over both locations
	if len(old.Lines[0].Allocations) != 2 {
		t.Fatalf("old reservation allocations %+v, want two", old.Lines[0].Allocations)
	}
	refused := b.Reserve(t, servertest.HoldLine(p.Id, nil, 1))
	servertest.StatusIs(t, "reserve while held", refused.HTTPResponse, refused.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock)

	env.Clock.Advance(15*time.Minute + time.Second) // past the default 900 s
	b = b.Relogin(t)
	fresh := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 5))
	if fresh.Status != api.ReservationActive {
		t.Errorf("new reservation status %s", fresh.Status)
	}
	got, err := env.Client.GetReservationWithResponse(ctx, b.Brand, old.Id, b.Auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Status != api.ReservationExpired {
		t.Fatalf("old reservation = %d %s, want expired", got.StatusCode(), got.Body)
	}
	b.WantLevel(t, "L1", p.Id, l1.Id, 3, 3)
	b.WantLevel(t, "L2", p.Id, l2.Id, 2, 2)

	// The request that needed the old hold's stock did not release it (a sale never pays for
	// that cleanup, issue 16): the sweeper does.
	n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
	if err != nil || n != 1 {
		t.Fatalf("sweep of the old reservation = %d, %v; want 1", n, err)
	}
	b.WantLevel(t, "L1 after the first sweep", p.Id, l1.Id, 3, 3)
	env.Clock.Advance(15*time.Minute + time.Second)
	b = b.Relogin(t)
	n, err = server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
	if err != nil || n != 1 {
		t.Fatalf("sweep of the new reservation = %d, %v; want 1", n, err)
	}
	for _, r := range []api.Reservation{old, fresh} {
		rel := b.Movements(t, api.ListStockMovementsParams{ReservationId: &r.Id, Kind: new(api.MovementRelease)})
		if len(rel) != len(r.Lines[0].Allocations) {
			t.Errorf("reservation %s has %d release movements, want one per allocation (%d)", r.Id, len(rel), len(r.Lines[0].Allocations))
		}
	}
	b.WantLevel(t, "L1 after the sweep", p.Id, l1.Id, 3, 0)
	b.WantLevel(t, "L2 after the sweep", p.Id, l2.Id, 2, 0)
	env.AssertStock(t, b.Brand)

	// Two sweepers at once over many expired holds: each released exactly once.
	var ids []uuid.UUID
	for range 12 {
		ids = append(ids, b.MustReserve(t, servertest.HoldLine(p.Id, &l1.Id, 1), servertest.HoldLine(p.Id, &l2.Id, 1)).Id)
		if len(ids) == 2 {
			break // L2 holds only 2 units
		}
	}
	q := b.Product(t, "EX-2")
	b.Receive(t, q.Id, l1.Id, 20)
	for range 10 {
		ids = append(ids, b.MustReserve(t, servertest.HoldLine(q.Id, nil, 2)).Id)
	}
	env.Clock.Advance(15*time.Minute + time.Second)
	b = b.Relogin(t)
	var total atomic.Int64
	servertest.AtOnce(2, func(int) {
		n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now)
		if err != nil {
			t.Errorf("sweeper: %v", err)
		}
		total.Add(int64(n))
	})
	if total.Load() != int64(len(ids)) {
		t.Errorf("two sweepers released %d holds, want %d", total.Load(), len(ids))
	}
	for _, id := range ids {
		r, err := env.Client.GetReservationWithResponse(ctx, b.Brand, id, b.Auth)
		if err != nil || r.JSON200 == nil {
			t.Fatal(err)
		}
		allocs := 0
		for _, l := range r.JSON200.Lines {
			allocs += len(l.Allocations)
		}
		rel := b.Movements(t, api.ListStockMovementsParams{ReservationId: &id, Kind: new(api.MovementRelease)})
		if r.JSON200.Status != api.ReservationExpired || len(rel) != allocs {
			t.Errorf("reservation %s: %s with %d release movements, want expired with %d", id, r.JSON200.Status, len(rel), allocs)
		}
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM reservations WHERE status = 'active'`); n != 0 {
		t.Errorf("%d reservations still active after the sweep", n)
	}
	b.WantLevel(t, "L1 after two sweepers", p.Id, l1.Id, 3, 0)
	b.WantLevel(t, "q at L1 after two sweepers", q.Id, l1.Id, 20, 0)
	env.AssertStock(t, b.Brand)
}

// TestInventoryIdempotencyConcurrentRetries: 20 requests with one Idempotency-Key at once have
// one effect; every other answer is the first one replayed or 409 in flight with Retry-After.
func TestInventoryIdempotencyConcurrentRetries(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.PatientBrands)
	b := servertest.NewStockBrand(t, env, "idem")
	p := b.Product(t, "ID-1")
	loc := b.Location(t, "ID")
	b.Receive(t, p.Id, loc.Id, 10)

	key := "order-42-attempt"
	body := api.StockAdjustmentRequest{Kind: api.AdjustmentReceipt, Reference: new("PO-IDEM"),
		Lines: []api.StockAdjustmentLine{{ProductId: p.Id, LocationId: loc.Id, Delta: 5}}}
	type answer struct {
		status   int
		body     []byte
		replayed string
		retry    string
		code     api.ProblemCode
	}
	answers := make([]answer, 20)
	servertest.AtOnce(20, func(i int) {
		resp, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.Brand, &api.CreateStockAdjustmentParams{IdempotencyKey: &key}, body, b.Auth)
		if err != nil {
			t.Errorf("adjust: %v", err)
			return
		}
		a := answer{status: resp.StatusCode(), body: resp.Body, replayed: resp.HTTPResponse.Header.Get("Idempotent-Replayed"), retry: resp.HTTPResponse.Header.Get("Retry-After")}
		if resp.ApplicationproblemJSON409 != nil {
			a.code = resp.ApplicationproblemJSON409.Code
		}
		answers[i] = a
	})
	var first []byte
	var firsts, replays, inFlight int
	for _, a := range answers {
		if a.status == 201 && a.replayed == "" {
			firsts++
			first = a.body
		}
	}
	for _, a := range answers {
		switch {
		case a.status == 201 && a.replayed == "":
		case a.status == 201 && a.replayed == "true":
			replays++
			if !bytes.Equal(a.body, first) {
				t.Errorf("replayed body %s differs from the first %s", a.body, first)
			}
		case a.status == 409 && a.code == api.ProblemCodeIdempotencyKeyInFlight && a.retry != "":
			inFlight++
		default:
			t.Errorf("unexpected answer %d %q (replayed %q, Retry-After %q): %s", a.status, a.code, a.replayed, a.retry, a.body)
		}
	}
	if firsts != 1 || replays+inFlight != 19 {
		t.Errorf("%d first answers, %d replays, %d in flight; want 1 and 19 others", firsts, replays, inFlight)
	}
	t.Logf("%d replays, %d in flight", replays, inFlight)
	if n := len(b.Movements(t, api.ListStockMovementsParams{Reference: new("PO-IDEM")})); n != 1 {
		t.Errorf("%d movements for the key, want one effect", n)
	}
	b.WantLevel(t, "after the retries", p.Id, loc.Id, 15, 0)
	env.AssertStock(t, b.Brand)
}

// TestInventoryIdempotencyKeys: a refusal is stored and replayed like a success; the same key
// with another body is a 422; keys belong to their caller; a replay carries the first answer's
// Location and ETag; past IdempotencyKeyTTL the key runs again; malformed keys are a 400.
func TestInventoryIdempotencyKeys(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "keys")
	p := b.Product(t, "KY-1")
	loc := b.Location(t, "KY")
	b.Receive(t, p.Id, loc.Id, 10)
	staff := env.Member(t, b.Owner, api.InvitationRoleSTAFF)
	adjPath := "/brands/" + b.Brand.String() + "/inventory/adjustments"
	resPath := "/brands/" + b.Brand.String() + "/reservations"
	adjBody := func(delta int64, ref string) string {
		return fmt.Sprintf(`{"kind":"adjustment","reference":%q,"lines":[{"productId":%q,"locationId":%q,"delta":%d}]}`, ref, p.Id, loc.Id, delta)
	}
	send := func(token, path, body string, key string) (*http.Response, []byte) {
		t.Helper()
		resp := env.PostKeyed(t, token, path, body, &key)
		defer func() { _ = resp.Body.Close() }()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, got
	}
	movements := func(ref string) int {
		return len(b.Movements(t, api.ListStockMovementsParams{Reference: &ref}))
	}

	t.Run("a refusal is stored and replayed", func(t *testing.T) {
		first, firstBody := send(b.Owner.AccessToken, adjPath, adjBody(-100, "SHORT"), "short-1")
		again, againBody := send(b.Owner.AccessToken, adjPath, adjBody(-100, "SHORT"), "short-1")
		if first.StatusCode != 422 || !bytes.Contains(firstBody, []byte(`"insufficient_stock"`)) || first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first = %d %s", first.StatusCode, firstBody)
		}
		if again.StatusCode != 422 || !bytes.Equal(againBody, firstBody) || again.Header.Get("Idempotent-Replayed") != "true" ||
			again.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("replay = %d %q %s, want the first answer replayed", again.StatusCode, again.Header.Get("Idempotent-Replayed"), againBody)
		}
		if n := movements("SHORT"); n != 0 {
			t.Errorf("%d movements for a refused change", n)
		}
	})

	t.Run("the same key with another body", func(t *testing.T) {
		first, _ := send(b.Owner.AccessToken, adjPath, adjBody(1, "REUSE"), "reuse-1")
		other, otherBody := send(b.Owner.AccessToken, adjPath, adjBody(2, "REUSE"), "reuse-1")
		elsewhere, elsewhereBody := send(b.Owner.AccessToken, adjPath+"x", adjBody(1, "REUSE"), "reuse-1")
		if first.StatusCode != 201 || other.StatusCode != 422 || !bytes.Contains(otherBody, []byte(`"idempotency_key_reused"`)) {
			t.Errorf("first %d, other body %d %s; want 201 then 422 idempotency_key_reused", first.StatusCode, other.StatusCode, otherBody)
		}
		if elsewhere.StatusCode != 404 {
			t.Errorf("the key on an unknown path = %d %s", elsewhere.StatusCode, elsewhereBody)
		}
		if n := movements("REUSE"); n != 1 {
			t.Errorf("%d movements, want the first request's only", n)
		}
	})

	t.Run("a replay repeats Location and ETag; keys are per caller", func(t *testing.T) {
		body := fmt.Sprintf(`{"reference":"CART-1","lines":[{"productId":%q,"quantity":1}]}`, p.Id)
		first, firstBody := send(b.Owner.AccessToken, resPath, body, `"cart-1"`) // an sf-string ...
		again, againBody := send(b.Owner.AccessToken, resPath, body, `cart-1`)   // ... is the same key as the token
		if first.StatusCode != 201 || again.StatusCode != 201 || !bytes.Equal(firstBody, againBody) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("first %d, replay %d %q: %s / %s", first.StatusCode, again.StatusCode, again.Header.Get("Idempotent-Replayed"), firstBody, againBody)
		}
		for _, h := range []string{"Location", "ETag"} {
			if first.Header.Get(h) == "" || again.Header.Get(h) != first.Header.Get(h) {
				t.Errorf("%s: first %q, replay %q", h, first.Header.Get(h), again.Header.Get(h))
			}
		}
		theirs, theirBody := send(staff.AccessToken, resPath, body, "cart-1")
		if theirs.StatusCode != 201 || theirs.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(theirBody, firstBody) {
			t.Errorf("another caller's same key = %d %q %s, want its own reservation", theirs.StatusCode, theirs.Header.Get("Idempotent-Replayed"), theirBody)
		}
		list, err := env.Client.ListReservationsWithResponse(ctx, b.Brand, &api.ListReservationsParams{}, b.Auth)
		if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 2 {
			t.Errorf("reservations = %s, want the owner's and the staff member's", list.Body)
		}
		b.WantLevel(t, "two holds", p.Id, loc.Id, 11, 2)
	})

	t.Run("malformed keys", func(t *testing.T) {
		for name, key := range map[string]string{
			"empty sf-string":     `""`,
			"256 characters":      strings.Repeat("k", 256),
			"unterminated string": `"abc`,
			"tab inside":          "ab\tcd",
			"non-ASCII":           "clé",
			"backslash in string": `"a\b"`,
		} {
			resp, body := send(b.Owner.AccessToken, adjPath, adjBody(1, "BADKEY"), key)
			var pr api.Problem
			_ = json.Unmarshal(body, &pr)
			if resp.StatusCode != 400 || !hasField(&pr, "header.Idempotency-Key") {
				t.Errorf("%s: %d %s, want 400 naming header.Idempotency-Key", name, resp.StatusCode, body)
			}
		}
		if n := movements("BADKEY"); n != 0 {
			t.Errorf("%d movements from requests with malformed keys", n)
		}
		resp, _ := send(b.Owner.AccessToken, adjPath, adjBody(1, "LONGKEY"), strings.Repeat("k", 255))
		if resp.StatusCode != 201 {
			t.Errorf("a 255-character key = %d", resp.StatusCode)
		}
	})

	// Past the TTL (24 h by default) the key is forgotten: the same request runs again.
	first, firstBody := send(b.Owner.AccessToken, adjPath, adjBody(1, "TTL"), "ttl-1")
	if first.StatusCode != 201 {
		t.Fatalf("first = %d %s", first.StatusCode, firstBody)
	}
	env.Clock.Advance(24*time.Hour - time.Minute)
	b = b.Relogin(t)
	if again, _ := send(b.Owner.AccessToken, adjPath, adjBody(1, "TTL"), "ttl-1"); again.StatusCode != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("just within the TTL = %d %q, want a replay", again.StatusCode, again.Header.Get("Idempotent-Replayed"))
	}
	env.Clock.Advance(2 * time.Minute)
	b = b.Relogin(t)
	later, laterBody := send(b.Owner.AccessToken, adjPath, adjBody(1, "TTL"), "ttl-1")
	if later.StatusCode != 201 || later.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(laterBody, firstBody) {
		t.Errorf("past the TTL = %d %q, want the request run again", later.StatusCode, later.Header.Get("Idempotent-Replayed"))
	}
	if n := movements("TTL"); n != 2 {
		t.Errorf("%d movements for the key, want 2 (before and after the TTL)", n)
	}
	env.AssertStock(t, b.Brand)
}
