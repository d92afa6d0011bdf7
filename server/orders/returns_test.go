package orders_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func rline(id api.OrderLine, n int64, reason api.ReturnReason) api.ReturnRequestLine {
	return api.ReturnRequestLine{LineId: id.Id, Quantity: n, Reason: reason}
}

// TestReturns walks a return through its states: requested units count against the lines at
// once (the order becomes partially_returned, then returned), a restocked line raises onHand by
// exactly its quantity at the named location with one `return` movement naming the order, a
// written-off one moves no stock, a cancelled return gives its units back, and refusals change
// nothing.
func TestReturns(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "returns")
	p, q := b.Product(t, "RET-1"), b.Product(t, "RET-2")
	wh, back := b.Location(t, "RET-WH"), b.Location(t, "RET-BACK")
	b.Receive(t, p.Id, wh.Id, 10)
	b.Receive(t, q.Id, wh.Id, 10)
	o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 5), servertest.OrderLine(q.Id, 3))
	pl, ql := o.Lines[0], o.Lines[1]

	// Nothing shipped: no return.
	r := b.Return(t, o.Id, rline(pl, 1, api.ReturnReasonDamaged))
	servertest.StatusIs(t, "return of a pending order", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeInvalidOrderTransition)
	b.ConfirmOrder(t, o.Id)
	b.Fulfil(t, o.Id, fline(pl.Id, 5), fline(ql.Id, 3))

	r = b.Return(t, o.Id, rline(pl, 6, api.ReturnReasonDamaged))
	servertest.StatusIs(t, "more than shipped", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeOverReturn)
	if r.ApplicationproblemJSON422 != nil {
		if ls := *r.ApplicationproblemJSON422.Lines; len(ls) != 1 || *ls[0].Available != 5 || *ls[0].Requested != 6 {
			t.Errorf("over_return lines %+v", ls)
		}
	}
	r = b.Return(t, o.Id, api.ReturnRequestLine{LineId: p.Id, Quantity: 1, Reason: api.ReturnReasonOther})
	servertest.StatusIs(t, "not a line of the order", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	first := b.MustReturn(t, o.Id, rline(pl, 2, api.ReturnReasonDamaged), rline(ql, 1, api.ReturnReasonChangedMind))
	got := b.GetOrder(t, o.Id)
	if first.Status != api.ReturnRequested || got.Status != api.OrderPartiallyReturned || got.Lines[0].QuantityReturned != 2 ||
		got.Lines[1].QuantityReturned != 1 || len(got.AllowedActions) != 1 || got.AllowedActions[0] != api.OrderActionReturn {
		t.Fatalf("after a return: return %s, order %s %+v", first.Status, got.Status, got.AllowedActions)
	}

	// Receiving: p back to stock at another location, q written off.
	bad := b.ReceiveReturn(t, first.Id, api.ReceiveReturnLine{LineId: pl.Id, Disposition: api.DispositionRestock, LocationId: &back.Id})
	servertest.StatusIs(t, "a line left unstated", bad.HTTPResponse, bad.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	bad = b.ReceiveReturn(t, first.Id, api.ReceiveReturnLine{LineId: pl.Id, Disposition: api.DispositionRestock},
		api.ReceiveReturnLine{LineId: ql.Id, Disposition: api.DispositionWriteOff})
	servertest.StatusIs(t, "restock without a location", bad.HTTPResponse, bad.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	recv := b.ReceiveReturn(t, first.Id,
		api.ReceiveReturnLine{LineId: pl.Id, Disposition: api.DispositionRestock, LocationId: &back.Id},
		api.ReceiveReturnLine{LineId: ql.Id, Disposition: api.DispositionWriteOff, WriteOffReason: new("Opened and used")})
	if recv.JSON200 == nil || recv.JSON200.Status != api.ReturnReceived || *recv.JSON200.Lines[0].Disposition != api.DispositionRestock ||
		*recv.JSON200.Lines[1].Disposition != api.DispositionWriteOff || *recv.JSON200.Lines[1].WriteOffReason != "Opened and used" {
		t.Fatalf("receive: %d %s", recv.StatusCode(), recv.Body)
	}
	b.WantLevel(t, "p back", p.Id, back.Id, 2, 0)
	b.WantLevel(t, "p shipped from", p.Id, wh.Id, 5, 0)
	b.WantLevel(t, "q written off", q.Id, wh.Id, 7, 0)
	kind := api.MovementKind("return")
	for _, c := range []struct {
		product api.Product
		want    int
	}{{p, 1}, {q, 0}} {
		ms := b.Movements(t, api.ListStockMovementsParams{ProductId: &c.product.Id, Kind: &kind})
		if len(ms) != c.want {
			t.Errorf("%s: %d return movements, want %d", c.product.Sku, len(ms), c.want)
		}
		for _, m := range ms {
			if m.OnHandDelta != 2 || m.LocationId != back.Id || m.OrderId == nil || *m.OrderId != o.Id || *m.Reference != "return:"+first.Id.String() {
				t.Errorf("return movement %+v", m)
			}
		}
	}
	again := b.ReceiveReturn(t, first.Id, api.ReceiveReturnLine{LineId: pl.Id, Disposition: api.DispositionWriteOff},
		api.ReceiveReturnLine{LineId: ql.Id, Disposition: api.DispositionWriteOff})
	servertest.StatusIs(t, "received twice", again.HTTPResponse, again.ApplicationproblemJSON409, 409, api.ProblemCodeInvalidReturnTransition)
	b.WantLevel(t, "p back after a refused receive", p.Id, back.Id, 2, 0)
	closed, err := env.Client.CloseReturnWithResponse(ctx, b.Brand, first.Id, &api.CloseReturnParams{}, b.Auth)
	if err != nil || closed.JSON200 == nil || closed.JSON200.Status != api.ReturnClosed || closed.JSON200.ClosedAt == nil {
		t.Fatalf("close: %v %s", err, closed.Body)
	}

	// The rest comes back: returned; cancelling that return gives the units back.
	rest := b.MustReturn(t, o.Id, rline(pl, 3, api.ReturnReasonWrongItem), rline(ql, 2, api.ReturnReasonNotAsDescribed))
	if got := b.GetOrder(t, o.Id); got.Status != api.OrderReturned || len(got.AllowedActions) != 0 {
		t.Errorf("everything returned: %s %v", got.Status, got.AllowedActions)
	}
	r = b.Return(t, o.Id, rline(pl, 1, api.ReturnReasonDamaged))
	servertest.StatusIs(t, "a returned order", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeInvalidOrderTransition)
	cancelled, err := env.Client.CancelReturnWithResponse(ctx, b.Brand, rest.Id, &api.CancelReturnParams{}, b.Auth)
	if err != nil || cancelled.JSON200 == nil || cancelled.JSON200.Status != api.ReturnCancelled {
		t.Fatalf("cancel: %v %s", err, cancelled.Body)
	}
	if got := b.GetOrder(t, o.Id); got.Status != api.OrderPartiallyReturned || got.Lines[0].QuantityReturned != 2 || got.Lines[1].QuantityReturned != 1 {
		t.Errorf("after the cancel: %s %d %d", got.Status, got.Lines[0].QuantityReturned, got.Lines[1].QuantityReturned)
	}
	closeAgain, _ := env.Client.CloseReturnWithResponse(ctx, b.Brand, rest.Id, &api.CloseReturnParams{}, b.Auth)
	servertest.StatusIs(t, "close a cancelled return", closeAgain.HTTPResponse, closeAgain.ApplicationproblemJSON409, 409, api.ProblemCodeInvalidReturnTransition)

	// Lists: the order's two returns, the brand's by status.
	list, _ := env.Client.ListOrderReturnsWithResponse(ctx, b.Brand, o.Id, &api.ListOrderReturnsParams{}, b.Auth)
	st := api.ReturnClosed
	byStatus, _ := env.Client.ListReturnsWithResponse(ctx, b.Brand, &api.ListReturnsParams{Status: &st}, b.Auth)
	if list.JSON200 == nil || len(list.JSON200.Items) != 2 || byStatus.JSON200 == nil || len(byStatus.JSON200.Items) != 1 || byStatus.JSON200.Items[0].Id != first.Id {
		t.Errorf("lists: %s / %s", list.Body, byStatus.Body)
	}
	// The feed told each step (five return events: two requested, received, closed, cancelled).
	agg := api.EventAggregateType("return")
	evs := env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{AggregateType: &agg}, 5)
	seen := map[string]int{}
	for _, e := range evs {
		seen[string(e.Type)]++
	}
	if seen["return.requested"] != 2 || seen["return.received"] != 1 || seen["return.closed"] != 1 || seen["return.cancelled"] != 1 {
		t.Errorf("return events %v", seen)
	}
	env.AssertStock(t, b.Brand)
}

// TestReturnsRace: 20 concurrent returns of one unit each against the last 5 shipped units that
// may still be returned: exactly 5 succeed, and the line shows them. The rest are refused: 422
// over_return, or, once the fifth made the order `returned`, 409 invalid_order_transition.
func TestReturnsRace(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "return-race")
	p := b.Product(t, "RR-1")
	wh := b.Location(t, "RR-WH")
	b.Receive(t, p.Id, wh.Id, 10)
	o := b.ShippedOrder(t, p.Id, 7)
	b.MustReturn(t, o.Id, rline(o.Lines[0], 2, api.ReturnReasonOther)) // 5 left to return
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			r := b.Return(t, o.Id, rline(o.Lines[0], 1, api.ReturnReasonChangedMind))
			codes[i] = r.StatusCode()
			if r.StatusCode() == http.StatusUnprocessableEntity && r.ApplicationproblemJSON422.Code != api.ProblemCodeOverReturn {
				t.Errorf("refused with %s", r.ApplicationproblemJSON422.Code)
			}
			if r.StatusCode() == http.StatusConflict && r.ApplicationproblemJSON409.Code != api.ProblemCodeInvalidOrderTransition {
				t.Errorf("refused with %s", r.ApplicationproblemJSON409.Code)
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			ok++
		case http.StatusUnprocessableEntity, http.StatusConflict:
		default:
			t.Errorf("a return answered %d", c)
		}
	}
	got := b.GetOrder(t, o.Id)
	if ok != 5 || got.Lines[0].QuantityReturned != 7 || got.Status != api.OrderReturned {
		t.Errorf("%d returns succeeded, line returned %d, order %s; want 5, 7, returned", ok, got.Lines[0].QuantityReturned, got.Status)
	}
	env.AssertStock(t, b.Brand)
}

// TestRefunds: a refund needs a paid (confirmed) order and its currency; 20 concurrent refunds
// never take the refunded total past the total.
func TestRefunds(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "refunds")
	p := b.Product(t, "RF-1") // 100
	wh := b.Location(t, "RF-WH")
	b.Receive(t, p.Id, wh.Id, 100)
	o := b.PlaceOrder(t, p.Id, 10) // total 1000

	r := b.Refund(t, o.Id, 1)
	servertest.StatusIs(t, "refund of an unpaid order", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeRefundExceedsPaid)
	b.ConfirmOrder(t, o.Id)
	eur, _ := env.Client.CreateRefundWithResponse(ctx, b.Brand, o.Id, &api.CreateRefundParams{}, api.CreateRefundRequest{Amount: 1, Currency: "EUR"}, b.Auth)
	servertest.StatusIs(t, "another currency", eur.HTTPResponse, eur.ApplicationproblemJSON422, 422, api.ProblemCodeCurrencyMismatch)
	r = b.Refund(t, o.Id, 1001)
	servertest.StatusIs(t, "more than the total", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeRefundExceedsPaid)

	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() { codes[i] = b.Refund(t, o.Id, 300).StatusCode() })
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			ok++
		case http.StatusUnprocessableEntity:
		default:
			t.Errorf("a refund answered %d", c)
		}
	}
	got := b.GetOrder(t, o.Id)
	if ok != 3 || got.RefundedTotal != 900 {
		t.Errorf("%d refunds of 300 succeeded, refunded %d; want 3, 900 of 1000", ok, got.RefundedTotal)
	}
	last := b.Refund(t, o.Id, 100)
	if last.JSON201 == nil || last.JSON201.OrderRefundedTotal != 1000 {
		t.Fatalf("the last 100: %d %s", last.StatusCode(), last.Body)
	}
	list, _ := env.Client.ListRefundsWithResponse(ctx, b.Brand, o.Id, &api.ListRefundsParams{}, b.Auth)
	if list.JSON200 == nil || len(list.JSON200.Items) != 4 {
		t.Errorf("refund list: %s", list.Body)
	}
	env.AssertStock(t, b.Brand)
}
