package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// sameTypes reports whether got are events of the types want, in that order.
func sameTypes(got []servertest.FeedEvent, want ...api.EventType) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i].Type != want[i] {
			return false
		}
	}
	return true
}

func TestProductChangesAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("events"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)

	created, err := env.Client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{Sku: "EV-1", Name: "Evented", PriceAmount: 100}, auth)
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create = %d %s", created.StatusCode(), created.Body)
	}
	p := created.JSON201
	// Refused changes roll back and tell nothing: a taken SKU, a stale If-Match.
	if dup, _ := env.Client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{Sku: "EV-1", Name: "Twin", PriceAmount: 1}, auth); dup.StatusCode() != 409 {
		t.Fatalf("duplicate SKU = %d", dup.StatusCode())
	}
	price := int64(250)
	stale := `"7"`
	if r, _ := env.Client.UpdateProductWithResponse(ctx, brand, p.Id, &api.UpdateProductParams{IfMatch: &stale}, api.UpdateProductRequest{PriceAmount: &price}, auth); r.StatusCode() != 412 {
		t.Fatalf("stale update = %d", r.StatusCode())
	}
	updated, err := env.Client.UpdateProductWithResponse(ctx, brand, p.Id, &api.UpdateProductParams{}, api.UpdateProductRequest{PriceAmount: &price}, auth)
	if err != nil || updated.JSON200 == nil {
		t.Fatalf("update = %d %s", updated.StatusCode(), updated.Body)
	}
	if r, _ := env.Client.DeleteProductWithResponse(ctx, brand, p.Id, &api.DeleteProductParams{}, auth); r.StatusCode() != 204 {
		t.Fatalf("delete = %d %s", r.StatusCode(), r.Body)
	}

	all := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{}, 3)
	if !sameTypes(all, api.EventTypeProductCreated, api.EventTypeProductUpdated, api.EventTypeProductDeleted) {
		t.Fatalf("feed = %v, want created, updated, deleted", servertest.EventTypes(all))
	}
	for i, e := range all {
		if e.BrandID != brand || e.Aggregate.Type != api.EventAggregateTypeProduct || e.Aggregate.Id != p.Id || e.Aggregate.Version != int64(i+1) {
			t.Errorf("event %d (%s): brand %s aggregate %+v", i, e.Type, e.BrandID, e.Aggregate)
		}
		if e.ID.Version() != 7 {
			t.Errorf("event %d id %s is not a UUIDv7", i, e.ID)
		}
	}
	var data api.Product
	if err := json.Unmarshal(all[1].Data, &data); err != nil || data.PriceAmount != 250 || data.Version != 2 || data.Sku != "EV-1" {
		t.Errorf("product.updated data = %s", all[1].Data)
	}

	t.Run("one event by id", func(t *testing.T) {
		got, err := env.Client.GetEventWithResponse(ctx, brand, all[0].ID, auth)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("get = %d %s", got.StatusCode(), got.Body)
		}
		if e := servertest.DecodeEvent(t, *got.JSON200); e.ID != all[0].ID || e.Type != api.EventTypeProductCreated {
			t.Errorf("get = %+v", e)
		}
		if v, err := got.JSON200.AsProductCreatedEvent(); err != nil || v.Data.Id != p.Id {
			t.Errorf("as ProductCreatedEvent = %+v, %v", v, err)
		}
	})
	t.Run("filters", func(t *testing.T) {
		only := []api.EventType{api.EventTypeProductDeleted, api.EventTypeProductCreated}
		if got := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{Type: &only}, 2); !sameTypes(got, api.EventTypeProductCreated, api.EventTypeProductDeleted) {
			t.Errorf("type filter = %v", servertest.EventTypes(got))
		}
		other := uuid.Must(uuid.NewV7())
		if got := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{AggregateId: &other}, 0); len(got) != 0 {
			t.Errorf("another aggregate's events = %v", servertest.EventTypes(got))
		}
		member := api.EventAggregateTypeMember
		if got := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{AggregateType: &member}, 0); len(got) != 0 {
			t.Errorf("member events = %v", servertest.EventTypes(got))
		}
		if got := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{AggregateId: &p.Id}, 3); len(got) != 3 {
			t.Errorf("the product's events = %v", servertest.EventTypes(got))
		}
	})
	t.Run("pages resume and the cursor survives the end", func(t *testing.T) {
		one := 1
		first, next := env.FeedPage(t, owner.AccessToken, brand, api.ListEventsParams{Limit: &one})
		second, next2 := env.FeedPage(t, owner.AccessToken, brand, api.ListEventsParams{Limit: &one, Cursor: &next})
		if len(first) != 1 || len(second) != 1 || first[0].ID != all[0].ID || second[0].ID != all[1].ID {
			t.Fatalf("pages = %v %v", first, second)
		}
		_, end := env.FeedPage(t, owner.AccessToken, brand, api.ListEventsParams{Cursor: &next2})
		empty, again := env.FeedPage(t, owner.AccessToken, brand, api.ListEventsParams{Cursor: &end})
		if len(empty) != 0 || again != end {
			t.Errorf("at the end: %d events, cursor %q (was %q)", len(empty), again, end)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		bad := "not-a-cursor"
		r, _ := env.Client.ListEventsWithResponse(ctx, brand, &api.ListEventsParams{Cursor: &bad}, auth)
		servertest.WantProblem(t, "tampered cursor", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

		staff := env.Member(t, owner, api.InvitationRoleSTAFF)
		r, _ = env.Client.ListEventsWithResponse(ctx, brand, &api.ListEventsParams{}, servertest.Bearer(staff.AccessToken))
		servertest.WantProblem(t, "STAFF reads the feed", r.HTTPResponse, r.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)

		stranger := env.Register(t, servertest.Email("stranger"))
		g, _ := env.Client.GetEventWithResponse(ctx, *stranger.User.BrandId, all[0].ID, servertest.Bearer(stranger.AccessToken))
		servertest.WantProblem(t, "another brand's event", g.HTTPResponse, g.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
		g, _ = env.Client.GetEventWithResponse(ctx, brand, all[0].ID, servertest.Bearer(stranger.AccessToken))
		servertest.WantProblem(t, "another brand's feed", g.HTTPResponse, g.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
		if got := env.FeedAll(t, stranger.AccessToken, *stranger.User.BrandId, api.ListEventsParams{}, 0); len(got) != 0 {
			t.Errorf("a new brand's feed = %v", servertest.EventTypes(got))
		}
	})
}

func TestBulkUpsertEmitsOneEventPerProduct(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("bulkev"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)
	first, err := env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
		{Sku: "B-1", Name: "One", PriceAmount: 1}, {Sku: "B-2", Name: "Two", PriceAmount: 2},
	}}, auth)
	if err != nil || first.JSON200 == nil {
		t.Fatalf("bulk = %d %s", first.StatusCode(), first.Body)
	}
	second, err := env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
		{Sku: "B-2", Name: "Two again", PriceAmount: 3}, {Sku: "B-3", Name: "Three", PriceAmount: 4},
	}}, auth)
	if err != nil || second.JSON200 == nil {
		t.Fatalf("bulk = %d %s", second.StatusCode(), second.Body)
	}
	all := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{}, 4)
	got := map[string][]api.EventType{}
	for _, e := range all {
		var p api.Product
		if err := json.Unmarshal(e.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Version != e.Aggregate.Version {
			t.Errorf("%s: data version %d, aggregate version %d", e.Type, p.Version, e.Aggregate.Version)
		}
		got[p.Sku] = append(got[p.Sku], e.Type)
	}
	if len(all) != 4 || len(got["B-1"]) != 1 || len(got["B-2"]) != 2 || got["B-2"][1] != api.EventTypeProductUpdated || got["B-3"][0] != api.EventTypeProductCreated {
		t.Errorf("events by SKU = %v", got)
	}
}

func TestMemberChangesAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("memberev"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)
	staff := env.Member(t, owner, api.InvitationRoleSTAFF)
	if r, err := env.Client.UpdateMemberWithResponse(ctx, brand, staff.User.Id, api.UpdateMemberRequest{Role: api.BrandRoleMANAGER}, auth); err != nil || r.JSON200 == nil {
		t.Fatalf("update member = %d %s", r.StatusCode(), r.Body)
	}
	// Refused: the last owner stays (409), and nothing is told.
	if r, _ := env.Client.RemoveMemberWithResponse(ctx, brand, owner.User.Id, auth); r.StatusCode() != 409 {
		t.Fatalf("remove the last owner = %d", r.StatusCode())
	}
	if r, _ := env.Client.RemoveMemberWithResponse(ctx, brand, staff.User.Id, auth); r.StatusCode() != 204 {
		t.Fatalf("remove member = %d %s", r.StatusCode(), r.Body)
	}
	member := api.EventAggregateTypeMember
	all := env.FeedAll(t, owner.AccessToken, brand, api.ListEventsParams{AggregateType: &member}, 3)
	if !sameTypes(all, api.EventTypeMemberAdded, api.EventTypeMemberUpdated, api.EventTypeMemberRemoved) {
		t.Fatalf("member events = %v", servertest.EventTypes(all))
	}
	var last int64
	for _, e := range all {
		var u api.User
		if err := json.Unmarshal(e.Data, &u); err != nil || u.Id != staff.User.Id || e.Aggregate.Id != staff.User.Id {
			t.Errorf("%s data = %s", e.Type, e.Data)
		}
		if e.Aggregate.Version <= last {
			t.Errorf("%s version %d after %d", e.Type, e.Aggregate.Version, last)
		}
		last = e.Aggregate.Version
	}
	var removed api.User
	_ = json.Unmarshal(all[2].Data, &removed)
	var updated api.User
	_ = json.Unmarshal(all[1].Data, &updated)
	if updated.Role != api.RoleMANAGER || !removed.Disabled {
		t.Errorf("updated role %s, removed disabled %v", updated.Role, removed.Disabled)
	}
}

func TestStockChangesAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "stockev")
	p := b.Product(t, "STK-EV")
	loc := b.Location(t, "EV")
	// Events of the setup (product.created) are not this test's.
	_, cursor := env.FeedN(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{}, 1)
	next := func(n int) []servertest.FeedEvent {
		t.Helper()
		var es []servertest.FeedEvent
		es, cursor = env.FeedN(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{Cursor: &cursor}, n)
		return es
	}
	move := func(delta int64) {
		t.Helper()
		kind := api.AdjustmentReceipt
		if delta < 0 {
			kind = api.AdjustmentAdjustment
		}
		if r := b.Adjust(t, kind, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: delta}); r.JSON201 == nil {
			t.Fatalf("adjust %d = %d %s", delta, r.StatusCode(), r.Body)
		}
	}

	move(10)
	got := next(2)
	if !sameTypes(got, api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated) {
		t.Fatalf("receipt: %v", servertest.EventTypes(got))
	}
	var mv api.StockMovement
	if err := json.Unmarshal(got[0].Data, &mv); err != nil || mv.OnHandDelta != 10 || mv.ProductId != p.Id || got[0].Aggregate.Id != mv.Id {
		t.Errorf("stock_movement.created = %+v %s", got[0].Aggregate, got[0].Data)
	}
	var lv api.StockLevel
	if err := json.Unmarshal(got[1].Data, &lv); err != nil || lv.OnHand != 10 || got[1].Aggregate.Version != lv.Version {
		t.Errorf("inventory_level.updated = %+v %s", got[1].Aggregate, got[1].Data)
	}
	levelID := got[1].Aggregate.Id

	point := int64(5)
	if r, err := env.Client.UpdateStockLevelWithResponse(ctx, b.Brand, p.Id, loc.Id, &api.UpdateStockLevelParams{}, api.UpdateStockLevelRequest{ReorderPoint: &point}, b.Auth); err != nil || r.JSON200 == nil {
		t.Fatalf("reorder point = %d %s", r.StatusCode(), r.Body)
	}
	if got := next(1); !sameTypes(got, api.EventTypeInventoryLevelUpdated) || got[0].Aggregate.Id != levelID {
		t.Fatalf("reorder point: %v", servertest.EventTypes(got))
	}

	low := api.EventTypeInventoryLevelLow
	for _, c := range []struct {
		delta int64
		low   bool
	}{
		{-4, false}, // 6: above the point
		{-1, true},  // 5: at it, crossed
		{-2, false}, // 3: still below, told once
		{+4, false}, // 7: recovered
		{-3, true},  // 4: crossed again
	} {
		move(c.delta)
		want := []api.EventType{api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated}
		if c.low {
			want = append(want, low)
		}
		if got := next(len(want)); !sameTypes(got, want...) {
			t.Errorf("move %+d: %v, want %v", c.delta, servertest.EventTypes(got), want)
		}
	}

	// A refused change (more than on hand) rolls back and tells nothing.
	if r := b.Adjust(t, api.AdjustmentAdjustment, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: -100}); r.StatusCode() < 400 {
		t.Fatalf("overdraw = %d", r.StatusCode())
	}
	move(1)
	if got := next(2); !sameTypes(got, api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated) {
		t.Errorf("after a refused change: %v", servertest.EventTypes(got))
	}
}

func TestOrderTransitionsAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "orderev")
	p := b.Product(t, "ORD-EV")
	loc := b.Location(t, "OEV")
	b.Receive(t, p.Id, loc.Id, 10)
	order := api.EventAggregateTypeOrder
	fulfilment := api.EventAggregateTypeFulfilment
	onlyOrders := func(n int) []servertest.FeedEvent {
		t.Helper()
		es := env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{AggregateType: &order}, n)
		return append(es, env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{AggregateType: &fulfilment}, 0)...)
	}

	o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 3))
	// Refused: more than in stock; rolled back, told nothing.
	if r := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(p.Id, 100))); r.StatusCode() != 422 {
		t.Fatalf("oversell = %d", r.StatusCode())
	}
	if r := b.ConfirmOrder(t, o.Id); r.JSON200 == nil {
		t.Fatalf("confirm = %d %s", r.StatusCode(), r.Body)
	}
	line := o.Lines[0].Id
	f := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 1})
	if f.JSON201 == nil {
		t.Fatalf("fulfil = %d %s", f.StatusCode(), f.Body)
	}
	if r := b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 2}); r.JSON201 == nil {
		t.Fatalf("fulfil = %d %s", r.StatusCode(), r.Body)
	}
	cancelled := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
	if r := b.CancelOrder(t, cancelled.Id, nil); r.JSON200 == nil {
		t.Fatalf("cancel = %d %s", r.StatusCode(), r.Body)
	}
	expired := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
	env.Clock.Advance(31 * time.Minute)
	if n, err := server.SweepOrders(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	b = b.Relogin(t)

	all := onlyOrders(8)
	want := []struct {
		typ     api.EventType
		id      uuid.UUID
		version int64
	}{
		{api.EventTypeOrderCreated, o.Id, 1},
		{api.EventTypeOrderConfirmed, o.Id, 2},
		{api.EventTypeOrderPartiallyFulfilled, o.Id, 3},
		{api.EventTypeOrderFulfilled, o.Id, 4},
		{api.EventTypeOrderCreated, cancelled.Id, 1},
		{api.EventTypeOrderCancelled, cancelled.Id, 2},
		{api.EventTypeOrderCreated, expired.Id, 1},
		{api.EventTypeOrderExpired, expired.Id, 2},
	}
	orders := all[:min(len(all), 8)]
	if len(orders) != len(want) {
		t.Fatalf("order events = %v", servertest.EventTypes(all))
	}
	for i, w := range want {
		e := orders[i]
		var data api.Order
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		if e.Type != w.typ || e.Aggregate.Id != w.id || e.Aggregate.Version != w.version || data.Id != w.id || data.Version != w.version {
			t.Errorf("order event %d = %s %+v (data version %d), want %s of %s at %d", i, e.Type, e.Aggregate, data.Version, w.typ, w.id, w.version)
		}
	}
	fs := all[8:]
	if len(fs) != 2 || fs[0].Type != api.EventTypeFulfilmentCreated || fs[0].Aggregate.Id != f.JSON201.Id {
		t.Errorf("fulfilment events = %v", servertest.EventTypes(fs))
	}
}

func TestReservationLifecycleIsEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "resev")
	p := b.Product(t, "RES-EV")
	loc := b.Location(t, "REV")
	b.Receive(t, p.Id, loc.Id, 10)

	released := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 1))
	if r, err := env.Client.ReleaseReservationWithResponse(ctx, b.Brand, released.Id, b.Auth); err != nil || r.StatusCode() != 204 {
		t.Fatalf("release = %d %s", r.StatusCode(), r.Body)
	}
	consumed := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 2))
	body := servertest.OrderBody(servertest.OrderLine(p.Id, 2))
	body.ReservationId = &consumed.Id
	if r := b.CreateOrder(t, servertest.NewKey(), body); r.JSON201 == nil {
		t.Fatalf("order from reservation = %d %s", r.StatusCode(), r.Body)
	}
	expired := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 1))
	env.Clock.Advance(time.Hour)
	if n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	b = b.Relogin(t)

	kind := api.EventAggregateTypeReservation
	all := env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{AggregateType: &kind}, 6)
	want := []struct {
		typ    api.EventType
		id     uuid.UUID
		status api.ReservationStatus
	}{
		{api.EventTypeReservationCreated, released.Id, api.ReservationActive},
		{api.EventTypeReservationReleased, released.Id, api.ReservationReleased},
		{api.EventTypeReservationCreated, consumed.Id, api.ReservationActive},
		{api.EventTypeReservationConsumed, consumed.Id, api.ReservationConsumed},
		{api.EventTypeReservationCreated, expired.Id, api.ReservationActive},
		{api.EventTypeReservationExpired, expired.Id, api.ReservationExpired},
	}
	if len(all) != len(want) {
		t.Fatalf("reservation events = %v", servertest.EventTypes(all))
	}
	for i, w := range want {
		var r api.Reservation
		if err := json.Unmarshal(all[i].Data, &r); err != nil {
			t.Fatal(err)
		}
		if all[i].Type != w.typ || all[i].Aggregate.Id != w.id || r.Status != w.status || r.Version != all[i].Aggregate.Version || len(r.Lines) != 1 {
			t.Errorf("event %d = %s of %s (status %s, version %d/%d, %d lines), want %s of %s (%s)", i, all[i].Type, all[i].Aggregate.Id,
				r.Status, r.Version, all[i].Aggregate.Version, len(r.Lines), w.typ, w.id, w.status)
		}
	}
}
