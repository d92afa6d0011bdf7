package server_test

import (
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// orderBrand is a stock brand with helpers for orders.
type orderBrand struct{ stockBrand }

func newOrderBrand(t *testing.T, env *servertest.Env, name string) orderBrand {
	t.Helper()
	return orderBrand{newStockBrand(t, env, name)}
}

func (b orderBrand) create(t *testing.T, key *string, body api.CreateOrderRequest) *api.CreateOrderResponse {
	t.Helper()
	resp, err := b.env.Client.CreateOrderWithResponse(ctx, b.brand, &api.CreateOrderParams{IdempotencyKey: keyOrNone(key)}, body, b.auth)
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return resp
}

func (b orderBrand) mustCreate(t *testing.T, lines ...api.OrderRequestLine) api.Order {
	t.Helper()
	resp := b.create(t, newKey(), orderBody(lines...))
	if resp.JSON201 == nil {
		t.Fatalf("create order: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func (b orderBrand) confirm(t *testing.T, id uuid.UUID) *api.ConfirmOrderResponse {
	t.Helper()
	resp, err := b.env.Client.ConfirmOrderWithResponse(ctx, b.brand, id, &api.ConfirmOrderParams{}, api.ConfirmOrderRequest{}, b.auth)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return resp
}

func (b orderBrand) fulfil(t *testing.T, id uuid.UUID, lines ...api.FulfilmentRequestLine) *api.CreateFulfilmentResponse {
	t.Helper()
	resp, err := b.env.Client.CreateFulfilmentWithResponse(ctx, b.brand, id, &api.CreateFulfilmentParams{}, api.CreateFulfilmentRequest{Lines: lines}, b.auth)
	if err != nil {
		t.Fatalf("fulfil: %v", err)
	}
	return resp
}

func (b orderBrand) cancel(t *testing.T, id uuid.UUID, reason *string) *api.CancelOrderResponse {
	t.Helper()
	resp, err := b.env.Client.CancelOrderWithResponse(ctx, b.brand, id, &api.CancelOrderParams{}, api.CancelOrderRequest{Reason: reason}, b.auth)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	return resp
}

func (b orderBrand) get(t *testing.T, id uuid.UUID) api.Order {
	t.Helper()
	resp, err := b.env.Client.GetOrderWithResponse(ctx, b.brand, id, b.auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("get order: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

func (b orderBrand) events(t *testing.T, id uuid.UUID) []api.OrderEvent {
	t.Helper()
	resp, err := b.env.Client.ListOrderEventsWithResponse(ctx, b.brand, id, &api.ListOrderEventsParams{}, b.auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("events: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Items
}

func fline(id uuid.UUID, n int64) api.FulfilmentRequestLine {
	return api.FulfilmentRequestLine{LineId: id, Quantity: n}
}

// TestOrderLifecycle: an order placed with a key holds its stock and is numbered from 1001; the
// retry answers the same order (Idempotent-Replayed) without a second number; confirm, a partial
// fulfilment and a cancel move the stock through the ledger exactly, and each leaves an event.
func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "life")
	p1, p2 := b.product(t, "LIFE-1"), b.product(t, "LIFE-2")
	la, lb := createLocation(t, env, b.owner, "LA"), createLocation(t, env, b.owner, "LB")
	receive(t, env, b.owner, p1.Id, la.Id, 3)
	receive(t, env, b.owner, p1.Id, lb.Id, 2)
	receive(t, env, b.owner, p2.Id, la.Id, 10)

	key := newKey()
	body := orderBody(oline(p1.Id, 3), oline(p2.Id, 2), oline(p1.Id, 1)) // p1 twice: merged into 4
	first := b.create(t, key, body)
	if first.JSON201 == nil {
		t.Fatalf("create: %d %s", first.StatusCode(), first.Body)
	}
	o := *first.JSON201
	if o.Number != 1001 || o.Status != api.OrderPending || o.Version != 1 || len(o.Lines) != 2 {
		t.Fatalf("order = number %d status %s version %d with %d lines", o.Number, o.Status, o.Version, len(o.Lines))
	}
	if got := first.HTTPResponse.Header.Get("Location"); got != "/brands/"+b.brand.String()+"/orders/"+o.Id.String() {
		t.Errorf("Location %q", got)
	}
	if got := first.HTTPResponse.Header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag %q", got)
	}
	l1, l2 := o.Lines[0], o.Lines[1]
	if l1.ProductId != p1.Id || l1.Quantity != 4 || l1.Sku != "LIFE-1" || l1.PriceAmount != 100 || l1.LineTotal != 400 || l2.LineTotal != 200 {
		t.Errorf("lines = %+v / %+v", l1, l2)
	}
	if o.Subtotal != 600 || o.Total != 600 || o.Currency != "USD" {
		t.Errorf("totals %d %d %s, want 600 600 USD", o.Subtotal, o.Total, o.Currency)
	}
	// The allocation rule: the most available first (LA's 3), then LB.
	if len(l1.Allocations) != 2 || l1.Allocations[0].LocationId != la.Id || l1.Allocations[0].Quantity != 3 || l1.Allocations[1].Quantity != 1 {
		t.Errorf("line 1 allocations %+v", l1.Allocations)
	}
	b.wantLevel(t, "p1 LA held", p1.Id, la.Id, 3, 3)
	b.wantLevel(t, "p1 LB held", p1.Id, lb.Id, 2, 1)
	b.wantLevel(t, "p2 LA held", p2.Id, la.Id, 10, 2)
	if n := len(b.movements(t, api.ListStockMovementsParams{Kind: ptr(api.MovementReservation)})); n != 3 {
		t.Errorf("%d reservation movements, want 3 (one per allocation)", n)
	}

	// The retry: the same order, replayed; no second order, no number consumed.
	again := b.create(t, key, body)
	if again.JSON201 == nil || again.JSON201.Id != o.Id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %d %s", again.StatusCode(), again.Body)
	}
	if next := b.mustCreate(t, oline(p2.Id, 1)); next.Number != 1002 {
		t.Errorf("next order number %d, want 1002", next.Number)
	}

	// Confirm, with a stale If-Match first.
	stale := `"7"`
	resp, err := env.Client.ConfirmOrderWithResponse(ctx, b.brand, o.Id, &api.ConfirmOrderParams{IfMatch: &stale},
		api.ConfirmOrderRequest{PaymentReference: ptr("pi_123")}, b.auth)
	if err != nil || !statusIs(t, "stale confirm", resp.HTTPResponse, resp.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed) {
		t.Fatal(err)
	}
	current := `"1"`
	resp, err = env.Client.ConfirmOrderWithResponse(ctx, b.brand, o.Id, &api.ConfirmOrderParams{IfMatch: &current},
		api.ConfirmOrderRequest{PaymentReference: ptr("pi_123")}, b.auth)
	if err != nil || resp.JSON200 == nil || resp.JSON200.Status != api.OrderConfirmed || resp.JSON200.Version != 2 ||
		resp.JSON200.PaymentReference == nil || *resp.JSON200.PaymentReference != "pi_123" {
		t.Fatalf("confirm = %d %s", resp.StatusCode(), resp.Body)
	}

	// Ship 3 of line 1 (LA's 3) and all of line 2.
	f := b.fulfil(t, o.Id, fline(l1.Id, 2), fline(l2.Id, 2), fline(l1.Id, 1))
	if f.JSON201 == nil || f.JSON201.OrderStatus != api.OrderPartiallyFulfilled || f.JSON201.OrderVersion != 3 || len(f.JSON201.Lines) != 2 {
		t.Fatalf("fulfil = %d %s", f.StatusCode(), f.Body)
	}
	b.wantLevel(t, "p1 LA shipped", p1.Id, la.Id, 0, 0)
	b.wantLevel(t, "p1 LB still held", p1.Id, lb.Id, 2, 1)
	b.wantLevel(t, "p2 LA shipped", p2.Id, la.Id, 8, 1) // the second order holds 1
	over := b.fulfil(t, o.Id, fline(l1.Id, 2))
	if statusIs(t, "over-fulfil", over.HTTPResponse, over.ApplicationproblemJSON422, 422, api.ProblemCodeOverFulfilment) {
		wantLines(t, "over-fulfil", over.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p1.Id, Requested: ptr[int64](2), Available: ptr[int64](1)})
	}
	unknown := b.fulfil(t, o.Id, fline(uuid.New(), 1))
	statusIs(t, "unknown line", unknown.HTTPResponse, unknown.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	// Cancel the rest: LB's hold is released, the shipped units stay shipped.
	c := b.cancel(t, o.Id, ptr("customer asked"))
	if c.JSON200 == nil || c.JSON200.Status != api.OrderCancelled || c.JSON200.CancelReason == nil || len(c.JSON200.AllowedActions) != 0 {
		t.Fatalf("cancel = %d %s", c.StatusCode(), c.Body)
	}
	b.wantLevel(t, "p1 LB released", p1.Id, lb.Id, 2, 0)
	got := b.get(t, o.Id)
	if got.Lines[0].FulfilledQuantity != 3 || got.Lines[1].FulfilledQuantity != 2 || got.Version != 4 {
		t.Errorf("after cancel: fulfilled %d %d version %d", got.Lines[0].FulfilledQuantity, got.Lines[1].FulfilledQuantity, got.Version)
	}
	rel := b.movements(t, api.ListStockMovementsParams{Kind: ptr(api.MovementRelease)})
	if len(rel) != 1 || rel[0].ReservedDelta != -1 || rel[0].LocationId != lb.Id {
		t.Errorf("release movements %+v, want one of -1 at LB", rel)
	}
	ful := b.movements(t, api.ListStockMovementsParams{Kind: ptr(api.MovementFulfilment)})
	if len(ful) != 2 {
		t.Errorf("%d fulfilment movements, want 2", len(ful))
	}

	evs := b.events(t, o.Id)
	want := []api.OrderEventAction{api.OrderEventCreate, api.OrderEventConfirm, api.OrderEventFulfil, api.OrderEventCancel}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, e := range evs {
		if e.Action != want[i] || e.ActorId == nil || *e.ActorId != b.owner.User.Id {
			t.Errorf("event %d = %s by %v", i, e.Action, e.ActorId)
		}
	}
	if evs[3].Reason == nil || *evs[3].Reason != "customer asked" || evs[3].FromStatus == nil || *evs[3].FromStatus != api.OrderPartiallyFulfilled {
		t.Errorf("cancel event %+v", evs[3])
	}
	fs, err := env.Client.ListFulfilmentsWithResponse(ctx, b.brand, o.Id, &api.ListFulfilmentsParams{}, b.auth)
	if err != nil || fs.JSON200 == nil || len(fs.JSON200.Items) != 1 || fs.JSON200.Items[0].OrderStatus != api.OrderCancelled {
		t.Errorf("fulfilments = %v %s", err, fs.Body)
	}
	assertLedger(t, env, b.brand)
}

// TestOrderIdempotencyKeyRequired: without a key, nothing is created (400 idempotency_key_required).
func TestOrderIdempotencyKeyRequired(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "nokey")
	p := b.product(t, "NK-1")
	loc := createLocation(t, env, b.owner, "NK")
	receive(t, env, b.owner, p.Id, loc.Id, 5)
	resp := b.create(t, nil, orderBody(oline(p.Id, 1)))
	statusIs(t, "no key", resp.HTTPResponse, resp.ApplicationproblemJSON400, 400, api.ProblemCodeIdempotencyKeyRequired)
	b.wantLevel(t, "nothing held", p.Id, loc.Id, 5, 0)
	if o := b.mustCreate(t, oline(p.Id, 1)); o.Number != 1001 {
		t.Errorf("first order number %d, want 1001", o.Number)
	}
}

// TestOrderTransitions tries every action on an order in every status: exactly the diagram's
// arrows succeed; every other pair is a 409 naming the current status and the allowed actions.
func TestOrderTransitions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "fsm")
	p := b.product(t, "FSM-1")
	loc := createLocation(t, env, b.owner, "FSM")
	receive(t, env, b.owner, p.Id, loc.Id, 1000)

	// An order in the given status, of 2 units.
	in := func(status api.OrderStatus) api.Order {
		o := b.mustCreate(t, oline(p.Id, 2))
		switch status {
		case api.OrderPending:
		case api.OrderCancelled:
			b.cancel(t, o.Id, nil)
		default:
			b.confirm(t, o.Id)
			switch status {
			case api.OrderPartiallyFulfilled:
				b.fulfil(t, o.Id, fline(o.Lines[0].Id, 1))
			case api.OrderFulfilled:
				b.fulfil(t, o.Id, fline(o.Lines[0].Id, 2))
			}
		}
		if got := b.get(t, o.Id); got.Status != status {
			t.Fatalf("setting up %s: order is %s", status, got.Status)
		}
		return b.get(t, o.Id)
	}
	allowed := map[api.OrderStatus]map[api.OrderAction]api.OrderStatus{
		api.OrderPending:            {api.OrderActionConfirm: api.OrderConfirmed, api.OrderActionCancel: api.OrderCancelled},
		api.OrderConfirmed:          {api.OrderActionFulfil: api.OrderPartiallyFulfilled, api.OrderActionCancel: api.OrderCancelled},
		api.OrderPartiallyFulfilled: {api.OrderActionFulfil: api.OrderFulfilled, api.OrderActionCancel: api.OrderCancelled}, // the rest
		api.OrderFulfilled:          {},
		api.OrderCancelled:          {},
	}
	for from, arrows := range allowed {
		for _, action := range []api.OrderAction{api.OrderActionConfirm, api.OrderActionFulfil, api.OrderActionCancel} {
			what := fmt.Sprintf("%s on %s", action, from)
			o := in(from)
			var status int
			var p *api.Problem
			var after api.OrderStatus
			switch action {
			case api.OrderActionConfirm:
				r := b.confirm(t, o.Id)
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			case api.OrderActionFulfil:
				r := b.fulfil(t, o.Id, fline(o.Lines[0].Id, 1))
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			case api.OrderActionCancel:
				r := b.cancel(t, o.Id, nil)
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			}
			after = b.get(t, o.Id).Status
			if want, ok := arrows[action]; ok {
				if status >= 300 || after != want {
					t.Errorf("%s: %d, order %s; want success and %s", what, status, after, want)
				}
				continue
			}
			if status != http.StatusConflict || p == nil || p.Code != api.ProblemCodeInvalidOrderTransition ||
				p.CurrentStatus == nil || *p.CurrentStatus != from || p.AllowedActions == nil || len(*p.AllowedActions) != len(arrows) {
				t.Errorf("%s: %d %+v, want 409 invalid_order_transition naming %s", what, status, p, from)
			}
			if after != from {
				t.Errorf("%s: refused but the order moved to %s", what, after)
			}
		}
	}
	assertLedger(t, env, b.brand)
}

// TestOrderMoney: totals are exact up to the int64 edge; one unit more is a 422, never a wrap; a
// currency mix is refused; nothing is held by a refused order.
func TestOrderMoney(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "money")
	active := api.Active
	const maxPrice = 1_000_000_000_000_000 // the spec's PriceAmount maximum
	big := createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "BIG", Name: "big", PriceAmount: maxPrice, Status: &active})
	odd := createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "ODD", Name: "odd", PriceAmount: 223_372_036_854_775, Status: &active})
	eur := createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "EUR", Name: "eur", PriceAmount: 5, Currency: ptr("EUR"), Status: &active})
	loc := createLocation(t, env, b.owner, "MONEY")
	for _, p := range []uuid.UUID{big.Id, odd.Id, eur.Id} {
		receive(t, env, b.owner, p, loc.Id, 100_000)
	}

	// 9,223 × 10^15 + 1 × 223,372,036,854,775 = 9,223,223,372,036,854,775 (≤ MaxInt64).
	o := b.mustCreate(t, oline(big.Id, 9223), oline(odd.Id, 1))
	if want := int64(9_223_223_372_036_854_775); o.Total != want || o.Subtotal != want || o.Lines[0].LineTotal != 9_223_000_000_000_000_000 {
		t.Errorf("total %d, want %d", o.Total, want)
	}
	if math.MaxInt64-o.Total >= maxPrice {
		t.Errorf("the test is not at the edge")
	}
	for name, body := range map[string]api.CreateOrderRequest{
		"a line past int64":   orderBody(oline(big.Id, 9224)),
		"a total past int64":  orderBody(oline(big.Id, 9223), oline(odd.Id, 1000)),
		"a huge single price": orderBody(oline(big.Id, 100_000)),
	} {
		r := b.create(t, newKey(), body)
		statusIs(t, name, r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeAmountOverflow)
	}
	mix := b.create(t, newKey(), orderBody(oline(odd.Id, 1), oline(eur.Id, 1)))
	statusIs(t, "currency mix", mix.HTTPResponse, mix.ApplicationproblemJSON422, 422, api.ProblemCodeCurrencyMismatch)
	b.wantLevel(t, "big", big.Id, loc.Id, 100_000, 9223)
	b.wantLevel(t, "odd", odd.Id, loc.Id, 100_000, 1)
	b.wantLevel(t, "eur", eur.Id, loc.Id, 100_000, 0)
	if next := b.mustCreate(t, oline(eur.Id, 1)); next.Number != 1002 || next.Currency != "EUR" {
		t.Errorf("after refusals: number %d currency %s, want 1002 EUR (refusals consume no number)", next.Number, next.Currency)
	}
	assertLedger(t, env, b.brand)
}

// TestOrderConsumesReservation: the order takes over a reservation's holds (reserved never falls
// in between: it is one transaction), releases its surplus and consumes it; a reservation that
// does not cover the lines, has ended, or is another brand's is refused and changes nothing.
func TestOrderConsumesReservation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "consume")
	p := b.product(t, "CON-1")
	loc := createLocation(t, env, b.owner, "CON")
	receive(t, env, b.owner, p.Id, loc.Id, 10)
	r := b.mustReserve(t, line(p.Id, nil, 3))

	short := orderBody(oline(p.Id, 4))
	short.ReservationId = &r.Id
	resp := b.create(t, newKey(), short)
	if statusIs(t, "mismatch", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeReservationMismatch) {
		wantLines(t, "mismatch", resp.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p.Id, Requested: ptr[int64](4), Available: ptr[int64](3)})
	}
	other := b.product(t, "CON-2")
	receive(t, env, b.owner, other.Id, loc.Id, 1)
	wrong := orderBody(oline(other.Id, 1))
	wrong.ReservationId = &r.Id
	resp = b.create(t, newKey(), wrong)
	statusIs(t, "other product", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeReservationMismatch)
	b.wantLevel(t, "after mismatches", p.Id, loc.Id, 10, 3)

	body := orderBody(oline(p.Id, 2))
	body.ReservationId = &r.Id
	o := b.create(t, newKey(), body)
	if o.JSON201 == nil || o.JSON201.ReservationId == nil || *o.JSON201.ReservationId != r.Id {
		t.Fatalf("consume: %d %s", o.StatusCode(), o.Body)
	}
	b.wantLevel(t, "taken over", p.Id, loc.Id, 10, 2)
	got, err := env.Client.GetReservationWithResponse(ctx, b.brand, r.Id, b.auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Status != api.ReservationConsumed {
		t.Fatalf("reservation after = %s", got.Body)
	}
	byOrder := 0
	for _, m := range b.movements(t, api.ListStockMovementsParams{ReservationId: &r.Id}) {
		if m.OrderId != nil && *m.OrderId == o.JSON201.Id {
			byOrder++
		}
	}
	if byOrder != 2 {
		t.Errorf("%d movements name both the reservation and the order, want 2 (release, reservation)", byOrder)
	}
	again := b.create(t, newKey(), body)
	statusIs(t, "consumed again", again.HTTPResponse, again.ApplicationproblemJSON409, 409, api.ProblemCodeReservationNotActive)

	// Another brand's reservation is not found.
	c := newOrderBrand(t, env, "consume-other")
	cp := c.product(t, "CON-X")
	cl := createLocation(t, env, c.owner, "CONX")
	receive(t, env, c.owner, cp.Id, cl.Id, 5)
	cr := c.mustReserve(t, line(cp.Id, nil, 1))
	theirs := orderBody(oline(p.Id, 1))
	theirs.ReservationId = &cr.Id
	resp = b.create(t, newKey(), theirs)
	statusIs(t, "other brand's reservation", resp.HTTPResponse, resp.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	c.wantLevel(t, "their hold", cp.Id, cl.Id, 5, 1)

	// Cancelling the order releases what it took over.
	b.cancel(t, o.JSON201.Id, nil)
	b.wantLevel(t, "after cancel", p.Id, loc.Id, 10, 0)
	assertLedger(t, env, b.brand)
	assertLedger(t, env, c.brand)
}

// TestOrderRefusals: other brands' products, unusable text, huge quantities, drafts, short stock
// and a taken externalReference are refused with their own problem, and hold nothing.
func TestOrderRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "refuse")
	p := b.product(t, "REF-1")
	loc := createLocation(t, env, b.owner, "REF")
	receive(t, env, b.owner, p.Id, loc.Id, 5)
	draft := createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "REF-D", Name: "draft", PriceAmount: 1})
	c := newOrderBrand(t, env, "refuse-other")
	theirs := c.product(t, "REF-X")

	r := b.create(t, newKey(), orderBody(oline(theirs.Id, 1)))
	statusIs(t, "other brand's product", r.HTTPResponse, r.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	r = b.create(t, newKey(), orderBody(oline(draft.Id, 1), oline(p.Id, 1)))
	if statusIs(t, "draft", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeProductUnavailable) {
		wantLines(t, "draft", r.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: draft.Id})
	}
	r = b.create(t, newKey(), orderBody(oline(p.Id, 6)))
	if statusIs(t, "short", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock) {
		wantLines(t, "short", r.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p.Id, Requested: ptr[int64](6), Available: ptr[int64](5)})
	}
	r = b.create(t, newKey(), orderBody(oline(p.Id, 60_000), oline(p.Id, 60_000)))
	statusIs(t, "merged past 100000", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	path := "/brands/" + b.brand.String() + "/orders"
	valid := func(name, extra string) string {
		return `{"lines":[{"productId":"` + p.Id.String() + `","quantity":1}],"customer":{"email":"a@example.com","name":` + name +
			`},"shippingAddress":{"line1":"1 St","city":"X","country":"GB"}` + extra + `}`
	}
	for what, raw := range map[string]string{
		"NUL in a name":          valid(`"a\u0000b"`, ""),
		"lone surrogate":         valid(`"a\ud800b"`, ""),
		"quantity 10^12":         `{"lines":[{"productId":"` + p.Id.String() + `","quantity":1000000000000}],"customer":{"email":"a@example.com","name":"A"},"shippingAddress":{"line1":"1 St","city":"X","country":"GB"}}`,
		"quantity past int64":    `{"lines":[{"productId":"` + p.Id.String() + `","quantity":99999999999999999999}],"customer":{"email":"a@example.com","name":"A"},"shippingAddress":{"line1":"1 St","city":"X","country":"GB"}}`,
		"unknown field":          valid(`"A"`, `,"total":1`),
		"no shipping address":    `{"lines":[{"productId":"` + p.Id.String() + `","quantity":1}],"customer":{"email":"a@example.com","name":"A"}}`,
		"251 lines":              `{"lines":[` + repeatLine(p.Id, 251) + `],"customer":{"email":"a@example.com","name":"A"},"shippingAddress":{"line1":"1 St","city":"X","country":"GB"}}`,
		"NUL in the note":        valid(`"A"`, `,"note":"x\u0000"`),
		"external ref too long":  valid(`"A"`, `,"externalReference":"`+string(make([]byte, 0))+repeat("r", 101)+`"`),
		"zero quantity":          `{"lines":[{"productId":"` + p.Id.String() + `","quantity":0}],"customer":{"email":"a@example.com","name":"A"},"shippingAddress":{"line1":"1 St","city":"X","country":"GB"}}`,
		"other brand's id shape": valid(`"A"`, `,"reservationId":"not-a-uuid"`),
	} {
		resp := doKeyed(t, env, b.owner.AccessToken, path, raw, newKey())
		pr := servertest.ReadProblem(t, resp)
		if resp.StatusCode != 400 || pr.Code != api.ProblemCodeValidationFailed {
			t.Errorf("%s: %d %s, want 400 validation_failed", what, resp.StatusCode, pr.Code)
		}
	}
	first := orderBody(oline(p.Id, 1))
	first.ExternalReference = ptr("shop-1")
	if r := b.create(t, newKey(), first); r.JSON201 == nil {
		t.Fatalf("first: %d %s", r.StatusCode(), r.Body)
	}
	r = b.create(t, newKey(), first)
	statusIs(t, "external reference taken", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeExternalReferenceTaken)
	b.wantLevel(t, "one order holds one unit", p.Id, loc.Id, 5, 1)
	if o := b.mustCreate(t, oline(p.Id, 1)); o.Number != 1002 {
		t.Errorf("number after refusals %d, want 1002", o.Number)
	}
	assertLedger(t, env, b.brand)
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func repeatLine(p uuid.UUID, n int) string {
	out := ""
	for i := range n {
		if i > 0 {
			out += ","
		}
		out += `{"productId":"` + p.String() + `","quantity":1}`
	}
	return out
}

// TestOrderList: newest first, filtered by status and found by number, email or reference.
func TestOrderList(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "list")
	p := b.product(t, "LIST-1")
	loc := createLocation(t, env, b.owner, "LIST")
	receive(t, env, b.owner, p.Id, loc.Id, 10)
	o1 := b.mustCreate(t, oline(p.Id, 1))
	body := orderBody(oline(p.Id, 1))
	body.Customer.Email = "Grace@Example.com"
	body.ExternalReference = ptr("cart-9")
	o2r := b.create(t, newKey(), body)
	if o2r.JSON201 == nil {
		t.Fatal(string(o2r.Body))
	}
	o2 := *o2r.JSON201
	b.confirm(t, o1.Id)
	list := func(params api.ListOrdersParams) []uuid.UUID {
		t.Helper()
		r, err := env.Client.ListOrdersWithResponse(ctx, b.brand, &params, b.auth)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list: %v %s", err, r.Body)
		}
		var ids []uuid.UUID
		for _, o := range r.JSON200.Items {
			ids = append(ids, o.Id)
		}
		return ids
	}
	eq := func(what string, got []uuid.UUID, want ...uuid.UUID) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	eq("all", list(api.ListOrdersParams{}), o2.Id, o1.Id)
	eq("confirmed", list(api.ListOrdersParams{Status: ptr(api.OrderConfirmed)}), o1.Id)
	eq("by number", list(api.ListOrdersParams{Q: ptr("1002")}), o2.Id)
	eq("by email", list(api.ListOrdersParams{Q: ptr("grace@example.COM")}), o2.Id)
	eq("by reference", list(api.ListOrdersParams{Q: ptr("cart-9")}), o2.Id)
	eq("page 1", list(api.ListOrdersParams{Limit: ptr(1)}), o2.Id)
	eq("after now", list(api.ListOrdersParams{CreatedAfter: ptr(env.Clock.Now().Add(1e9))}))
}
