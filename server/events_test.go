package server_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// feedEvent is an event of the feed as a test reads it: the envelope, and data left raw.
type feedEvent struct {
	ID         uuid.UUID          `json:"id"`
	Type       api.EventType      `json:"type"`
	BrandID    uuid.UUID          `json:"brandId"`
	Aggregate  api.EventAggregate `json:"aggregate"`
	Data       json.RawMessage    `json:"data"`
	OccurredAt string             `json:"occurredAt"`
}

func decodeEvent(t *testing.T, e api.Event) feedEvent {
	t.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out feedEvent
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// feedPage asks the feed once and returns its events and where it continues.
func feedPage(t *testing.T, env *servertest.Env, token string, brand uuid.UUID, params api.ListEventsParams) ([]feedEvent, string) {
	t.Helper()
	resp, err := env.Client.ListEventsWithResponse(ctx, brand, &params, servertest.Bearer(token))
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list events = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	out := make([]feedEvent, len(resp.JSON200.Items))
	for i, e := range resp.JSON200.Items {
		out[i] = decodeEvent(t, e)
	}
	return out, resp.JSON200.NextCursor
}

// feedN reads the feed from params' cursor until it has served at least n events, and returns
// them all and where the feed continues. An event is served once every transaction older than its
// own has ended, anywhere in the cluster (other tests' included), so it is waited for, not
// expected on the first read.
func feedN(t *testing.T, env *servertest.Env, token string, brand uuid.UUID, params api.ListEventsParams, n int) ([]feedEvent, string) {
	t.Helper()
	var all []feedEvent
	var next string
	for deadline := time.Now().Add(time.Minute); ; {
		var page []feedEvent
		page, next = feedPage(t, env, token, brand, params)
		all = append(all, page...)
		params.Cursor = &next
		if len(page) == 0 {
			if len(all) >= n {
				return all, next
			}
			if time.Now().After(deadline) {
				t.Fatalf("the feed served %d events in a minute, want %d: %v", len(all), n, types(all))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// feedAll is feedN from the feed's start.
func feedAll(t *testing.T, env *servertest.Env, token string, brand uuid.UUID, params api.ListEventsParams, n int) []feedEvent {
	t.Helper()
	all, _ := feedN(t, env, token, brand, params, n)
	return all
}

func types(es []feedEvent) []api.EventType {
	out := make([]api.EventType, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

func sameTypes(got []feedEvent, want ...api.EventType) bool {
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

	all := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{}, 3)
	if !sameTypes(all, api.EventTypeProductCreated, api.EventTypeProductUpdated, api.EventTypeProductDeleted) {
		t.Fatalf("feed = %v, want created, updated, deleted", types(all))
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
		if e := decodeEvent(t, *got.JSON200); e.ID != all[0].ID || e.Type != api.EventTypeProductCreated {
			t.Errorf("get = %+v", e)
		}
		if v, err := got.JSON200.AsProductCreatedEvent(); err != nil || v.Data.Id != p.Id {
			t.Errorf("as ProductCreatedEvent = %+v, %v", v, err)
		}
	})
	t.Run("filters", func(t *testing.T) {
		only := []api.EventType{api.EventTypeProductDeleted, api.EventTypeProductCreated}
		if got := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{Type: &only}, 2); !sameTypes(got, api.EventTypeProductCreated, api.EventTypeProductDeleted) {
			t.Errorf("type filter = %v", types(got))
		}
		other := uuid.Must(uuid.NewV7())
		if got := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{AggregateId: &other}, 0); len(got) != 0 {
			t.Errorf("another aggregate's events = %v", types(got))
		}
		member := api.EventAggregateTypeMember
		if got := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{AggregateType: &member}, 0); len(got) != 0 {
			t.Errorf("member events = %v", types(got))
		}
		if got := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{AggregateId: &p.Id}, 3); len(got) != 3 {
			t.Errorf("the product's events = %v", types(got))
		}
	})
	t.Run("pages resume and the cursor survives the end", func(t *testing.T) {
		one := 1
		first, next := feedPage(t, env, owner.AccessToken, brand, api.ListEventsParams{Limit: &one})
		second, next2 := feedPage(t, env, owner.AccessToken, brand, api.ListEventsParams{Limit: &one, Cursor: &next})
		if len(first) != 1 || len(second) != 1 || first[0].ID != all[0].ID || second[0].ID != all[1].ID {
			t.Fatalf("pages = %v %v", first, second)
		}
		_, end := feedPage(t, env, owner.AccessToken, brand, api.ListEventsParams{Cursor: &next2})
		empty, again := feedPage(t, env, owner.AccessToken, brand, api.ListEventsParams{Cursor: &end})
		if len(empty) != 0 || again != end {
			t.Errorf("at the end: %d events, cursor %q (was %q)", len(empty), again, end)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		bad := "not-a-cursor"
		r, _ := env.Client.ListEventsWithResponse(ctx, brand, &api.ListEventsParams{Cursor: &bad}, auth)
		wantProblem(t, "tampered cursor", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

		staff := env.Member(t, owner, api.InvitationRoleSTAFF)
		r, _ = env.Client.ListEventsWithResponse(ctx, brand, &api.ListEventsParams{}, servertest.Bearer(staff.AccessToken))
		wantProblem(t, "STAFF reads the feed", r.HTTPResponse, r.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)

		stranger := env.Register(t, servertest.Email("stranger"))
		g, _ := env.Client.GetEventWithResponse(ctx, *stranger.User.BrandId, all[0].ID, servertest.Bearer(stranger.AccessToken))
		wantProblem(t, "another brand's event", g.HTTPResponse, g.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
		g, _ = env.Client.GetEventWithResponse(ctx, brand, all[0].ID, servertest.Bearer(stranger.AccessToken))
		wantProblem(t, "another brand's feed", g.HTTPResponse, g.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
		if got := feedAll(t, env, stranger.AccessToken, *stranger.User.BrandId, api.ListEventsParams{}, 0); len(got) != 0 {
			t.Errorf("a new brand's feed = %v", types(got))
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
	all := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{}, 4)
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
	all := feedAll(t, env, owner.AccessToken, brand, api.ListEventsParams{AggregateType: &member}, 3)
	if !sameTypes(all, api.EventTypeMemberAdded, api.EventTypeMemberUpdated, api.EventTypeMemberRemoved) {
		t.Fatalf("member events = %v", types(all))
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

var errRollback = errors.New("roll back")

func TestStockChangesAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newStockBrand(t, env, "stockev")
	p := b.product(t, "STK-EV")
	loc := createLocation(t, env, b.owner, "EV")
	// Events of the setup (product.created) are not this test's.
	_, cursor := feedN(t, env, b.owner.AccessToken, b.brand, api.ListEventsParams{}, 1)
	next := func(n int) []feedEvent {
		t.Helper()
		var es []feedEvent
		es, cursor = feedN(t, env, b.owner.AccessToken, b.brand, api.ListEventsParams{Cursor: &cursor}, n)
		return es
	}
	move := func(delta int64) {
		t.Helper()
		kind := api.AdjustmentReceipt
		if delta < 0 {
			kind = api.AdjustmentAdjustment
		}
		if r := b.adjust(t, kind, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: delta}); r.JSON201 == nil {
			t.Fatalf("adjust %d = %d %s", delta, r.StatusCode(), r.Body)
		}
	}

	move(10)
	got := next(2)
	if !sameTypes(got, api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated) {
		t.Fatalf("receipt: %v", types(got))
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
	if r, err := env.Client.UpdateStockLevelWithResponse(ctx, b.brand, p.Id, loc.Id, &api.UpdateStockLevelParams{}, api.UpdateStockLevelRequest{ReorderPoint: &point}, b.auth); err != nil || r.JSON200 == nil {
		t.Fatalf("reorder point = %d %s", r.StatusCode(), r.Body)
	}
	if got := next(1); !sameTypes(got, api.EventTypeInventoryLevelUpdated) || got[0].Aggregate.Id != levelID {
		t.Fatalf("reorder point: %v", types(got))
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
			t.Errorf("move %+d: %v, want %v", c.delta, types(got), want)
		}
	}

	// A refused change (more than on hand) rolls back and tells nothing.
	if r := b.adjust(t, api.AdjustmentAdjustment, api.StockAdjustmentLine{ProductId: p.Id, LocationId: loc.Id, Delta: -100}); r.StatusCode() < 400 {
		t.Fatalf("overdraw = %d", r.StatusCode())
	}
	move(1)
	if got := next(2); !sameTypes(got, api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated) {
		t.Errorf("after a refused change: %v", types(got))
	}
}

func TestOrderTransitionsAreEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "orderev")
	p := b.product(t, "ORD-EV")
	loc := createLocation(t, env, b.owner, "OEV")
	receive(t, env, b.owner, p.Id, loc.Id, 10)
	order := api.EventAggregateTypeOrder
	fulfilment := api.EventAggregateTypeFulfilment
	onlyOrders := func(n int) []feedEvent {
		t.Helper()
		es := feedAll(t, env, b.owner.AccessToken, b.brand, api.ListEventsParams{AggregateType: &order}, n)
		return append(es, feedAll(t, env, b.owner.AccessToken, b.brand, api.ListEventsParams{AggregateType: &fulfilment}, 0)...)
	}

	o := b.mustCreate(t, oline(p.Id, 3))
	// Refused: more than in stock; rolled back, told nothing.
	if r := b.create(t, newKey(), orderBody(oline(p.Id, 100))); r.StatusCode() != 422 {
		t.Fatalf("oversell = %d", r.StatusCode())
	}
	if r := b.confirm(t, o.Id); r.JSON200 == nil {
		t.Fatalf("confirm = %d %s", r.StatusCode(), r.Body)
	}
	line := o.Lines[0].Id
	f := b.fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 1})
	if f.JSON201 == nil {
		t.Fatalf("fulfil = %d %s", f.StatusCode(), f.Body)
	}
	if r := b.fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: line, Quantity: 2}); r.JSON201 == nil {
		t.Fatalf("fulfil = %d %s", r.StatusCode(), r.Body)
	}
	cancelled := b.mustCreate(t, oline(p.Id, 1))
	if r := b.cancel(t, cancelled.Id, nil); r.JSON200 == nil {
		t.Fatalf("cancel = %d %s", r.StatusCode(), r.Body)
	}
	expired := b.mustCreate(t, oline(p.Id, 1))
	env.Clock.Advance(31 * time.Minute)
	if n, err := server.SweepOrders(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	b = orderBrand{b.relogin(t)}

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
		t.Fatalf("order events = %v", types(all))
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
		t.Errorf("fulfilment events = %v", types(fs))
	}
}

func TestReservationLifecycleIsEvents(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newOrderBrand(t, env, "resev")
	p := b.product(t, "RES-EV")
	loc := createLocation(t, env, b.owner, "REV")
	receive(t, env, b.owner, p.Id, loc.Id, 10)

	released := b.mustReserve(t, line(p.Id, nil, 1))
	if r, err := env.Client.ReleaseReservationWithResponse(ctx, b.brand, released.Id, b.auth); err != nil || r.StatusCode() != 204 {
		t.Fatalf("release = %d %s", r.StatusCode(), r.Body)
	}
	consumed := b.mustReserve(t, line(p.Id, nil, 2))
	body := orderBody(oline(p.Id, 2))
	body.ReservationId = &consumed.Id
	if r := b.create(t, newKey(), body); r.JSON201 == nil {
		t.Fatalf("order from reservation = %d %s", r.StatusCode(), r.Body)
	}
	expired := b.mustReserve(t, line(p.Id, nil, 1))
	env.Clock.Advance(time.Hour)
	if n, err := server.SweepReservations(ctx, env.Pool, nil, env.Clock.Now); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	b.stockBrand = b.relogin(t)

	kind := api.EventAggregateTypeReservation
	all := feedAll(t, env, b.owner.AccessToken, b.brand, api.ListEventsParams{AggregateType: &kind}, 6)
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
		t.Fatalf("reservation events = %v", types(all))
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
