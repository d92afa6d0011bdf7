package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// stockBrand is a brand with an owner, for inventory tests.
type stockBrand struct {
	env   *servertest.Env
	owner api.AuthResponse
	brand uuid.UUID
	auth  api.RequestEditorFn
}

func newStockBrand(t *testing.T, env *servertest.Env, name string) stockBrand {
	t.Helper()
	owner := env.Register(t, servertest.Email(name))
	return stockBrand{env: env, owner: owner, brand: *owner.User.BrandId, auth: servertest.Bearer(owner.AccessToken)}
}

// relogin opens a fresh session, for a test that moved the clock past the access token's life.
func (b stockBrand) relogin(t *testing.T) stockBrand {
	t.Helper()
	b.owner = b.env.Login(t, string(b.owner.User.Email), servertest.Password)
	b.auth = servertest.Bearer(b.owner.AccessToken)
	return b
}

// product creates an active product (only active products can be reserved).
func (b stockBrand) product(t *testing.T, sku string) api.Product {
	t.Helper()
	active := api.Active
	return createProduct(t, b.env, b.owner, api.CreateProductRequest{Sku: sku, Name: sku + " product", PriceAmount: 100, Status: &active})
}

// level reads one level (zero quantities when it does not exist).
func (b stockBrand) level(t *testing.T, product, location uuid.UUID) api.StockLevel {
	t.Helper()
	resp, err := b.env.Client.ListStockLevelsWithResponse(ctx, b.brand, &api.ListStockLevelsParams{ProductId: &product, LocationId: &location}, b.auth)
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

// wantLevel asserts a level's quantities.
func (b stockBrand) wantLevel(t *testing.T, what string, product, location uuid.UUID, onHand, reserved int64) {
	t.Helper()
	l := b.level(t, product, location)
	if l.OnHand != onHand || l.Reserved != reserved || l.Available != onHand-reserved {
		t.Errorf("%s: level onHand %d reserved %d available %d, want %d %d %d", what, l.OnHand, l.Reserved, l.Available, onHand, reserved, onHand-reserved)
	}
}

func (b stockBrand) reserve(t *testing.T, lines ...api.ReservationRequestLine) *api.CreateReservationResponse {
	t.Helper()
	resp, err := b.env.Client.CreateReservationWithResponse(ctx, b.brand, &api.CreateReservationParams{}, api.CreateReservationRequest{Lines: lines}, b.auth)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	return resp
}

func (b stockBrand) mustReserve(t *testing.T, lines ...api.ReservationRequestLine) api.Reservation {
	t.Helper()
	resp := b.reserve(t, lines...)
	if resp.JSON201 == nil {
		t.Fatalf("reserve: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func (b stockBrand) adjust(t *testing.T, kind api.AdjustmentKind, lines ...api.StockAdjustmentLine) *api.CreateStockAdjustmentResponse {
	t.Helper()
	resp, err := b.env.Client.CreateStockAdjustmentWithResponse(ctx, b.brand, &api.CreateStockAdjustmentParams{},
		api.StockAdjustmentRequest{Kind: kind, Lines: lines}, b.auth)
	if err != nil {
		t.Fatalf("adjust: %v", err)
	}
	return resp
}

// movements reads every movement matching params, following the cursor.
func (b stockBrand) movements(t *testing.T, params api.ListStockMovementsParams) []api.StockMovement {
	t.Helper()
	var out []api.StockMovement
	for {
		resp, err := b.env.Client.ListStockMovementsWithResponse(ctx, b.brand, &params, b.auth)
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

func line(product uuid.UUID, location *uuid.UUID, quantity int64) api.ReservationRequestLine {
	return api.ReservationRequestLine{ProductId: product, LocationId: location, Quantity: quantity}
}

// assertLedger checks the stock invariants of a brand, as the application role inside the
// brand's scope: every level's movements sum to its onHand and reserved, its reserved is the sum
// of its live holds (servertest.AssertStock: the engine's two invariant queries), and
// 0 <= live reserved <= onHand.
func assertLedger(t *testing.T, env *servertest.Env, brand uuid.UUID) {
	t.Helper()
	env.AssertStock(t, brand)
	err := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		var levels, broken int
		// Holds of expired reservations the sweeper has not released yet stay in reserved but
		// are not held: only live holds must fit in onHand.
		if err := tx.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE l.reserved < 0 OR l.reserved - x.expired > l.on_hand)
			FROM stock_levels l
			CROSS JOIN LATERAL (SELECT coalesce(sum(e.quantity), 0) AS expired FROM level_hold_expiries e
			                    WHERE e.brand_id = l.brand_id AND e.product_id = l.product_id AND e.location_id = l.location_id
			                      AND e.expires_at <= $2) x
			WHERE l.brand_id = $1`, brand, env.Clock.Now()).Scan(&levels, &broken); err != nil {
			return err
		}
		if broken != 0 {
			t.Errorf("ledger: %d of %d levels break 0 <= reserved <= onHand", broken, levels)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ledger check: %v", err)
	}
}

// ownerCount runs a count(*) query as the tables' owner, scoped to brand (the tables force
// row-level security even on their owner).
func ownerCount(t *testing.T, env *servertest.Env, brand uuid.UUID, query string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, env.OwnerURL)
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

// wantLines asserts a problem's lines, in order, by index, product, location, requested and
// available (nil: not checked).
func wantLines(t *testing.T, what string, p *api.Problem, want ...api.ProblemLine) {
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

// statusIs fails unless resp has status and, for a problem, code.
func statusIs(t *testing.T, what string, resp *http.Response, p *api.Problem, status int, code api.ProblemCode) bool {
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
