package purchasing_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestPurchaseOrderLifecycle: a PO is drafted (PO-1001, gapless per brand), edited only as a
// draft, submitted (its quantities become incoming, never available), received in two parts
// (receipt movements naming the PO with the line's cost; incoming falls as stock arrives) and a
// second PO closed after a partial receipt and a third cancelled: incoming follows exactly.
func TestPurchaseOrderLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "polife")
	p1, p2 := b.Product(t, "PO-A"), b.Product(t, "PO-B")
	wh := b.Location(t, "WH")

	po := b.draft(t, wh.Id, pl(p1.Id, 10, 250), pl(p2.Id, 4, 1000))
	if po.Number != 1001 || po.Reference != "PO-1001" || po.Status != api.PurchaseOrderDraft || po.Total != 6500 || po.Currency != "USD" {
		t.Fatalf("draft = %d %s %s total %d %s", po.Number, po.Reference, po.Status, po.Total, po.Currency)
	}
	b.wantIncoming(t, "draft brings nothing", p1.Id, wh.Id, 0, 0)

	// A refused creation gives its number back: the next PO is still 1002.
	bad, err := env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{},
		api.CreatePurchaseOrderRequest{SupplierId: b.supplier.Id, LocationId: wh.Id, Lines: []api.PurchaseOrderRequestLine{pl(uuid.New(), 1, 1)}}, b.Auth)
	if err != nil || bad.StatusCode() != http.StatusNotFound {
		t.Fatalf("unknown product: %v %d %s", err, bad.StatusCode(), bad.Body)
	}
	dup, _ := env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{},
		api.CreatePurchaseOrderRequest{SupplierId: b.supplier.Id, LocationId: wh.Id, Lines: []api.PurchaseOrderRequestLine{pl(p1.Id, 1, 1), pl(p1.Id, 2, 1)}}, b.Auth)
	if dup.ApplicationproblemJSON400 == nil || dup.ApplicationproblemJSON400.Errors == nil || (*dup.ApplicationproblemJSON400.Errors)[0].Field != "lines[1].productId" {
		t.Errorf("duplicate product: %d %s", dup.StatusCode(), dup.Body)
	}

	// Lines change only in a draft, with If-Match.
	notes := "dock 3"
	stale := `"9"`
	upd, _ := env.Client.UpdatePurchaseOrderWithResponse(ctx, b.Brand, po.Id, &api.UpdatePurchaseOrderParams{IfMatch: &stale},
		api.UpdatePurchaseOrderRequest{Lines: &[]api.PurchaseOrderRequestLine{pl(p1.Id, 10, 250)}}, b.Auth)
	if upd.StatusCode() != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", upd.StatusCode())
	}
	lines := []api.PurchaseOrderRequestLine{pl(p1.Id, 10, 250), pl(p2.Id, 5, 1000)}
	cur := `"1"`
	upd, _ = env.Client.UpdatePurchaseOrderWithResponse(ctx, b.Brand, po.Id, &api.UpdatePurchaseOrderParams{IfMatch: &cur},
		api.UpdatePurchaseOrderRequest{Lines: &lines}, b.Auth)
	if upd.JSON200 == nil || upd.JSON200.Version != 2 || upd.JSON200.Total != 7500 || len(upd.JSON200.Lines) != 2 {
		t.Fatalf("update lines: %d %s", upd.StatusCode(), upd.Body)
	}

	po = b.submit(t, po.Id)
	if po.Status != api.PurchaseOrderOrdered || po.OrderedAt == nil || !equalActions(po.AllowedActions, api.PurchaseOrderActionReceive, api.PurchaseOrderActionCancel) {
		t.Fatalf("submitted = %s %v", po.Status, po.AllowedActions)
	}
	b.wantIncoming(t, "ordered", p1.Id, wh.Id, 0, 10)
	b.wantIncoming(t, "ordered", p2.Id, wh.Id, 0, 5)
	upd, _ = env.Client.UpdatePurchaseOrderWithResponse(ctx, b.Brand, po.Id, &api.UpdatePurchaseOrderParams{},
		api.UpdatePurchaseOrderRequest{Notes: nullableString(notes)}, b.Auth)
	if upd.StatusCode() != http.StatusConflict || upd.ApplicationproblemJSON409.Code != api.ProblemCodePurchaseOrderNotDraft {
		t.Errorf("update an ordered PO: %d %s", upd.StatusCode(), upd.Body)
	}
	again, _ := env.Client.SubmitPurchaseOrderWithResponse(ctx, b.Brand, po.Id, &api.SubmitPurchaseOrderParams{}, b.Auth)
	if again.StatusCode() != http.StatusConflict || again.ApplicationproblemJSON409.Code != api.ProblemCodeInvalidPurchaseOrderTransition {
		t.Errorf("submit twice: %d %s", again.StatusCode(), again.Body)
	}

	l1, l2 := po.Lines[0].Id, po.Lines[1].Id
	// Over-receipt is refused, naming what is outstanding.
	over := b.receiveAs(t, b.Auth, po.Id, false, rl(l1, 6), rl(l1, 5))
	if over.StatusCode() != http.StatusUnprocessableEntity || over.ApplicationproblemJSON422.Code != api.ProblemCodeOverReceipt {
		t.Fatalf("over receipt: %d %s", over.StatusCode(), over.Body)
	}
	if ls := *over.ApplicationproblemJSON422.Lines; len(ls) != 1 || *ls[0].Requested != 11 || *ls[0].Available != 10 {
		t.Errorf("over receipt lines %+v", ls)
	}

	// First part: staff receive (purchasing:receive).
	staff := env.Member(t, b.Owner, api.InvitationRoleSTAFF)
	part := b.receiveAs(t, servertest.Bearer(staff.AccessToken), po.Id, false, rl(l1, 4))
	if part.JSON201 == nil {
		t.Fatalf("receive part: %d %s", part.StatusCode(), part.Body)
	}
	r := *part.JSON201
	if r.PurchaseOrder.Status != api.PurchaseOrderPartiallyReceived || r.PurchaseOrder.Lines[0].ReceivedQuantity != 4 || len(r.MovementIds) != 1 {
		t.Fatalf("after part: %s %+v", r.PurchaseOrder.Status, r.PurchaseOrder.Lines)
	}
	if len(r.Levels) != 1 || r.Levels[0].OnHand != 4 || r.Levels[0].Incoming != 6 {
		t.Errorf("receipt levels %+v", r.Levels)
	}
	b.wantIncoming(t, "part received", p1.Id, wh.Id, 4, 6)
	ms := b.Movements(t, api.ListStockMovementsParams{ProductId: &p1.Id})
	if len(ms) != 1 || ms[0].Kind != api.MovementKind("receipt") || ms[0].PurchaseOrderId == nil || *ms[0].PurchaseOrderId != po.Id ||
		ms[0].UnitCost == nil || *ms[0].UnitCost != 250 || ms[0].Reference == nil || *ms[0].Reference != "PO-1001" {
		t.Errorf("receipt movement %+v", ms)
	}
	// Second part: the rest.
	r = b.receive(t, po.Id, rl(l1, 6), rl(l2, 5))
	if r.PurchaseOrder.Status != api.PurchaseOrderReceived || r.PurchaseOrder.EndedAt == nil || len(r.PurchaseOrder.AllowedActions) != 0 {
		t.Fatalf("after rest: %s", r.PurchaseOrder.Status)
	}
	b.wantIncoming(t, "received", p1.Id, wh.Id, 10, 0)
	b.wantIncoming(t, "received", p2.Id, wh.Id, 5, 0)
	late := b.receiveAs(t, b.Auth, po.Id, false, rl(l1, 1))
	if late.StatusCode() != http.StatusConflict {
		t.Errorf("receive a received PO: %d", late.StatusCode())
	}

	// A second PO, received in part with an over-receipt allowed on one line, then closed.
	po2 := b.ordered(t, wh.Id, pl(p1.Id, 8, 250), pl(p2.Id, 3, 1000))
	if po2.Number != 1002 {
		t.Errorf("second PO number %d, want 1002 (gapless)", po2.Number)
	}
	b.wantIncoming(t, "po2 ordered", p1.Id, wh.Id, 10, 8)
	resp := b.receiveAs(t, b.Auth, po2.Id, true, rl(po2.Lines[1].Id, 5)) // 2 over
	if resp.JSON201 == nil || resp.JSON201.PurchaseOrder.Status != api.PurchaseOrderPartiallyReceived {
		t.Fatalf("over receipt allowed: %d %s", resp.StatusCode(), resp.Body)
	}
	b.wantIncoming(t, "po2 p2 over-received", p2.Id, wh.Id, 10, 0)
	cancel, _ := env.Client.CancelPurchaseOrderWithResponse(ctx, b.Brand, po2.Id, &api.CancelPurchaseOrderParams{}, b.Auth)
	if cancel.StatusCode() != http.StatusConflict {
		t.Errorf("cancel a partially received PO: %d", cancel.StatusCode())
	}
	closed, _ := env.Client.ClosePurchaseOrderWithResponse(ctx, b.Brand, po2.Id, &api.ClosePurchaseOrderParams{}, b.Auth)
	if closed.JSON200 == nil || closed.JSON200.Status != api.PurchaseOrderClosed {
		t.Fatalf("close: %d %s", closed.StatusCode(), closed.Body)
	}
	b.wantIncoming(t, "po2 closed", p1.Id, wh.Id, 10, 0)

	// A third, cancelled once ordered: its incoming goes.
	po3 := b.ordered(t, wh.Id, pl(p1.Id, 7, 300))
	b.wantIncoming(t, "po3 ordered", p1.Id, wh.Id, 10, 7)
	cancel, _ = env.Client.CancelPurchaseOrderWithResponse(ctx, b.Brand, po3.Id, &api.CancelPurchaseOrderParams{}, b.Auth)
	if cancel.JSON200 == nil || cancel.JSON200.Status != api.PurchaseOrderCancelled {
		t.Fatalf("cancel: %d %s", cancel.StatusCode(), cancel.Body)
	}
	b.wantIncoming(t, "po3 cancelled", p1.Id, wh.Id, 10, 0)
	inv, _ := env.Client.GetProductInventoryWithResponse(ctx, b.Brand, p1.Id, b.Auth)
	if inv.JSON200 == nil || inv.JSON200.Incoming != 0 || inv.JSON200.OnHand != 10 {
		t.Errorf("product inventory %s", inv.Body)
	}
	b.Env.AssertStock(t, b.Brand)

	// Each change told the feed.
	want := []api.EventType{api.EventTypePurchaseOrderCreated, api.EventTypePurchaseOrderUpdated, api.EventTypePurchaseOrderOrdered,
		api.EventTypePurchaseOrderReceived, api.EventTypePurchaseOrderReceived}
	var got []api.EventType
	for _, e := range env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{}, 0) {
		if e.Aggregate.Type == api.EventAggregateTypePurchaseOrder && e.Aggregate.Id == po.Id {
			got = append(got, e.Type)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("PO-1001 events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("PO-1001 events %v, want %v", got, want)
			break
		}
	}
}

// TestConcurrentReceipts: 20 receipts of 1 unit race on a PO line of 10 (a second line keeps the
// PO open); exactly 10 are received, the others refused as over-receipts, and the stock
// invariants (incoming included) hold.
func TestConcurrentReceipts(t *testing.T) {
	t.Parallel()
	// Twenty requests of one brand at once: a patient brand share, so a 503 brand_busy cannot hide
	// what the race tests.
	env := servertest.New(t, servertest.PatientBrands)
	b := newBuyer(t, env, "porace")
	p, other := b.Product(t, "RACE"), b.Product(t, "OTHER")
	wh := b.Location(t, "WH")
	po := b.ordered(t, wh.Id, pl(p.Id, 10, 100), pl(other.Id, 1, 100))
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = b.receiveAs(t, b.Auth, po.Id, false, rl(po.Lines[0].Id, 1)).StatusCode()
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusCreated] != 10 || counts[http.StatusUnprocessableEntity] != 10 {
		t.Errorf("statuses %v, want 10 × 201 and 10 × 422", counts)
	}
	b.wantIncoming(t, "after the race", p.Id, wh.Id, 10, 0)
	got, _ := env.Client.GetPurchaseOrderWithResponse(ctx, b.Brand, po.Id, b.Auth)
	if got.JSON200 == nil || got.JSON200.Status != api.PurchaseOrderPartiallyReceived || got.JSON200.Lines[0].ReceivedQuantity != 10 {
		t.Errorf("PO after the race: %s", got.Body)
	}
	b.Env.AssertStock(t, b.Brand)
}

func equalActions(got []api.PurchaseOrderAction, want ...api.PurchaseOrderAction) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestCrossedReceiptsDoNotDeadlock: receipts of POs naming the same two products in opposite line
// orders, at two locations, race; every one is received (cost rows are locked in product order)
// and the average cost is exact, since every unit cost the same.
func TestCrossedReceiptsDoNotDeadlock(t *testing.T) {
	t.Parallel()
	// Twenty requests of one brand at once: a patient brand share, so a 503 brand_busy cannot hide
	// what the race tests.
	env := servertest.New(t, servertest.PatientBrands)
	b := newBuyer(t, env, "pocross")
	pa, pb := b.Product(t, "CROSS-A"), b.Product(t, "CROSS-B")
	l1, l2 := b.Location(t, "L1"), b.Location(t, "L2")
	po1 := b.ordered(t, l1.Id, pl(pa.Id, 100, 7), pl(pb.Id, 100, 9))
	po2 := b.ordered(t, l2.Id, pl(pb.Id, 100, 9), pl(pa.Id, 100, 7))
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			po := po1
			if i%2 == 1 {
				po = po2
			}
			statuses[i] = b.receiveAs(t, b.Auth, po.Id, false, rl(po.Lines[0].Id, 1), rl(po.Lines[1].Id, 1)).StatusCode()
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusCreated {
			t.Errorf("receipt %d: %d", i, s)
		}
	}
	if got := b.averageCost(t, pa.Id); got == nil || *got != 7 {
		t.Errorf("A's average %v, want 7", got)
	}
	b.wantIncoming(t, "A at L1", pa.Id, l1.Id, 10, 90)
	b.Env.AssertStock(t, b.Brand)
}
