package orders_test

import (
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// servertest.StockBrand is a stock brand with helpers for orders.
func fline(id uuid.UUID, n int64) api.FulfilmentRequestLine {
	return api.FulfilmentRequestLine{LineId: id, Quantity: n}
}

// TestOrderLifecycle: an order placed with a key holds its stock and is numbered from 1001; the
// retry answers the same order (Idempotent-Replayed) without a second number; confirm, a partial
// fulfilment and a cancel move the stock through the ledger exactly, and each leaves an event.
func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "life")
	p1, p2 := b.Product(t, "LIFE-1"), b.Product(t, "LIFE-2")
	la, lb := b.Location(t, "LA"), b.Location(t, "LB")
	b.Receive(t, p1.Id, la.Id, 3)
	b.Receive(t, p1.Id, lb.Id, 2)
	b.Receive(t, p2.Id, la.Id, 10)

	key := servertest.NewKey()
	body := servertest.OrderBody(servertest.OrderLine(p1.Id, 3), servertest.OrderLine(p2.Id, 2), servertest.OrderLine(p1.Id, 1)) // p1 twice: merged into 4
	first := b.CreateOrder(t, key, body)
	if first.JSON201 == nil {
		t.Fatalf("create: %d %s", first.StatusCode(), first.Body)
	}
	o := *first.JSON201
	if o.Number != 1001 || o.Status != api.OrderPending || o.Version != 1 || len(o.Lines) != 2 {
		t.Fatalf("order = number %d status %s version %d with %d lines", o.Number, o.Status, o.Version, len(o.Lines))
	}
	if got := first.HTTPResponse.Header.Get("Location"); got != "/brands/"+b.Brand.String()+"/orders/"+o.Id.String() {
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
	b.WantLevel(t, "p1 LA held", p1.Id, la.Id, 3, 3)
	b.WantLevel(t, "p1 LB held", p1.Id, lb.Id, 2, 1)
	b.WantLevel(t, "p2 LA held", p2.Id, la.Id, 10, 2)
	if n := len(b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementReservation)})); n != 3 {
		t.Errorf("%d reservation movements, want 3 (one per allocation)", n)
	}

	// The retry: the same order, replayed; no second order, no number consumed.
	again := b.CreateOrder(t, key, body)
	if again.JSON201 == nil || again.JSON201.Id != o.Id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %d %s", again.StatusCode(), again.Body)
	}
	if next := b.MustCreateOrder(t, servertest.OrderLine(p2.Id, 1)); next.Number != 1002 {
		t.Errorf("next order number %d, want 1002", next.Number)
	}

	// Confirm, with a stale If-Match first.
	stale := `"7"`
	resp, err := env.Client.ConfirmOrderWithResponse(ctx, b.Brand, o.Id, &api.ConfirmOrderParams{IfMatch: &stale},
		api.ConfirmOrderRequest{PaymentReference: new("pi_123")}, b.Auth)
	if err != nil || !servertest.StatusIs(t, "stale confirm", resp.HTTPResponse, resp.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed) {
		t.Fatal(err)
	}
	current := `"1"`
	resp, err = env.Client.ConfirmOrderWithResponse(ctx, b.Brand, o.Id, &api.ConfirmOrderParams{IfMatch: &current},
		api.ConfirmOrderRequest{PaymentReference: new("pi_123")}, b.Auth)
	if err != nil || resp.JSON200 == nil || resp.JSON200.Status != api.OrderConfirmed || resp.JSON200.Version != 2 ||
		resp.JSON200.PaymentReference == nil || *resp.JSON200.PaymentReference != "pi_123" {
		t.Fatalf("confirm = %d %s", resp.StatusCode(), resp.Body)
	}

	// Ship 3 of line 1 (LA's 3) and all of line 2.
	f := b.Fulfil(t, o.Id, fline(l1.Id, 2), fline(l2.Id, 2), fline(l1.Id, 1))
	if f.JSON201 == nil || f.JSON201.OrderStatus != api.OrderPartiallyFulfilled || f.JSON201.OrderVersion != 3 || len(f.JSON201.Lines) != 2 {
		t.Fatalf("fulfil = %d %s", f.StatusCode(), f.Body)
	}
	b.WantLevel(t, "p1 LA shipped", p1.Id, la.Id, 0, 0)
	b.WantLevel(t, "p1 LB still held", p1.Id, lb.Id, 2, 1)
	b.WantLevel(t, "p2 LA shipped", p2.Id, la.Id, 8, 1) // the second order holds 1
	over := b.Fulfil(t, o.Id, fline(l1.Id, 2))
	if servertest.StatusIs(t, "over-fulfil", over.HTTPResponse, over.ApplicationproblemJSON422, 422, api.ProblemCodeOverFulfilment) {
		servertest.WantLines(t, "over-fulfil", over.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p1.Id, Requested: new(int64(2)), Available: new(int64(1))})
	}
	unknown := b.Fulfil(t, o.Id, fline(uuid.New(), 1))
	servertest.StatusIs(t, "unknown line", unknown.HTTPResponse, unknown.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	// Cancel the rest: LB's hold is released, the shipped units stay shipped.
	c := b.CancelOrder(t, o.Id, new("customer asked"))
	if c.JSON200 == nil || c.JSON200.Status != api.OrderCancelled || c.JSON200.CancelReason == nil || len(c.JSON200.AllowedActions) != 0 {
		t.Fatalf("cancel = %d %s", c.StatusCode(), c.Body)
	}
	b.WantLevel(t, "p1 LB released", p1.Id, lb.Id, 2, 0)
	got := b.GetOrder(t, o.Id)
	if got.Lines[0].FulfilledQuantity != 3 || got.Lines[1].FulfilledQuantity != 2 || got.Version != 4 {
		t.Errorf("after cancel: fulfilled %d %d version %d", got.Lines[0].FulfilledQuantity, got.Lines[1].FulfilledQuantity, got.Version)
	}
	rel := b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementRelease)})
	if len(rel) != 1 || rel[0].ReservedDelta != -1 || rel[0].LocationId != lb.Id {
		t.Errorf("release movements %+v, want one of -1 at LB", rel)
	}
	ful := b.Movements(t, api.ListStockMovementsParams{Kind: new(api.MovementFulfilment)})
	if len(ful) != 2 {
		t.Errorf("%d fulfilment movements, want 2", len(ful))
	}

	evs := b.OrderEvents(t, o.Id)
	want := []api.OrderEventAction{api.OrderEventCreate, api.OrderEventConfirm, api.OrderEventFulfil, api.OrderEventCancel}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, e := range evs {
		if e.Action != want[i] || e.ActorId == nil || *e.ActorId != b.Owner.User.Id {
			t.Errorf("event %d = %s by %v", i, e.Action, e.ActorId)
		}
	}
	if evs[3].Reason == nil || *evs[3].Reason != "customer asked" || evs[3].FromStatus == nil || *evs[3].FromStatus != api.OrderPartiallyFulfilled {
		t.Errorf("cancel event %+v", evs[3])
	}
	fs, err := env.Client.ListFulfilmentsWithResponse(ctx, b.Brand, o.Id, &api.ListFulfilmentsParams{}, b.Auth)
	if err != nil || fs.JSON200 == nil || len(fs.JSON200.Items) != 1 || fs.JSON200.Items[0].OrderStatus != api.OrderCancelled {
		t.Errorf("fulfilments = %v %s", err, fs.Body)
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderIdempotencyKeyRequired: without a key, nothing is created (400 idempotency_key_required).
func TestOrderIdempotencyKeyRequired(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "nokey")
	p := b.Product(t, "NK-1")
	loc := b.Location(t, "NK")
	b.Receive(t, p.Id, loc.Id, 5)
	resp := b.CreateOrder(t, nil, servertest.OrderBody(servertest.OrderLine(p.Id, 1)))
	servertest.StatusIs(t, "no key", resp.HTTPResponse, resp.ApplicationproblemJSON400, 400, api.ProblemCodeIdempotencyKeyRequired)
	b.WantLevel(t, "nothing held", p.Id, loc.Id, 5, 0)
	if o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)); o.Number != 1001 {
		t.Errorf("first order number %d, want 1001", o.Number)
	}
}

// TestOrderTransitions tries every action on an order in every status: exactly the diagram's
// arrows succeed; every other pair is a 409 naming the current status and the allowed actions.
func TestOrderTransitions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "fsm")
	p := b.Product(t, "FSM-1")
	loc := b.Location(t, "FSM")
	b.Receive(t, p.Id, loc.Id, 1000)

	// An order in the given status, of 2 units.
	in := func(status api.OrderStatus) api.Order {
		o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 2))
		switch status {
		case api.OrderPending:
		case api.OrderCancelled:
			b.CancelOrder(t, o.Id, nil)
		default:
			b.ConfirmOrder(t, o.Id)
			switch status {
			case api.OrderPartiallyFulfilled:
				b.Fulfil(t, o.Id, fline(o.Lines[0].Id, 1))
			case api.OrderFulfilled:
				b.Fulfil(t, o.Id, fline(o.Lines[0].Id, 2))
			}
		}
		if got := b.GetOrder(t, o.Id); got.Status != status {
			t.Fatalf("setting up %s: order is %s", status, got.Status)
		}
		return b.GetOrder(t, o.Id)
	}
	allowed := map[api.OrderStatus]map[api.OrderAction]api.OrderStatus{
		api.OrderPending:            {api.OrderActionConfirm: api.OrderConfirmed, api.OrderActionCancel: api.OrderCancelled},
		api.OrderConfirmed:          {api.OrderActionFulfil: api.OrderPartiallyFulfilled, api.OrderActionCancel: api.OrderCancelled},
		api.OrderPartiallyFulfilled: {api.OrderActionFulfil: api.OrderFulfilled, api.OrderActionCancel: api.OrderCancelled}, // the rest
		api.OrderFulfilled:          {},
		api.OrderCancelled:          {},
	}
	// Besides these, shipped orders allow `return` (returns_test.go walks it).
	returnable := map[api.OrderStatus]int{api.OrderPartiallyFulfilled: 1, api.OrderFulfilled: 1}
	for from, arrows := range allowed {
		for _, action := range []api.OrderAction{api.OrderActionConfirm, api.OrderActionFulfil, api.OrderActionCancel} {
			what := fmt.Sprintf("%s on %s", action, from)
			o := in(from)
			var status int
			var p *api.Problem
			var after api.OrderStatus
			switch action {
			case api.OrderActionConfirm:
				r := b.ConfirmOrder(t, o.Id)
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			case api.OrderActionFulfil:
				r := b.Fulfil(t, o.Id, fline(o.Lines[0].Id, 1))
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			case api.OrderActionCancel:
				r := b.CancelOrder(t, o.Id, nil)
				status, p = r.StatusCode(), r.ApplicationproblemJSON409
			}
			after = b.GetOrder(t, o.Id).Status
			if want, ok := arrows[action]; ok {
				if status >= 300 || after != want {
					t.Errorf("%s: %d, order %s; want success and %s", what, status, after, want)
				}
				continue
			}
			if status != http.StatusConflict || p == nil || p.Code != api.ProblemCodeInvalidOrderTransition ||
				p.CurrentStatus == nil || *p.CurrentStatus != from || p.AllowedActions == nil || len(*p.AllowedActions) != len(arrows)+returnable[from] {
				t.Errorf("%s: %d %+v, want 409 invalid_order_transition naming %s", what, status, p, from)
			}
			if after != from {
				t.Errorf("%s: refused but the order moved to %s", what, after)
			}
		}
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderMoney: totals are exact up to the int64 edge; one unit more is a 422, never a wrap; a
// currency mix is refused; nothing is held by a refused order.
func TestOrderMoney(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "money")
	active := api.Active
	const maxPrice = 1_000_000_000_000_000 // the spec's PriceAmount maximum
	big := b.CreateProduct(t, api.CreateProductRequest{Sku: "BIG", Name: "big", PriceAmount: maxPrice, Status: &active})
	odd := b.CreateProduct(t, api.CreateProductRequest{Sku: "ODD", Name: "odd", PriceAmount: 223_372_036_854_775, Status: &active})
	eur := b.CreateProduct(t, api.CreateProductRequest{Sku: "EUR", Name: "eur", PriceAmount: 5, Currency: new("EUR"), Status: &active})
	loc := b.Location(t, "MONEY")
	for _, p := range []uuid.UUID{big.Id, odd.Id, eur.Id} {
		b.Receive(t, p, loc.Id, 100_000)
	}

	// 9,223 × 10^15 + 1 × 223,372,036,854,775 = 9,223,223,372,036,854,775 (≤ MaxInt64).
	o := b.MustCreateOrder(t, servertest.OrderLine(big.Id, 9223), servertest.OrderLine(odd.Id, 1))
	if want := int64(9_223_223_372_036_854_775); o.Total != want || o.Subtotal != want || o.Lines[0].LineTotal != 9_223_000_000_000_000_000 {
		t.Errorf("total %d, want %d", o.Total, want)
	}
	if math.MaxInt64-o.Total >= maxPrice {
		t.Errorf("the test is not at the edge")
	}
	for name, body := range map[string]api.CreateOrderRequest{
		"a line past int64":   servertest.OrderBody(servertest.OrderLine(big.Id, 9224)),
		"a total past int64":  servertest.OrderBody(servertest.OrderLine(big.Id, 9223), servertest.OrderLine(odd.Id, 1000)),
		"a huge single price": servertest.OrderBody(servertest.OrderLine(big.Id, 100_000)),
	} {
		r := b.CreateOrder(t, servertest.NewKey(), body)
		servertest.StatusIs(t, name, r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeAmountOverflow)
	}
	mix := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(odd.Id, 1), servertest.OrderLine(eur.Id, 1)))
	servertest.StatusIs(t, "currency mix", mix.HTTPResponse, mix.ApplicationproblemJSON422, 422, api.ProblemCodeCurrencyMismatch)
	b.WantLevel(t, "big", big.Id, loc.Id, 100_000, 9223)
	b.WantLevel(t, "odd", odd.Id, loc.Id, 100_000, 1)
	b.WantLevel(t, "eur", eur.Id, loc.Id, 100_000, 0)
	if next := b.MustCreateOrder(t, servertest.OrderLine(eur.Id, 1)); next.Number != 1002 || next.Currency != "EUR" {
		t.Errorf("after refusals: number %d currency %s, want 1002 EUR (refusals consume no number)", next.Number, next.Currency)
	}
	env.AssertStock(t, b.Brand)
}

// TestOrderConsumesReservation: the order takes over a reservation's holds (reserved never falls
// in between: it is one transaction), releases its surplus and consumes it; a reservation that
// does not cover the lines, has ended, or is another brand's is refused and changes nothing.
func TestOrderConsumesReservation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "consume")
	p := b.Product(t, "CON-1")
	loc := b.Location(t, "CON")
	b.Receive(t, p.Id, loc.Id, 10)
	r := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 3))

	short := servertest.OrderBody(servertest.OrderLine(p.Id, 4))
	short.ReservationId = &r.Id
	resp := b.CreateOrder(t, servertest.NewKey(), short)
	if servertest.StatusIs(t, "mismatch", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeReservationMismatch) {
		servertest.WantLines(t, "mismatch", resp.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p.Id, Requested: new(int64(4)), Available: new(int64(3))})
	}
	other := b.Product(t, "CON-2")
	b.Receive(t, other.Id, loc.Id, 1)
	wrong := servertest.OrderBody(servertest.OrderLine(other.Id, 1))
	wrong.ReservationId = &r.Id
	resp = b.CreateOrder(t, servertest.NewKey(), wrong)
	servertest.StatusIs(t, "other product", resp.HTTPResponse, resp.ApplicationproblemJSON422, 422, api.ProblemCodeReservationMismatch)
	b.WantLevel(t, "after mismatches", p.Id, loc.Id, 10, 3)

	body := servertest.OrderBody(servertest.OrderLine(p.Id, 2))
	body.ReservationId = &r.Id
	o := b.CreateOrder(t, servertest.NewKey(), body)
	if o.JSON201 == nil || o.JSON201.ReservationId == nil || *o.JSON201.ReservationId != r.Id {
		t.Fatalf("consume: %d %s", o.StatusCode(), o.Body)
	}
	b.WantLevel(t, "taken over", p.Id, loc.Id, 10, 2)
	got, err := env.Client.GetReservationWithResponse(ctx, b.Brand, r.Id, b.Auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Status != api.ReservationConsumed {
		t.Fatalf("reservation after = %s", got.Body)
	}
	byOrder := 0
	for _, m := range b.Movements(t, api.ListStockMovementsParams{ReservationId: &r.Id}) {
		if m.OrderId != nil && *m.OrderId == o.JSON201.Id {
			byOrder++
		}
	}
	if byOrder != 2 {
		t.Errorf("%d movements name both the reservation and the order, want 2 (release, reservation)", byOrder)
	}
	again := b.CreateOrder(t, servertest.NewKey(), body)
	servertest.StatusIs(t, "consumed again", again.HTTPResponse, again.ApplicationproblemJSON409, 409, api.ProblemCodeReservationNotActive)

	// Another brand's reservation is not found.
	c := servertest.NewStockBrand(t, env, "consume-other")
	cp := c.Product(t, "CON-X")
	cl := c.Location(t, "CONX")
	c.Receive(t, cp.Id, cl.Id, 5)
	cr := c.MustReserve(t, servertest.HoldLine(cp.Id, nil, 1))
	theirs := servertest.OrderBody(servertest.OrderLine(p.Id, 1))
	theirs.ReservationId = &cr.Id
	resp = b.CreateOrder(t, servertest.NewKey(), theirs)
	servertest.StatusIs(t, "other brand's reservation", resp.HTTPResponse, resp.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	c.WantLevel(t, "their hold", cp.Id, cl.Id, 5, 1)

	// Cancelling the order releases what it took over.
	b.CancelOrder(t, o.JSON201.Id, nil)
	b.WantLevel(t, "after cancel", p.Id, loc.Id, 10, 0)
	env.AssertStock(t, b.Brand)
	env.AssertStock(t, c.Brand)
}

// TestOrderRefusals: other brands' products, unusable text, huge quantities, drafts, short stock
// and a taken externalReference are refused with their own problem, and hold nothing.
func TestOrderRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "refuse")
	p := b.Product(t, "REF-1")
	loc := b.Location(t, "REF")
	b.Receive(t, p.Id, loc.Id, 5)
	draft := b.CreateProduct(t, api.CreateProductRequest{Sku: "REF-D", Name: "draft", PriceAmount: 1})
	c := servertest.NewStockBrand(t, env, "refuse-other")
	theirs := c.Product(t, "REF-X")

	r := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(theirs.Id, 1)))
	servertest.StatusIs(t, "other brand's product", r.HTTPResponse, r.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	r = b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(draft.Id, 1), servertest.OrderLine(p.Id, 1)))
	if servertest.StatusIs(t, "draft", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeProductUnavailable) {
		servertest.WantLines(t, "draft", r.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: draft.Id})
	}
	r = b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(p.Id, 6)))
	if servertest.StatusIs(t, "short", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeInsufficientStock) {
		servertest.WantLines(t, "short", r.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p.Id, Requested: new(int64(6)), Available: new(int64(5))})
	}
	r = b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(p.Id, 60_000), servertest.OrderLine(p.Id, 60_000)))
	servertest.StatusIs(t, "merged past 100000", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	path := "/brands/" + b.Brand.String() + "/orders"
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
		resp := env.PostKeyed(t, b.Owner.AccessToken, path, raw, servertest.NewKey())
		pr := servertest.ReadProblem(t, resp)
		if resp.StatusCode != 400 || pr.Code != api.ProblemCodeValidationFailed {
			t.Errorf("%s: %d %s, want 400 validation_failed", what, resp.StatusCode, pr.Code)
		}
	}
	first := servertest.OrderBody(servertest.OrderLine(p.Id, 1))
	first.ExternalReference = new("shop-1")
	if r := b.CreateOrder(t, servertest.NewKey(), first); r.JSON201 == nil {
		t.Fatalf("first: %d %s", r.StatusCode(), r.Body)
	}
	r = b.CreateOrder(t, servertest.NewKey(), first)
	servertest.StatusIs(t, "external reference taken", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeExternalReferenceTaken)
	b.WantLevel(t, "one order holds one unit", p.Id, loc.Id, 5, 1)
	if o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1)); o.Number != 1002 {
		t.Errorf("number after refusals %d, want 1002", o.Number)
	}
	env.AssertStock(t, b.Brand)
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
	b := servertest.NewStockBrand(t, env, "list")
	p := b.Product(t, "LIST-1")
	loc := b.Location(t, "LIST")
	b.Receive(t, p.Id, loc.Id, 10)
	o1 := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
	body := servertest.OrderBody(servertest.OrderLine(p.Id, 1))
	body.Customer.Email = "Grace@Example.com"
	body.ExternalReference = new("cart-9")
	o2r := b.CreateOrder(t, servertest.NewKey(), body)
	if o2r.JSON201 == nil {
		t.Fatal(string(o2r.Body))
	}
	o2 := *o2r.JSON201
	b.ConfirmOrder(t, o1.Id)
	list := func(params api.ListOrdersParams) []uuid.UUID {
		t.Helper()
		r, err := env.Client.ListOrdersWithResponse(ctx, b.Brand, &params, b.Auth)
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
	eq("confirmed", list(api.ListOrdersParams{Status: new(api.OrderConfirmed)}), o1.Id)
	eq("by number", list(api.ListOrdersParams{Q: new("1002")}), o2.Id)
	eq("by email", list(api.ListOrdersParams{Q: new("grace@example.COM")}), o2.Id)
	eq("by reference", list(api.ListOrdersParams{Q: new("cart-9")}), o2.Id)
	eq("page 1", list(api.ListOrdersParams{Limit: new(1)}), o2.Id)
	eq("after now", list(api.ListOrdersParams{CreatedAfter: new(env.Clock.Now().Add(1e9))}))
}
