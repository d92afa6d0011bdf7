package purchasing_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func backorderable(t *testing.T, b buyer, sku string) api.Product {
	t.Helper()
	active, yes := api.Active, true
	p := b.CreateProduct(t, api.CreateProductRequest{Sku: sku, Name: sku, PriceAmount: 100, Status: &active, AllowBackorder: &yes})
	if p.AllowBackorder == nil || !*p.AllowBackorder {
		t.Fatalf("created with allowBackorder, reads %v", p.AllowBackorder)
	}
	return p
}

// wantBackorder asserts an order line's held and backordered quantities, and the order's flag.
func wantBackorder(t *testing.T, what string, o api.Order, held, backordered int64) {
	t.Helper()
	var h int64
	for _, a := range o.Lines[0].Allocations {
		h += a.Quantity
	}
	if h != held || o.Lines[0].QuantityBackordered != backordered || o.Backordered != (backordered > 0) {
		t.Errorf("%s: order %d holds %d, backordered %d (flag %v); want %d and %d", what, o.Number, h, o.Lines[0].QuantityBackordered, o.Backordered, held, backordered)
	}
	if (backordered > 0) != (o.Lines[0].BackorderLocationId != nil) {
		t.Errorf("%s: backorderLocationId %v with %d backordered", what, o.Lines[0].BackorderLocationId, backordered)
	}
}

// wantLevel asserts a level's onHand, reserved, backordered and available.
func wantLevel(t *testing.T, b buyer, what string, product, location uuid.UUID, onHand, reserved, backordered int64) {
	t.Helper()
	l := b.Level(t, product, location)
	if l.OnHand != onHand || l.Reserved != reserved || l.Backordered != backordered || l.Available != onHand-reserved {
		t.Errorf("%s: onHand %d reserved %d backordered %d available %d; want %d %d %d", what, l.OnHand, l.Reserved, l.Backordered, l.Available, onHand, reserved, backordered)
	}
}

// TestBackorders: the plain cases, each on its own brand.
func TestBackorders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)

	t.Run("fill partial then exact", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "bofill")
		p, wh := backorderable(t, b, "BO-1"), b.Location(t, "WH")
		b.Receive(t, p.Id, wh.Id, 3)
		o := b.PlaceOrder(t, p.Id, 5)
		wantBackorder(t, "placed", o, 3, 2)
		if o.Lines[0].BackorderLocationId == nil || *o.Lines[0].BackorderLocationId != wh.Id {
			t.Errorf("waits at %v, want %v", o.Lines[0].BackorderLocationId, wh.Id)
		}
		wantLevel(t, b, "placed", p.Id, wh.Id, 3, 3, 2)
		b.Receive(t, p.Id, wh.Id, 1) // partial: 1 of 2
		wantBackorder(t, "partial fill", b.GetOrder(t, o.Id), 4, 1)
		wantLevel(t, b, "partial fill", p.Id, wh.Id, 4, 4, 1)
		b.Receive(t, p.Id, wh.Id, 3) // exact for the rest, 2 left over
		wantBackorder(t, "filled", b.GetOrder(t, o.Id), 5, 0)
		wantLevel(t, b, "filled", p.Id, wh.Id, 7, 5, 0)
		// The fills are `reservation` movements naming the order.
		n := 0
		for _, m := range b.Movements(t, api.ListStockMovementsParams{ProductId: &p.Id}) {
			if m.Kind == api.MovementReservation && m.OrderId != nil && *m.OrderId == o.Id {
				n++
			}
		}
		if n != 3 { // placed, partial, rest
			t.Errorf("%d reservation movements name the order, want 3", n)
		}
		env.AssertStock(t, b.Brand)
	})

	t.Run("a fill is a change of the order", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "bochange")
		p, wh := backorderable(t, b, "BO-CH"), b.Location(t, "WH")
		o := b.PlaceOrder(t, p.Id, 3) // nothing on hand: all 3 wait
		if o.Version != 1 {
			t.Fatalf("placed at version %d", o.Version)
		}
		b.Receive(t, p.Id, wh.Id, 1) // fills 1 of 3
		partial := b.GetOrder(t, o.Id)
		wantBackorder(t, "one filled", partial, 1, 2)
		if partial.Version != 2 || partial.UpdatedAt.Before(o.UpdatedAt) {
			t.Errorf("after a fill: version %d, updatedAt %v (placed %v); want version 2", partial.Version, partial.UpdatedAt, o.UpdatedAt)
		}
		// A change meant for the order as it was before the fill is stale: 412, nothing changed.
		stale := `"1"`
		r, err := env.Client.CancelOrderWithResponse(ctx, b.Brand, o.Id, &api.CancelOrderParams{IfMatch: &stale}, api.CancelOrderRequest{}, b.Auth)
		if err != nil || r.StatusCode() != http.StatusPreconditionFailed {
			t.Fatalf("cancel with the ETag before the fill: %v %d %s", err, r.StatusCode(), r.Body)
		}
		b.Receive(t, p.Id, wh.Id, 5) // fills the other 2, 3 left available
		full := b.GetOrder(t, o.Id)
		wantBackorder(t, "filled", full, 3, 0)
		b.Receive(t, p.Id, wh.Id, 1) // nothing waits: the order is not touched
		if got := b.GetOrder(t, o.Id); got.Version != 3 || full.Version != 3 {
			t.Errorf("versions after the fills %d, after a receipt that filled nothing %d; want 3 and 3", full.Version, got.Version)
		}
		wantLevel(t, b, "filled", p.Id, wh.Id, 7, 3, 0)

		// Its history: created, then a backorder_fill per fill, by the user who received, the
		// status unchanged.
		history := b.OrderEvents(t, o.Id)
		want := []api.OrderEventAction{api.OrderEventCreate, api.OrderEventBackorderFill, api.OrderEventBackorderFill}
		if len(history) != len(want) {
			t.Fatalf("history = %+v, want %v", history, want)
		}
		for i, e := range history {
			if e.Action != want[i] || e.ActorId == nil || *e.ActorId != b.Owner.User.Id || e.Status != api.OrderPending ||
				(i > 0 && (e.FromStatus == nil || *e.FromStatus != api.OrderPending)) {
				t.Errorf("history %d = %s %v -> %s by %v", i, e.Action, e.FromStatus, e.Status, e.ActorId)
			}
		}

		// Its events: order.created, then an order.backorder_filled per fill carrying the order as
		// the fill left it, at its new version.
		kind := api.EventAggregateTypeOrder
		feed := env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{AggregateType: &kind}, 3)
		wantEvents := []struct {
			typ                  api.EventType
			version, backordered int64
		}{{api.EventTypeOrderCreated, 1, 3}, {api.EventTypeOrderBackorderFilled, 2, 2}, {api.EventTypeOrderBackorderFilled, 3, 0}}
		if len(feed) != len(wantEvents) {
			t.Fatalf("order events = %v", servertest.EventTypes(feed))
		}
		for i, w := range wantEvents {
			var data api.Order
			if err := json.Unmarshal(feed[i].Data, &data); err != nil {
				t.Fatal(err)
			}
			if feed[i].Type != w.typ || feed[i].Aggregate.Id != o.Id || feed[i].Aggregate.Version != w.version ||
				data.Version != w.version || data.Lines[0].QuantityBackordered != w.backordered {
				t.Errorf("event %d = %s v%d (data v%d, backordered %d), want %s v%d with %d backordered",
					i, feed[i].Type, feed[i].Aggregate.Version, data.Version, data.Lines[0].QuantityBackordered, w.typ, w.version, w.backordered)
			}
		}
		env.AssertStock(t, b.Brand)
	})

	t.Run("purchase order receipt fills", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "bopo")
		p, wh := backorderable(t, b, "BO-PO"), b.Location(t, "WH")
		po := b.ordered(t, wh.Id, pl(p.Id, 10, 300))
		o := b.PlaceOrder(t, p.Id, 4) // nothing on hand: all of it waits, at the PO's location (its level exists)
		wantBackorder(t, "placed", o, 0, 4)
		b.receive(t, po.Id, rl(po.Lines[0].Id, 6))
		wantBackorder(t, "received", b.GetOrder(t, o.Id), 4, 0)
		wantLevel(t, b, "received", p.Id, wh.Id, 6, 4, 0)
		env.AssertStock(t, b.Brand)
	})

	t.Run("cancel releases claim", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "bocancel")
		p, wh := backorderable(t, b, "BO-C"), b.Location(t, "WH")
		b.Receive(t, p.Id, wh.Id, 2)
		first := b.PlaceOrder(t, p.Id, 5)  // holds 2, waits for 3
		second := b.PlaceOrder(t, p.Id, 2) // waits for 2
		wantLevel(t, b, "placed", p.Id, wh.Id, 2, 2, 5)
		if r := b.CancelOrder(t, first.Id, nil); r.JSON200 == nil || r.JSON200.Backordered || r.JSON200.Lines[0].QuantityBackordered != 0 {
			t.Fatalf("cancel: %d %s", r.StatusCode(), r.Body)
		}
		// Its 2 held units came free and went to the next order waiting; its claim is gone.
		wantBackorder(t, "after the first's cancel", b.GetOrder(t, second.Id), 2, 0)
		wantLevel(t, b, "after cancel", p.Id, wh.Id, 2, 2, 0)
		b.Receive(t, p.Id, wh.Id, 3)
		wantLevel(t, b, "received after cancel", p.Id, wh.Id, 5, 2, 0)
		env.AssertStock(t, b.Brand)
	})

	t.Run("fulfil more than held refused", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "boship")
		p, wh := backorderable(t, b, "BO-S"), b.Location(t, "WH")
		b.Receive(t, p.Id, wh.Id, 2)
		o := b.PlaceOrder(t, p.Id, 5)
		if r := b.ConfirmOrder(t, o.Id); r.JSON200 == nil {
			t.Fatalf("confirm: %d %s", r.StatusCode(), r.Body)
		}
		line := o.Lines[0].Id
		r := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 3})
		if r.ApplicationproblemJSON422 == nil || r.ApplicationproblemJSON422.Code != api.ProblemCodeOverFulfilment {
			t.Fatalf("ship 3 of 2 held: %d %s", r.StatusCode(), r.Body)
		}
		two, three := int64(2), int64(3)
		servertest.WantLines(t, "over fulfilment", r.ApplicationproblemJSON422, api.ProblemLine{Index: 0, ProductId: p.Id, Requested: &three, Available: &two})
		if r := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 2}); r.JSON201 == nil || r.JSON201.OrderStatus != api.OrderPartiallyFulfilled {
			t.Fatalf("ship the 2 held: %d %s", r.StatusCode(), r.Body)
		}
		b.Receive(t, p.Id, wh.Id, 3)
		if r := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 3}); r.JSON201 == nil || r.JSON201.OrderStatus != api.OrderFulfilled {
			t.Fatalf("ship the 3 filled: %d %s", r.StatusCode(), r.Body)
		}
		wantLevel(t, b, "shipped", p.Id, wh.Id, 0, 0, 0)
		env.AssertStock(t, b.Brand)
	})

	t.Run("without allowBackorder unchanged", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "boplain")
		p, wh := b.Product(t, "PLAIN"), b.Location(t, "WH")
		if p.AllowBackorder != nil {
			t.Errorf("a plain product shows allowBackorder %v", *p.AllowBackorder)
		}
		b.Receive(t, p.Id, wh.Id, 3)
		r := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(p.Id, 5)))
		if r.ApplicationproblemJSON422 == nil || r.ApplicationproblemJSON422.Code != api.ProblemCodeInsufficientStock {
			t.Fatalf("short plain order: %d %s", r.StatusCode(), r.Body)
		}
		wantLevel(t, b, "refused", p.Id, wh.Id, 3, 0, 0)
		o := b.PlaceOrder(t, p.Id, 3)
		wantBackorder(t, "plain", o, 3, 0)
	})

	t.Run("flag on update, variants and bulk upsert", func(t *testing.T) {
		t.Parallel()
		b := newBuyer(t, env, "boflag")
		p := b.Product(t, "FLAG")
		yes, no := true, false
		up, err := env.Client.UpdateProductWithResponse(ctx, b.Brand, p.Id, &api.UpdateProductParams{}, api.UpdateProductRequest{AllowBackorder: &yes}, b.Auth)
		if err != nil || up.JSON200 == nil || up.JSON200.AllowBackorder == nil || !*up.JSON200.AllowBackorder {
			t.Fatalf("set allowBackorder: %v %d %s", err, up.StatusCode(), up.Body)
		}
		// A bulk upsert that leaves the field out keeps it.
		bulk, err := env.Client.BulkUpsertProductsWithResponse(ctx, b.Brand, api.BulkUpsertProductsRequest{
			Items: []api.CreateProductRequest{{Sku: "FLAG", Name: "renamed", PriceAmount: 200}}}, b.Auth)
		if err != nil || bulk.JSON200 == nil {
			t.Fatalf("bulk: %v %d %s", err, bulk.StatusCode(), bulk.Body)
		}
		got, err := env.Client.GetProductWithResponse(ctx, b.Brand, p.Id, b.Auth)
		if err != nil || got.JSON200 == nil || got.JSON200.Name != "renamed" || got.JSON200.AllowBackorder == nil {
			t.Fatalf("after bulk: %v %d %s", err, got.StatusCode(), got.Body)
		}
		up, _ = env.Client.UpdateProductWithResponse(ctx, b.Brand, p.Id, &api.UpdateProductParams{}, api.UpdateProductRequest{AllowBackorder: &no}, b.Auth)
		if up.JSON200 == nil || up.JSON200.AllowBackorder != nil {
			t.Fatalf("clear allowBackorder: %d %s", up.StatusCode(), up.Body)
		}
		// A variant has its own flag.
		active := api.Active
		parent := b.CreateProduct(t, api.CreateProductRequest{Sku: "TEE", Name: "Tee", PriceAmount: 100, Status: &active,
			Options: &api.ProductOptions{{Name: "Size", Values: []string{"S", "M"}}}})
		v, err := env.Client.CreateVariantWithResponse(ctx, b.Brand, parent.Id, api.CreateVariantRequest{Sku: "TEE-S", PriceAmount: 100,
			OptionValues: api.OptionValues{{Name: "Size", Value: "S"}}, AllowBackorder: &yes}, b.Auth)
		if err != nil || v.JSON201 == nil || v.JSON201.AllowBackorder == nil {
			t.Fatalf("variant: %v %d %s", err, v.StatusCode(), v.Body)
		}
		wh := b.Location(t, "WH")
		o := b.PlaceOrder(t, v.JSON201.Id, 2)
		wantBackorder(t, "variant", o, 0, 2)
		wantLevel(t, b, "variant", v.JSON201.Id, wh.Id, 0, 0, 2)
		vu, err := env.Client.UpdateVariantWithResponse(ctx, b.Brand, parent.Id, v.JSON201.Id, &api.UpdateVariantParams{}, api.UpdateVariantRequest{AllowBackorder: &no}, b.Auth)
		if err != nil || vu.JSON200 == nil || vu.JSON200.AllowBackorder != nil {
			t.Fatalf("variant clear: %v %d %s", err, vu.StatusCode(), vu.Body)
		}
		env.AssertStock(t, b.Brand)
	})

	t.Run("other brand's product ids refused", func(t *testing.T) {
		t.Parallel()
		b, other := newBuyer(t, env, "bomine"), newBuyer(t, env, "botheirs")
		theirs := backorderable(t, other, "THEIRS")
		other.Location(t, "WH")
		b.Location(t, "WH")
		r := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(theirs.Id, 2)))
		if r.StatusCode() != http.StatusNotFound {
			t.Errorf("order another brand's product: %d %s", r.StatusCode(), r.Body)
		}
		yes := true
		up, _ := env.Client.UpdateProductWithResponse(ctx, b.Brand, theirs.Id, &api.UpdateProductParams{}, api.UpdateProductRequest{AllowBackorder: &yes}, b.Auth)
		if up.StatusCode() != http.StatusNotFound {
			t.Errorf("flag another brand's product: %d %s", up.StatusCode(), up.Body)
		}
		// Their backorder is untouched, and nothing of ours waits.
		o := other.PlaceOrder(t, theirs.Id, 1)
		wantBackorder(t, "theirs", o, 0, 1)
		env.AssertStock(t, b.Brand)
		env.AssertStock(t, other.Brand)
	})
}

// TestBackordersFilledInOrder: 100 orders wait for a product; three partial receipts of a PO fill
// them strictly by order number while new backordered orders arrive and some waiting orders are
// cancelled, on real goroutines. After each receipt the stock invariants hold and no live order
// that still waits has a lower number than a live order holding stock.
func TestBackordersFilledInOrder(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "boqueue")
	p, wh := backorderable(t, b, "BO-Q"), b.Location(t, "WH")
	po := b.ordered(t, wh.Id, pl(p.Id, 1000, 100))

	const waiting = 100
	orders := make([]api.Order, waiting)
	{
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < waiting; i += 4 {
					orders[i] = b.PlaceOrder(t, p.Id, 2)
				}
			})
		}
		wg.Wait()
	}
	for _, o := range orders {
		wantBackorder(t, "waiting", o, 0, 2)
	}
	wantLevel(t, b, "waiting", p.Id, wh.Id, 0, 0, 2*waiting)

	// outOfOrder counts live orders still waiting below a live order that holds stock: one
	// statement, one snapshot.
	outOfOrder := func() int {
		return env.OwnerCount(t, b.Brand, `
			SELECT count(*) FROM order_backorders w
			WHERE EXISTS (
			  SELECT 1 FROM order_allocations h JOIN orders o ON o.brand_id = h.brand_id AND o.id = h.order_id
			  WHERE h.brand_id = w.brand_id AND h.product_id = w.product_id AND h.location_id = w.location_id
			    AND o.status <> 'cancelled' AND o.number > w.order_number)`)
	}

	receipts := []int64{50, 60, 70}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cancelled []uuid.UUID
	wg.Go(func() { // new orders keep arriving
		for range 20 {
			b.PlaceOrder(t, p.Id, 2)
		}
	})
	wg.Go(func() { // and waiting ones are given up
		for i := 3; i < waiting; i += 5 {
			if r := b.CancelOrder(t, orders[i].Id, nil); r.JSON200 == nil {
				t.Errorf("cancel %d: %d %s", orders[i].Number, r.StatusCode(), r.Body)
				continue
			}
			mu.Lock()
			cancelled = append(cancelled, orders[i].Id)
			mu.Unlock()
		}
	})
	wg.Go(func() {
		for _, n := range receipts {
			b.receive(t, po.Id, rl(po.Lines[0].Id, n))
			env.AssertStock(t, b.Brand)
			if bad := outOfOrder(); bad != 0 {
				t.Errorf("after a receipt of %d: %d waiting orders below an order holding stock", n, bad)
			}
		}
	})
	wg.Wait()

	env.AssertStock(t, b.Brand)
	if n := outOfOrder(); n != 0 {
		t.Errorf("at the end: %d waiting orders below an order holding stock", n)
	}
	// Every received unit is held by a live order (claims always outnumber what arrived), and
	// cancelled orders hold and wait for nothing.
	l := b.Level(t, p.Id, wh.Id)
	if l.OnHand != 180 || l.Reserved != 180 || l.Available != 0 {
		t.Errorf("level onHand %d reserved %d available %d, want 180 held of 180", l.OnHand, l.Reserved, l.Available)
	}
	// 100 + 20 orders of 2, less the 20 cancelled (40 units, whether waiting or held when
	// cancelled: what they held went to the next waiting), less the 180 filled.
	if want := int64(2*(waiting+20) - 2*len(cancelled) - 180); l.Backordered != want {
		t.Errorf("backordered %d, want %d", l.Backordered, want)
	}
	for _, id := range cancelled {
		o := b.GetOrder(t, id)
		if o.Backordered || o.Lines[0].QuantityBackordered != 0 || o.Status != api.OrderCancelled {
			t.Errorf("cancelled order %d: %s backordered %d", o.Number, o.Status, o.Lines[0].QuantityBackordered)
		}
	}
	// Every change of an order, each fill included and whichever transaction of the race it met,
	// took one version, one history row and one event at that version: versions 1 to version,
	// each once.
	if n := env.OwnerCount(t, b.Brand, `
		SELECT count(*) FROM orders o
		WHERE o.version <> (SELECT count(*) FROM order_events h WHERE h.brand_id = o.brand_id AND h.order_id = o.id)
		   OR o.version <> (SELECT count(DISTINCT e.aggregate_version) FROM events e
		                    WHERE e.brand_id = o.brand_id AND e.aggregate_type = 'order' AND e.aggregate_id = o.id
		                      AND e.aggregate_version BETWEEN 1 AND o.version)
		   OR EXISTS (SELECT 1 FROM events e WHERE e.brand_id = o.brand_id AND e.aggregate_type = 'order' AND e.aggregate_id = o.id
		              GROUP BY e.aggregate_version HAVING count(*) > 1)`); n != 0 {
		t.Errorf("%d orders whose versions, history and events disagree", n)
	}
	if n := env.OwnerCount(t, b.Brand, `SELECT count(*) FROM order_events WHERE action = 'backorder_fill'`); n < 90 {
		t.Errorf("%d backorder fills in the orders' histories, want one per order filled (90 at least)", n)
	}
}
