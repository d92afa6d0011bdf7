package servertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// Helpers for the stock tests (server/inventory, server/orders): a brand with an owner and the
// calls those tests make, the engine's invariants, and concurrency helpers.

// StockMismatches runs both of the stock engine's invariant queries (the ledger sums to each
// level; each level's reserved is the sum of its live holds) for brand, as the application role
// inside the brand's scope.
func (e *Env) StockMismatches(t testing.TB, brand uuid.UUID) []inventory.Mismatch {
	t.Helper()
	ctx := context.Background()
	var out []inventory.Mismatch
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		var err error
		out, err = inventory.Mismatches(ctx, tx, brand)
		return err
	})
	if err != nil {
		t.Fatalf("stock invariants of brand %s: %v", brand, err)
	}
	return out
}

// AssertStock fails the test for every level of brand that breaks a stock invariant, naming it:
// its movements sum to its onHand and reserved, its reserved is the sum of its live holds
// (StockMismatches), and 0 <= live reserved <= onHand (holds of expired reservations the sweeper
// has not released yet stay in reserved but are not live).
func (e *Env) AssertStock(t testing.TB, brand uuid.UUID) {
	t.Helper()
	for _, m := range e.StockMismatches(t, brand) {
		t.Errorf("stock invariant broken: %s", m)
	}
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		var levels, broken int
		if err := tx.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE l.reserved < 0 OR l.reserved - x.expired > l.on_hand)
			FROM stock_levels l
			CROSS JOIN LATERAL (SELECT coalesce(sum(e.quantity), 0) AS expired FROM level_hold_expiries e
			                    WHERE e.brand_id = l.brand_id AND e.product_id = l.product_id AND e.location_id = l.location_id
			                      AND e.expires_at <= $2) x
			WHERE l.brand_id = $1`, brand, e.Clock.Now()).Scan(&levels, &broken); err != nil {
			return err
		}
		if broken != 0 {
			t.Errorf("stock: %d of %d levels break 0 <= live reserved <= onHand", broken, levels)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("stock bounds of brand %s: %v", brand, err)
	}
}

// OwnerCount runs a count(*) query as the tables' owner, scoped to brand (the tables force
// row-level security even on their owner).
func (e *Env) OwnerCount(t testing.TB, brand uuid.UUID, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// StockBrand is a brand with an owner, for the stock tests.
type StockBrand struct {
	Env   *Env
	Owner api.AuthResponse
	Brand uuid.UUID
	Auth  api.RequestEditorFn
}

// NewStockBrand registers an owner (and so a brand) named after name.
func NewStockBrand(t testing.TB, env *Env, name string) StockBrand {
	t.Helper()
	owner := env.Register(t, Email(name))
	return StockBrand{Env: env, Owner: owner, Brand: *owner.User.BrandId, Auth: Bearer(owner.AccessToken)}
}

// Relogin opens a fresh session, for a test that moved the clock past the access token's life.
func (b StockBrand) Relogin(t testing.TB) StockBrand {
	t.Helper()
	b.Owner = b.Env.Login(t, string(b.Owner.User.Email), Password)
	b.Auth = Bearer(b.Owner.AccessToken)
	return b
}

// CreateProduct creates a product as the owner, or fails the test.
func (b StockBrand) CreateProduct(t testing.TB, body api.CreateProductRequest) api.Product {
	t.Helper()
	resp, err := b.Env.Client.CreateProductWithResponse(context.Background(), b.Brand, body, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create product %s: %v %d %s", body.Sku, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Product creates an active product (only active products can be held).
func (b StockBrand) Product(t testing.TB, sku string) api.Product {
	t.Helper()
	active := api.Active
	return b.CreateProduct(t, api.CreateProductRequest{Sku: sku, Name: sku + " product", PriceAmount: 100, Status: &active})
}

// Location creates an active location, or fails the test.
func (b StockBrand) Location(t testing.TB, code string) api.StockLocation {
	t.Helper()
	resp, err := b.Env.Client.CreateLocationWithResponse(context.Background(), b.Brand, api.CreateLocationRequest{Code: code, Name: code + " warehouse"}, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create location %s: %v %d %s", code, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Receive receives n units of product at location, or fails the test.
func (b StockBrand) Receive(t testing.TB, product, location uuid.UUID, n int64) api.StockChange {
	t.Helper()
	resp, err := b.Env.Client.CreateStockAdjustmentWithResponse(context.Background(), b.Brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
		Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: product, LocationId: location, Delta: n}},
	}, b.Auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("receive: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Level reads one level (zero quantities when it does not exist).
func (b StockBrand) Level(t testing.TB, product, location uuid.UUID) api.StockLevel {
	t.Helper()
	resp, err := b.Env.Client.ListStockLevelsWithResponse(context.Background(), b.Brand, &api.ListStockLevelsParams{ProductId: &product, LocationId: &location}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list levels: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	switch len(resp.JSON200.Items) {
	case 0:
		return api.StockLevel{ProductId: product, LocationId: location}
	case 1:
		return resp.JSON200.Items[0]
	}
	t.Fatalf("%d levels for one product and location", len(resp.JSON200.Items))
	return api.StockLevel{}
}

// WantLevel asserts a level's quantities.
func (b StockBrand) WantLevel(t testing.TB, what string, product, location uuid.UUID, onHand, reserved int64) {
	t.Helper()
	l := b.Level(t, product, location)
	if l.OnHand != onHand || l.Reserved != reserved || l.Available != onHand-reserved {
		t.Errorf("%s: level onHand %d reserved %d available %d, want %d %d %d", what, l.OnHand, l.Reserved, l.Available, onHand, reserved, onHand-reserved)
	}
}

// Reserve asks for a reservation of lines.
func (b StockBrand) Reserve(t testing.TB, lines ...api.ReservationRequestLine) *api.CreateReservationResponse {
	t.Helper()
	resp, err := b.Env.Client.CreateReservationWithResponse(context.Background(), b.Brand, &api.CreateReservationParams{}, api.CreateReservationRequest{Lines: lines}, b.Auth)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	return resp
}

// MustReserve reserves lines, or fails the test.
func (b StockBrand) MustReserve(t testing.TB, lines ...api.ReservationRequestLine) api.Reservation {
	t.Helper()
	resp := b.Reserve(t, lines...)
	if resp.JSON201 == nil {
		t.Fatalf("reserve: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Adjust asks for a stock adjustment of kind.
func (b StockBrand) Adjust(t testing.TB, kind api.AdjustmentKind, lines ...api.StockAdjustmentLine) *api.CreateStockAdjustmentResponse {
	t.Helper()
	resp, err := b.Env.Client.CreateStockAdjustmentWithResponse(context.Background(), b.Brand, &api.CreateStockAdjustmentParams{},
		api.StockAdjustmentRequest{Kind: kind, Lines: lines}, b.Auth)
	if err != nil {
		t.Fatalf("adjust: %v", err)
	}
	return resp
}

// Movements reads every movement matching params, following the cursor.
func (b StockBrand) Movements(t testing.TB, params api.ListStockMovementsParams) []api.StockMovement {
	t.Helper()
	var out []api.StockMovement
	for {
		resp, err := b.Env.Client.ListStockMovementsWithResponse(context.Background(), b.Brand, &params, b.Auth)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("movements: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		out = append(out, resp.JSON200.Items...)
		if resp.JSON200.NextCursor == nil {
			return out
		}
		params.Cursor = resp.JSON200.NextCursor
	}
}

// PlaceOrder places an order of n units of product, or fails the test.
func (b StockBrand) PlaceOrder(t testing.TB, product uuid.UUID, n int64) api.Order {
	t.Helper()
	return b.Env.PlaceOrder(t, b.Owner, product, n)
}

// PlaceOrder places an order of n units of product as owner, or fails the test.
func (e *Env) PlaceOrder(t testing.TB, owner api.AuthResponse, product uuid.UUID, n int64) api.Order {
	t.Helper()
	resp, err := e.Client.CreateOrderWithResponse(context.Background(), *owner.User.BrandId, &api.CreateOrderParams{IdempotencyKey: *NewKey()},
		OrderBody(OrderLine(product, n)), Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("place order: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// CreateOrder asks for an order with Idempotency-Key key (nil: an empty header, refused like a
// missing one: the generated client always sends the required header).
func (b StockBrand) CreateOrder(t testing.TB, key *string, body api.CreateOrderRequest) *api.CreateOrderResponse {
	t.Helper()
	k := ""
	if key != nil {
		k = *key
	}
	resp, err := b.Env.Client.CreateOrderWithResponse(context.Background(), b.Brand, &api.CreateOrderParams{IdempotencyKey: k}, body, b.Auth)
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return resp
}

// MustCreateOrder places an order of lines with a fresh key, or fails the test.
func (b StockBrand) MustCreateOrder(t testing.TB, lines ...api.OrderRequestLine) api.Order {
	t.Helper()
	resp := b.CreateOrder(t, NewKey(), OrderBody(lines...))
	if resp.JSON201 == nil {
		t.Fatalf("create order: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// ConfirmOrder asks to confirm order id.
func (b StockBrand) ConfirmOrder(t testing.TB, id uuid.UUID) *api.ConfirmOrderResponse {
	t.Helper()
	resp, err := b.Env.Client.ConfirmOrderWithResponse(context.Background(), b.Brand, id, &api.ConfirmOrderParams{}, api.ConfirmOrderRequest{}, b.Auth)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return resp
}

// Fulfil asks to ship lines of order id.
func (b StockBrand) Fulfil(t testing.TB, id uuid.UUID, lines ...api.FulfilmentRequestLine) *api.CreateFulfilmentResponse {
	t.Helper()
	resp, err := b.Env.Client.CreateFulfilmentWithResponse(context.Background(), b.Brand, id, &api.CreateFulfilmentParams{}, api.CreateFulfilmentRequest{Lines: lines}, b.Auth)
	if err != nil {
		t.Fatalf("fulfil: %v", err)
	}
	return resp
}

// CancelOrder asks to cancel order id with reason.
func (b StockBrand) CancelOrder(t testing.TB, id uuid.UUID, reason *string) *api.CancelOrderResponse {
	t.Helper()
	resp, err := b.Env.Client.CancelOrderWithResponse(context.Background(), b.Brand, id, &api.CancelOrderParams{}, api.CancelOrderRequest{Reason: reason}, b.Auth)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	return resp
}

// GetOrder reads order id, or fails the test.
func (b StockBrand) GetOrder(t testing.TB, id uuid.UUID) api.Order {
	t.Helper()
	resp, err := b.Env.Client.GetOrderWithResponse(context.Background(), b.Brand, id, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("get order: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// OrderEvents reads the first page of order id's events, or fails the test.
func (b StockBrand) OrderEvents(t testing.TB, id uuid.UUID) []api.OrderEvent {
	t.Helper()
	resp, err := b.Env.Client.ListOrderEventsWithResponse(context.Background(), b.Brand, id, &api.ListOrderEventsParams{}, b.Auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("events: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Items
}

// HoldLine is a reservation line (location nil: wherever the allocation rule finds the stock).
func HoldLine(product uuid.UUID, location *uuid.UUID, quantity int64) api.ReservationRequestLine {
	return api.ReservationRequestLine{ProductId: product, LocationId: location, Quantity: quantity}
}

// OrderLine is an order line.
func OrderLine(product uuid.UUID, n int64) api.OrderRequestLine {
	return api.OrderRequestLine{ProductId: product, Quantity: n}
}

// OrderBody is a valid order of the given lines.
func OrderBody(lines ...api.OrderRequestLine) api.CreateOrderRequest {
	return api.CreateOrderRequest{
		Lines:           lines,
		Customer:        &api.Customer{Email: openapi_types.Email("ada@example.com"), Name: "Ada Lovelace"},
		ShippingAddress: api.Address{Line1: "12 Babbage Street", City: "London", Country: "GB"},
	}
}

// NewKey is a fresh Idempotency-Key.
func NewKey() *string {
	k := uuid.NewString()
	return &k
}

// PostKeyed posts a raw JSON body with token and an Idempotency-Key (nil key: none).
func (e *Env) PostKeyed(t testing.TB, token, path, body string, key *string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != nil {
		req.Header.Set("Idempotency-Key", *key)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// WantLines asserts a problem's lines, in order, by index, product, location, requested and
// available (nil: not checked), and onHand and expectedOnHand when the wanted line has them.
func WantLines(t testing.TB, what string, p *api.Problem, want ...api.ProblemLine) {
	t.Helper()
	if p == nil || p.Lines == nil {
		t.Errorf("%s: problem without lines: %+v", what, p)
		return
	}
	got := *p.Lines
	if len(got) != len(want) {
		t.Errorf("%s: %d problem lines, want %d: %+v", what, len(got), len(want), got)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.ProductId != w.ProductId || !eqPtr(g.LocationId, w.LocationId) ||
			!eqPtr(g.Requested, w.Requested) || !eqPtr(g.Available, w.Available) ||
			(w.OnHand != nil && !eqPtr(g.OnHand, w.OnHand)) || (w.ExpectedOnHand != nil && !eqPtr(g.ExpectedOnHand, w.ExpectedOnHand)) {
			t.Errorf("%s: line %d = %s, want %s", what, i, showLine(g), showLine(w))
		}
	}
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func showLine(l api.ProblemLine) string {
	s := fmt.Sprintf("{index %d product %s", l.Index, l.ProductId)
	if l.LocationId != nil {
		s += " location " + l.LocationId.String()
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"requested", l.Requested}, {"available", l.Available}, {"onHand", l.OnHand}, {"expectedOnHand", l.ExpectedOnHand}} {
		if f.v != nil {
			s += fmt.Sprintf(" %s %d", f.name, *f.v)
		}
	}
	return s + "}"
}

// StatusIs fails unless resp has status and, for a problem, code.
func StatusIs(t testing.TB, what string, resp *http.Response, p *api.Problem, status int, code api.ProblemCode) bool {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d", what, resp.StatusCode, status)
		return false
	}
	if code != "" && (p == nil || p.Code != code) {
		t.Errorf("%s: problem %+v, want code %s", what, p, code)
		return false
	}
	return true
}

// Outcomes counts concurrent answers by status and problem code.
type Outcomes struct {
	mu     sync.Mutex
	Status map[int]int
	Codes  map[api.ProblemCode]int
}

// Add counts one answer (p nil: not a problem).
func (o *Outcomes) Add(status int, p *api.Problem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Status == nil {
		o.Status, o.Codes = map[int]int{}, map[api.ProblemCode]int{}
	}
	o.Status[status]++
	if p != nil {
		o.Codes[p.Code]++
	}
}

// AtOnce starts n goroutines at once (a barrier releases them together) and waits for them all;
// a deadlock would hang here, and the test's deadline would name it.
func AtOnce(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// PatientBrands lets a burst of one brand's requests wait as long as it takes: for the brand's
// share of the pool, for a row lock, for the whole request. The stock concurrency tests prove
// stock stays correct under contention, not the time limits (the fairness and reliability tests
// do), and on a busy 2-core machine 1,000 requests queued behind one hot row outlast the defaults
// (2 s for the brand's share and for a lock, 20 s a request), turning a would-be 201 or 422 into
// a 503.
func PatientBrands(c *server.Config) {
	c.BrandPoolWait = 5 * time.Minute
	c.DB.LockTimeout = 5 * time.Minute
	c.DB.StatementTimeout = 5 * time.Minute
	c.DB.RequestTimeout = 0 // none: the test's own -timeout bounds a hang
}
