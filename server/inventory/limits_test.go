package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// Tests of the bounds on stock quantities (issue 16, items 4, 6 and 9): a level's onHand and
// reserved never pass inventory.MaxLevelQuantity, a line never passes inventory.MaxLineQuantity
// once merged, each movement kind keeps its sign, and a number past int64 is a 400 naming its
// field.

// limitsBrand is a brand with an owner, one active product and two locations.
type limitsBrand struct {
	env      *servertest.Env
	brand    uuid.UUID
	auth     api.RequestEditorFn
	token    string
	product  uuid.UUID
	loc, alt uuid.UUID
}

func newLimitsBrand(t *testing.T) limitsBrand {
	t.Helper()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("limits"))
	b := limitsBrand{env: env, brand: *owner.User.BrandId, auth: servertest.Bearer(owner.AccessToken), token: owner.AccessToken}
	active := api.Active
	p, err := env.Client.CreateProductWithResponse(context.Background(), b.brand,
		api.CreateProductRequest{Sku: "BOUND-1", Name: "Bounded", PriceAmount: 100, Status: &active}, b.auth)
	if err != nil || p.JSON201 == nil {
		t.Fatalf("create product: %v %d %s", err, p.StatusCode(), p.Body)
	}
	b.product = p.JSON201.Id
	for i, code := range []string{"MAIN", "ALT"} {
		l, err := env.Client.CreateLocationWithResponse(context.Background(), b.brand, api.CreateLocationRequest{Code: code, Name: code}, b.auth)
		if err != nil || l.JSON201 == nil {
			t.Fatalf("create location: %v %d %s", err, l.StatusCode(), l.Body)
		}
		if i == 0 {
			b.loc = l.JSON201.Id
		} else {
			b.alt = l.JSON201.Id
		}
	}
	return b
}

// post sends body (any JSON value) as the owner, through the spec-validating client, and returns
// the status and the problem (nil on a 2xx).
func (b limitsBrand) post(t *testing.T, path string, body any) (int, *api.Problem) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b.postRaw(t, path, raw)
}

func (b limitsBrand) postRaw(t *testing.T, path string, raw []byte) (int, *api.Problem) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.env.URL+"/brands/"+b.brand.String()+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := b.env.HTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	var p api.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("POST %s: %d, not a problem: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, &p
}

type adjLine struct {
	ProductID  uuid.UUID `json:"productId"`
	LocationID uuid.UUID `json:"locationId"`
	Delta      int64     `json:"delta"`
}

func (b limitsBrand) adjust(t *testing.T, kind string, lines ...adjLine) (int, *api.Problem) {
	t.Helper()
	return b.post(t, "/inventory/adjustments", map[string]any{"kind": kind, "lines": lines})
}

// fill receives n units at level (product, location), in as many 10^9 lines as it takes (one
// request: at most 1,000 lines).
func (b limitsBrand) fill(t *testing.T, location uuid.UUID, n int64) {
	t.Helper()
	var lines []adjLine
	for n > 0 {
		d := min(n, 1_000_000_000)
		lines = append(lines, adjLine{b.product, location, d})
		n -= d
	}
	if status, p := b.adjust(t, "receipt", lines...); status != http.StatusCreated {
		t.Fatalf("fill: %d %+v", status, p)
	}
}

func (b limitsBrand) level(t *testing.T, location uuid.UUID) (onHand, reserved int64) {
	t.Helper()
	resp, err := b.env.Client.ListStockLevelsWithResponse(context.Background(), b.brand, &api.ListStockLevelsParams{ProductId: &b.product, LocationId: &location}, b.auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("levels: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if len(resp.JSON200.Items) == 0 {
		return 0, 0
	}
	return resp.JSON200.Items[0].OnHand, resp.JSON200.Items[0].Reserved
}

// ledgerSums asserts the stock invariants: every level's movements sum to it, and its reserved
// to its live holds.
func (b limitsBrand) ledgerSums(t *testing.T) {
	t.Helper()
	b.env.AssertStock(t, b.brand)
}

func wantProblem(t *testing.T, what string, status int, p *api.Problem, wantStatus int, wantCode api.ProblemCode) {
	t.Helper()
	if status != wantStatus || p == nil || p.Code != wantCode {
		t.Fatalf("%s: %d %+v, want %d %s", what, status, p, wantStatus, wantCode)
	}
}

func wantField(t *testing.T, what string, p *api.Problem, field string) {
	t.Helper()
	if p.Errors == nil || len(*p.Errors) == 0 || (*p.Errors)[0].Field != field {
		t.Errorf("%s: errors %+v (detail %v), want the first naming %q", what, p.Errors, p.Detail, field)
	}
}

// wantLimitLine asserts a quantity_limit problem names exactly one line: index, level, the units
// it asked for and the level's onHand.
func wantLimitLine(t *testing.T, what string, p *api.Problem, index int, product, location uuid.UUID, requested, onHand int64) {
	t.Helper()
	if p.Lines == nil || len(*p.Lines) != 1 {
		t.Fatalf("%s: lines %+v, want one", what, p.Lines)
	}
	l := (*p.Lines)[0]
	if l.Index != index || l.ProductId != product || l.LocationId == nil || *l.LocationId != location ||
		l.Requested == nil || *l.Requested != requested || l.OnHand == nil || *l.OnHand != onHand {
		t.Errorf("%s: line %+v, want index %d product %s location %s requested %d onHand %d", what, l, index, product, location, requested, onHand)
	}
}

// TestStockQuantityLimit: a level holds at most 10^12 units; a receipt, return or transfer that
// would take it past that is a 422 quantity_limit naming the line, and nothing is written.
func TestStockQuantityLimit(t *testing.T) {
	t.Parallel()
	const bound = inventory.MaxLevelQuantity
	if bound != 1_000_000_000_000 {
		t.Fatalf("MaxLevelQuantity = %d, want 10^12 (the spec's maximum)", bound)
	}
	b := newLimitsBrand(t)
	b.fill(t, b.loc, bound) // exactly the bound: allowed
	b.fill(t, b.alt, 5)
	if onHand, _ := b.level(t, b.loc); onHand != bound {
		t.Fatalf("after filling: onHand %d, want %d", onHand, bound)
	}

	t.Run("receipt", func(t *testing.T) {
		status, p := b.adjust(t, "receipt", adjLine{b.product, b.alt, 3}, adjLine{b.product, b.loc, 1})
		wantProblem(t, "receipt past the bound", status, p, http.StatusUnprocessableEntity, api.ProblemCodeQuantityLimit)
		wantLimitLine(t, "receipt past the bound", p, 1, b.product, b.loc, 1, bound)
	})
	t.Run("return", func(t *testing.T) {
		status, p := b.adjust(t, "return", adjLine{b.product, b.loc, 1_000_000_000})
		wantProblem(t, "return past the bound", status, p, http.StatusUnprocessableEntity, api.ProblemCodeQuantityLimit)
		wantLimitLine(t, "return past the bound", p, 0, b.product, b.loc, 1_000_000_000, bound)
	})
	t.Run("merged lines", func(t *testing.T) {
		// Each line alone fits below the bound at ALT; summed they do not.
		lines := make([]adjLine, 0, 1000)
		for range 1000 {
			lines = append(lines, adjLine{b.product, b.alt, 1_000_000_000})
		}
		status, p := b.adjust(t, "receipt", lines...)
		wantProblem(t, "merged receipt past the bound", status, p, http.StatusUnprocessableEntity, api.ProblemCodeQuantityLimit)
		wantLimitLine(t, "merged receipt past the bound", p, 0, b.product, b.alt, bound, 5)
	})
	t.Run("transfer", func(t *testing.T) {
		status, p := b.post(t, "/inventory/transfers", map[string]any{"productId": b.product, "fromLocationId": b.alt, "toLocationId": b.loc, "quantity": 2})
		wantProblem(t, "transfer past the bound", status, p, http.StatusUnprocessableEntity, api.ProblemCodeQuantityLimit)
		wantLimitLine(t, "transfer past the bound", p, 0, b.product, b.loc, 2, bound)
	})
	if onHand, _ := b.level(t, b.loc); onHand != bound {
		t.Errorf("MAIN onHand %d after refusals, want %d", onHand, bound)
	}
	if onHand, _ := b.level(t, b.alt); onHand != 5 {
		t.Errorf("ALT onHand %d after refusals, want 5 (all lines or none)", onHand)
	}
	// Taking stock out of a full level is unaffected.
	if status, p := b.adjust(t, "adjustment", adjLine{b.product, b.loc, -1}); status != http.StatusCreated {
		t.Errorf("adjustment -1 of a full level: %d %+v", status, p)
	}
	b.ledgerSums(t)
}

// TestStockQuantityLimitConcurrentReceipts: 24 one-unit receipts race for the last 10 units below
// the bound: exactly 10 are applied, the others are 422 quantity_limit, never a 5xx.
func TestStockQuantityLimitConcurrentReceipts(t *testing.T) {
	t.Parallel()
	const room, racers = 10, 24
	b := newLimitsBrand(t)
	b.fill(t, b.loc, inventory.MaxLevelQuantity-room)
	var wg sync.WaitGroup
	statuses := make([]int, racers)
	codes := make([]api.ProblemCode, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, p := b.adjust(t, "receipt", adjLine{b.product, b.loc, 1})
			statuses[i] = status
			if p != nil {
				codes[i] = p.Code
			}
		}()
	}
	wg.Wait()
	applied, limited := 0, 0
	for i, s := range statuses {
		switch {
		case s == http.StatusCreated:
			applied++
		case s == http.StatusUnprocessableEntity && codes[i] == api.ProblemCodeQuantityLimit:
			limited++
		default:
			t.Errorf("racer %d: %d %s", i, s, codes[i])
		}
	}
	if applied != room || limited != racers-room {
		t.Errorf("%d applied and %d quantity_limit, want %d and %d", applied, limited, room, racers-room)
	}
	if onHand, _ := b.level(t, b.loc); onHand != inventory.MaxLevelQuantity {
		t.Errorf("onHand %d, want exactly the bound %d", onHand, int64(inventory.MaxLevelQuantity))
	}
	b.ledgerSums(t)
}

// TestStockLevelBoundConstraint: the schema itself refuses a level past the bound (the last line
// of defence behind the engine's check), under a constraint the engine translates to
// quantity_limit.
func TestStockLevelBoundConstraint(t *testing.T) {
	t.Parallel()
	b := newLimitsBrand(t)
	b.fill(t, b.loc, 7)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, c := range []struct{ name, set string }{
		{"onHand", "on_hand = 1000000000001"},
		{"reserved", "on_hand = 1000000000001, reserved = 1000000000001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if err := db.New(tx).BrandScopeSet(ctx, b.brand.String()); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "UPDATE stock_levels SET "+c.set+" WHERE brand_id = $1", b.brand)
				return err
			})
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != inventory.LevelBoundConstraint {
				t.Fatalf("level past the bound: %v, want a check violation of %s", err, inventory.LevelBoundConstraint)
			}
		})
	}
}

// TestStockQuantitiesPastInt64: numbers past int64 (or past the spec's maximum) are a 400 naming
// the field, never a 500 nor a 400 naming `request`.
func TestStockQuantitiesPastInt64(t *testing.T) {
	t.Parallel()
	b := newLimitsBrand(t)
	b.fill(t, b.loc, 10)
	const past = "9223372036854775808" // 2^63
	level := fmt.Sprintf(`"productId":%q,"locationId":%q`, b.product, b.loc)
	for _, c := range []struct{ name, path, body, field string }{
		{"adjustment delta", "/inventory/adjustments", `{"kind":"receipt","lines":[{` + level + `,"delta":` + past + `}]}`, "lines[0].delta"},
		{"adjustment negative delta", "/inventory/adjustments", `{"kind":"adjustment","lines":[{` + level + `,"delta":-` + past + `1}]}`, "lines[0].delta"},
		{"count onHand", "/inventory/counts", `{"lines":[{` + level + `,"onHand":` + past + `}]}`, "lines[0].onHand"},
		{"count expectedOnHand", "/inventory/counts", `{"lines":[{` + level + `,"onHand":1,"expectedOnHand":` + past + `}]}`, "lines[0].expectedOnHand"},
		{"count expectedOnHand past the level bound", "/inventory/counts", `{"lines":[{` + level + `,"onHand":1,"expectedOnHand":1000000000001}]}`, "lines[0].expectedOnHand"},
		{"transfer quantity", "/inventory/transfers", fmt.Sprintf(`{"productId":%q,"fromLocationId":%q,"toLocationId":%q,"quantity":%s}`, b.product, b.loc, b.alt, past), "quantity"},
		{"reservation quantity", "/reservations", fmt.Sprintf(`{"lines":[{"productId":%q,"quantity":%s}]}`, b.product, past), "lines[0].quantity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, p := b.postRaw(t, c.path, []byte(c.body))
			wantProblem(t, c.name, status, p, http.StatusBadRequest, api.ProblemCodeValidationFailed)
			wantField(t, c.name, p, c.field)
		})
	}
	if onHand, _ := b.level(t, b.loc); onHand != 10 {
		t.Errorf("onHand %d after refusals, want 10", onHand)
	}
}

// TestAdjustmentSignRules: receipts and returns bring stock in (a positive delta), an adjustment
// goes either way; a wrong sign is a 400 naming the line's delta and writes nothing.
func TestAdjustmentSignRules(t *testing.T) {
	t.Parallel()
	b := newLimitsBrand(t)
	b.fill(t, b.loc, 100)
	onHand := int64(100)
	for _, c := range []struct {
		name  string
		kind  string
		lines []adjLine
		field string // "" when accepted
	}{
		{"negative receipt", "receipt", []adjLine{{b.product, b.loc, -1}}, "lines[0].delta"},
		{"negative return", "return", []adjLine{{b.product, b.loc, 5}, {b.product, b.loc, -5}}, "lines[1].delta"},
		{"negative receipt line among positive ones", "receipt", []adjLine{{b.product, b.alt, 5}, {b.product, b.loc, 2}, {b.product, b.loc, -1}}, "lines[2].delta"},
		{"positive receipt", "receipt", []adjLine{{b.product, b.loc, 3}}, ""},
		{"positive return", "return", []adjLine{{b.product, b.loc, 2}}, ""},
		{"negative adjustment", "adjustment", []adjLine{{b.product, b.loc, -4}}, ""},
		{"positive adjustment", "adjustment", []adjLine{{b.product, b.loc, 1}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, p := b.adjust(t, c.kind, c.lines...)
			if c.field == "" {
				if status != http.StatusCreated {
					t.Fatalf("%d %+v, want 201", status, p)
				}
				for _, l := range c.lines {
					onHand += l.Delta
				}
				return
			}
			wantProblem(t, c.name, status, p, http.StatusBadRequest, api.ProblemCodeValidationFailed)
			wantField(t, c.name, p, c.field)
		})
	}
	if got, _ := b.level(t, b.loc); got != onHand {
		t.Errorf("onHand %d, want %d (refused adjustments write nothing)", got, onHand)
	}
	if got, _ := b.level(t, b.alt); got != 0 {
		t.Errorf("ALT onHand %d, want 0 (all lines or none)", got)
	}
	b.ledgerSums(t)
}

// TestMergedLineCap: reservation lines naming the same product (and location) are capped once
// merged exactly like order lines: a 400 naming the line, whichever operation.
func TestMergedLineCap(t *testing.T) {
	t.Parallel()
	const capped = inventory.MaxLineQuantity
	b := newLimitsBrand(t)
	b.fill(t, b.loc, 3*capped)
	half := capped/2 + 1
	order := func(lines ...map[string]any) map[string]any {
		return map[string]any{
			"lines":           lines,
			"customer":        map[string]any{"email": "ada@example.com", "name": "Ada Lovelace"},
			"shippingAddress": map[string]any{"line1": "12 Babbage Street", "city": "London", "country": "GB"},
		}
	}
	for _, c := range []struct {
		name, path string
		body       any
		field      string
	}{
		{"reservation at a location", "/reservations", map[string]any{"lines": []map[string]any{
			{"productId": b.product, "locationId": b.loc, "quantity": 1},
			{"productId": b.product, "locationId": b.loc, "quantity": half},
			{"productId": b.product, "locationId": b.loc, "quantity": half},
		}}, "lines[0].quantity"},
		{"reservation by the allocation rule", "/reservations", map[string]any{"lines": []map[string]any{
			{"productId": b.product, "quantity": half},
			{"productId": b.product, "quantity": half},
		}}, "lines[0].quantity"},
		{"order", "/orders", order(
			map[string]any{"productId": b.product, "quantity": half},
			map[string]any{"productId": b.product, "quantity": half},
		), "lines[0].quantity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, p := b.post(t, c.path, c.body)
			wantProblem(t, c.name, status, p, http.StatusBadRequest, api.ProblemCodeValidationFailed)
			wantField(t, c.name, p, c.field)
		})
	}
	// Up to the cap, merged, is accepted.
	status, p := b.post(t, "/reservations", map[string]any{"lines": []map[string]any{
		{"productId": b.product, "quantity": capped - 1}, {"productId": b.product, "quantity": 1},
	}})
	if status != http.StatusCreated {
		t.Errorf("reservation of exactly the cap: %d %+v", status, p)
	}
	if _, reserved := b.level(t, b.loc); reserved != capped {
		t.Errorf("reserved %d, want %d", reserved, capped)
	}
}

// TestMovementSignConstraint: the ledger itself refuses a movement whose deltas have the wrong
// sign for its kind (the spec's MovementKind rules), whatever code path would write it.
func TestMovementSignConstraint(t *testing.T) {
	t.Parallel()
	b := newLimitsBrand(t)
	b.fill(t, b.loc, 10)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	errRollback := errors.New("rolled back")
	for _, c := range []struct {
		kind             string
		onHand, reserved int64
		accepted         bool
	}{
		{"receipt", 1, 0, true},
		{"receipt", -1, 0, false},
		{"return", 1, 0, true},
		{"return", -1, 0, false},
		{"adjustment", -1, 0, true},
		{"adjustment", 1, 1, false},
		{"count", -3, 0, true},
		{"transfer_out", -1, 0, true},
		{"transfer_out", 1, 0, false},
		{"transfer_in", 1, 0, true},
		{"transfer_in", -1, 0, false},
		{"reservation", 0, 1, true},
		{"reservation", 0, -1, false},
		{"release", 0, -1, true},
		{"release", 0, 1, false},
		{"fulfilment", -1, -1, true},
		{"fulfilment", -1, 0, false},
		{"fulfilment", 1, 1, false},
	} {
		t.Run(fmt.Sprintf("%s %+d %+d", c.kind, c.onHand, c.reserved), func(t *testing.T) {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if err := db.New(tx).BrandScopeSet(ctx, b.brand.String()); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta,
					reserved_delta, on_hand_after, reserved_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 10, 0, now())`,
					b.brand, uuid.New(), b.product, b.loc, c.kind, c.onHand, c.reserved)
				if err != nil {
					return err
				}
				return errRollback // the ledger is append-only: leave nothing behind
			})
			var pgErr *pgconn.PgError
			switch {
			case c.accepted && !errors.Is(err, errRollback):
				t.Errorf("refused: %v", err)
			case !c.accepted && (!errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != "stock_movements_sign"):
				t.Errorf("got %v, want a check violation of stock_movements_sign", err)
			}
		})
	}
}
