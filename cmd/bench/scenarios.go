package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/baseline"
)

// Scenario is one endpoint under load. Adding an endpoint to the harness is adding one value to
// scenarios below; a pgbench limit also needs its script in pgbench/, and data the seed does not
// make yet a file in seed/.
type Scenario struct {
	// Name labels the rows of the table: the method and the spec's path.
	Name string
	// Expect is the status of a successful answer (200 when zero).
	Expect int
	// Limits are measured in the same run; the ratio is against the first.
	Limits []Limit
	// Stock marks a scenario that moves stock: after each of its runs (and its limits' runs) the
	// harness releases what the run left held and checks the stock invariants (stockcheck.go).
	Stock bool
	// Client returns virtual client i of n. Clients run at once, each on its own goroutine; a
	// client owns whatever it changes (a refresh client, its sessions).
	Client func(f *Fixture, i, n int) load.Client
	// Noise, when set, runs beside Client, as many clients again, for the same time: a noisy
	// neighbour. Its answers are not the scenario's figures; the report says what it got.
	Noise func(f *Fixture, i, n int) load.Client
	// Conns, when set, are the only numbers of connections the scenario runs at (its target
	// names them), whatever the harness's list.
	Conns []int
	// Setup, when set, prepares the database before each run of the scenario (data the seed
	// does not make, and that the stock check after a run takes away: expired holds).
	Setup func(ctx context.Context, h *harness) error
	// After, when set, runs after each run of the scenario, before its stock check: it adds to
	// the run's row what the run caused beyond its answers (webhook deliveries), and undoes what
	// Setup did that other scenarios must not see.
	After func(ctx context.Context, h *harness, r *row) error
	// PairWith, when set, names the scenario this one is also run against in alternating slices
	// after every run (pairs.go): the same-run ratio with the machine's drift shared. Each slice
	// runs within its scenario's Setup and After.
	PairWith string
	// PairLimit, when set, also runs the scenario against its first limit (a pgbench script) in
	// alternating slices after every run (pairs.go): the target's own ratio, with the machine's
	// drift shared. Single runs of the searches gave the same binary 62% to 90% of pgbench,
	// depending on what had run before them.
	PairLimit bool
}

// Limit is a ceiling a scenario is compared to.
type Limit struct {
	// Kind is "baseline", "pgbench", "server", "bcrypt" or "scenario".
	Kind string
	// Name is the baseline's mode (baseline.*), the pgbench script (pgbench/<Name>.pgbench),
	// for a server the setting ("KEY=value") the variant runs with, or for a scenario another
	// scenario's name: its run in the same harness run, at the same connections.
	Name string
	// Define, for pgbench, is one more variable of the script, "name=value": one script serves
	// scenarios that differ in a value (the search term).
	Define string
	// Requests, for pgbench, is how many of the scenario's requests one run of the script stands
	// for (a reservation and its release: 2); zero means one. The ratio compares requests.
	Requests int
	// Pool, for pgbench, caps its clients at the server's pool size (server.DefaultPoolSize):
	// as many transactions at once as the server ever has in PostgreSQL. Without it pgbench runs
	// as many clients as the scenario has connections, which on contended rows (an order
	// counter, a hot level) costs PostgreSQL more per transaction than the server's pool lets
	// happen: a ceiling the server can exceed, not a yardstick.
	Pool bool
}

// perRun is Requests, at least one.
func (l Limit) perRun() int { return max(1, l.Requests) }

func (l Limit) String() string {
	switch l.Kind {
	case "baseline":
		return l.Name + " baseline"
	case "pgbench":
		if l.Pool {
			return "pgbench " + l.Name + " at the pool's size"
		}
		return "pgbench " + l.Name
	case "server":
		return "server " + l.Name
	case "scenario":
		return strings.SplitN(l.Name, ":", 2)[0] + ", same run"
	default:
		return l.Kind
	}
}

// baselineLimit sends the scenario's own requests to the real middleware answering a fixed body
// (baseline.New, served by `bench baseline-server`).
func baselineLimit(mode string) Limit { return Limit{Kind: "baseline", Name: mode} }

// serverLimit sends the scenario's requests to a second ecompointer server started with setting
// ("KEY=value"): the same run with and without a feature.
func serverLimit(setting string) Limit { return Limit{Kind: "server", Name: setting} }

// sameRunLimit is scenario's own run in the same harness run, on the same server, at the same
// connections: a feature's cost (a webhook endpoint) measured against the scenario without it.
// Nothing more is run for it; the report finds the row.
func sameRunLimit(scenario string) Limit { return Limit{Kind: "scenario", Name: scenario} }

// pgbenchLimit runs the scenario's SQL, pgbench/<script>.pgbench, with pgbench -M prepared.
func pgbenchLimit(script string) Limit { return Limit{Kind: "pgbench", Name: script} }

// pgbenchPairLimit is pgbenchLimit for a script that runs two of the scenario's requests (a
// reservation, then its release).
func pgbenchPairLimit(script string) Limit { return Limit{Kind: "pgbench", Name: script, Requests: 2} }

// pgbenchPoolLimit is pgbenchLimit with as many clients as the server's pool has connections, for
// a script that runs requests of the scenario's requests per run.
func pgbenchPoolLimit(script string, requests int) Limit {
	return Limit{Kind: "pgbench", Name: script, Requests: requests, Pool: true}
}

// pgbenchSearchLimit runs pgbench/product_search.pgbench for the term, bound as the server binds
// q: a parameter holding '%term%' (terms here are letters only: nothing to escape).
func pgbenchSearchLimit(term string) Limit {
	return Limit{Kind: "pgbench", Name: "product_search", Define: "pattern=%" + term + "%"}
}

// bcryptLimit is bcrypt verifications per second on every core at the configured cost.
func bcryptLimit() Limit { return Limit{Kind: "bcrypt"} }

// The search terms of the q scenarios: seed/030_products.sql names products "<finish> <material>
// <item>", one in fifty with " – <collection> edition". A material matches about one product in
// thirty, so the newest twenty matches are near the top of the list; a collection about one in a
// thousand, so finding twenty reads far down it.
const (
	searchCommon = "brass"
	searchRare   = "zephyr"
)

// scenarios is every scenario, in the order they run.
var scenarios = []Scenario{
	{
		Name: "GET /auth/profile",
		// The target: ≥ 60% of the same middleware answering a fixed body (token verification
		// and session lookup included). The other layers and the bare SQL show where time goes.
		Limits: []Limit{
			baselineLimit(baseline.Session),
			baselineLimit(baseline.Bare),
			baselineLimit(baseline.Verify),
			pgbenchLimit("profile"),
			// The per-request session query the session cache replaces (issue 13).
			serverLimit("SESSION_CACHE=off"),
			tracingOffLimit(), tracingLimit(),
		},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/auth/profile", Bearer: s.Access}
		}),
	},
	{
		Name:   "POST /auth/refresh",
		Limits: []Limit{pgbenchLimit("refresh")},
		Client: newRefreshClient,
	},
	{
		Name:   "POST /auth/login",
		Limits: []Limit{bcryptLimit()},
		Client: eachRandomUser(func(u *User) load.Request {
			return load.Request{Method: http.MethodPost, Path: "/auth/login", Body: u.login}
		}),
	},
	// The catalog: every session is its brand's owner, who may read and write its products. The
	// pgbench limits run the session lookup every request makes, then the brand-scoped
	// transaction; the verify baseline with them gives the edge's bound (bound.go).
	{
		// The first page in the default order (-createdAt, 20 products).
		Name:      "GET /brands/{brandId}/products",
		PairLimit: true,
		Limits:    []Limit{pgbenchLimit("product_list"), edgeBaseline},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products", Bearer: s.Access}
		}),
	},
	{
		Name:      "GET /brands/{brandId}/products?q=" + searchCommon,
		PairLimit: true,
		Limits:    []Limit{pgbenchSearchLimit(searchCommon), edgeBaseline},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products?q=" + searchCommon, Bearer: s.Access}
		}),
	},
	{
		Name:      "GET /brands/{brandId}/products?q=" + searchRare,
		PairLimit: true,
		Limits:    []Limit{pgbenchSearchLimit(searchRare), edgeBaseline},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products?q=" + searchRare, Bearer: s.Access}
		}),
	},
	{
		// A random product of the session's brand.
		Name:      "GET /brands/{brandId}/products/{productId}",
		PairLimit: true,
		Limits:    []Limit{pgbenchLimit("product_get"), edgeBaseline, tracingOffLimit(), tracingLimit()},
		Client: eachRandomSessionRand(func(f *Fixture, s *Session, rng *rand.Rand) load.Request {
			path := "/brands/" + s.BrandID + "/products/" + f.productID(s.brand, rng.IntN(f.Products))
			return load.Request{Method: http.MethodGet, Path: path, Bearer: s.Access}
		}),
	},
	{
		// A new product, its SKU unique (what the harness adds, settle deletes before the next run).
		Name:   "POST /brands/{brandId}/products",
		Expect: http.StatusCreated,
		Limits: []Limit{pgbenchLimit("product_create")},
		Client: eachRandomSessionRand(func(f *Fixture, s *Session, _ *rand.Rand) load.Request {
			return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/products", Bearer: s.Access, Body: newProductBody(f.skus.Add(1))}
		}),
	},
	// Inventory (seed/040_locations.sql to 061_stock_movements.sql). Each client holds at most
	// one reservation: it reserves, then releases what it got, then reserves again. After every
	// run the harness checks that nothing was oversold and that the ledger sums to the levels.
	{
		// Every client reserves and releases 1 unit of one product at one location of brand 1:
		// one row all of them lock. It holds hotStock units, so at 256 connections some
		// reservations find none left: those are 422 insufficient_stock, expected refusals.
		Name:   "reserve_hot: POST, DELETE /brands/{brandId}/reservations",
		Stock:  true,
		Limits: []Limit{pgbenchPairLimit("reserve_hot")},
		Client: newReserveClient(true, func(f *Fixture, s *Session, _ *rand.Rand) []byte {
			return reservationBody([]string{f.Stock[0][0]}, f.locationID(1, 1))
		}),
	},
	{
		// 3-line reservations over the brand's stock products (1,000), no location: the
		// allocation rule picks among every location. Then the release.
		Name:   "reserve_spread: POST, DELETE /brands/{brandId}/reservations",
		Stock:  true,
		Limits: []Limit{pgbenchPairLimit("reserve_spread")},
		Client: newReserveClient(false, func(f *Fixture, s *Session, rng *rand.Rand) []byte {
			return reservationBody(spreadLines(f, s.brand, rng), "")
		}),
	},
	{
		// Receipts of 1 to 10 units of a random stock product at a random location.
		Name:   "receipt: POST /brands/{brandId}/inventory/adjustments",
		Expect: http.StatusCreated,
		Stock:  true,
		Limits: []Limit{pgbenchLimit("receipt")},
		Client: eachRandomSessionRand(func(f *Fixture, s *Session, rng *rand.Rand) load.Request {
			return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/inventory/adjustments", Bearer: s.Access, Body: receiptBody(f, s.brand, rng)}
		}),
	},
	// Orders (orders.go). Each order has a new Idempotency-Key. After every run the stock check
	// also proves reserved = what live reservations and open orders hold.
	{
		// 3-line orders (1 unit each of 3 of the brand's 1,000 stock products, no location).
		Name:   orderCreateName,
		Expect: http.StatusCreated,
		Stock:  true,
		Limits: []Limit{pgbenchPoolLimit("order_create", 1), pgbenchLimit("order_create")},
		Client: newOrderCreateClient,
	},
	{
		// order_create's orders as shops send them (issue 21): shipping, an order discount, a
		// line discount and tax lines; the server checks and totals them. Compared with
		// order_create in alternating slices (the issue asks for it within 5%).
		Name:     "order_create_amounts: POST /brands/{brandId}/orders with shipping, discounts, tax",
		Expect:   http.StatusCreated,
		Stock:    true,
		Client:   newOrderCreateAmountsClient,
		PairWith: orderCreateName,
	},
	{
		// One product sold by every client of brand 2, a fourth of them receiving stock of it.
		Name:   "order_hot: POST /brands/{brandId}/orders, receipts",
		Expect: http.StatusCreated,
		Stock:  true,
		Limits: []Limit{pgbenchPoolLimit("order_hot", 1), pgbenchLimit("order_hot")},
		Client: newOrderHotClient,
	},
	{
		// Create, confirm, fulfil every line: three requests an order.
		Name:   "order_lifecycle: POST orders, confirm, fulfilments",
		Stock:  true,
		Limits: []Limit{pgbenchPoolLimit("order_lifecycle", 3), {Kind: "pgbench", Name: "order_lifecycle", Requests: 3}},
		Client: newOrderLifecycleClient,
	},
	{
		// Issue 16, item 5: 10,000 expired one-unit holds on one product (the server's sweeper
		// is off: it runs hourly here), then 1-unit orders of it at 16 connections by brand 1's
		// users. Target: p99 ≤ 100 ms, no errors; the stock check then proves the stock exact.
		Name:   "expired_holds: POST /brands/{brandId}/orders over 10,000 expired holds",
		Expect: http.StatusCreated,
		Stock:  true,
		Conns:  []int{16},
		Setup:  seedExpiredHolds,
		Client: func(f *Fixture, i, _ int) load.Client {
			own := f.sessionsOf(1)
			product, _ := expiredHoldsTarget(f)
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			return load.Func(func() load.Request { return orderRequest(own[rng.IntN(len(own))], []string{product}) })
		},
	},
}

func init() {
	scenarios = append(scenarios, movementScenarios()...)
	scenarios = append(scenarios, valuationScenario, valuationAsOfScenario, valuationBusyScenario)
	scenarios = append(scenarios, backorderScenario) // backorders.go
}

// valuationScenario (issue 22): what brand 2's stock is worth, over a level for each of its
// products at two locations (100,000 × 2 in a full run) with an average cost each: the totals per
// currency and location over every level, and the first page of 100 lines.
var valuationScenario = Scenario{
	Name:  "valuation: GET /brands/{brandId}/inventory/valuation over 100,000 products × 2 locations",
	Conns: []int{4},
	Setup: seedValuation,
	Client: func(f *Fixture, i, _ int) load.Client {
		own := f.sessionsOf(2)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		return load.Func(func() load.Request {
			s := own[rng.IntN(len(own))]
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/inventory/valuation?limit=100", Bearer: s.Access}
		})
	},
}

// seedValuation seeds brand 2's valuation stock once (admin/valuation_seed.sql), then ANALYZEs.
func seedValuation(ctx context.Context, h *harness) error {
	if h.valuationSeeded {
		return nil
	}
	if _, err := h.adminExec(ctx, "valuation_seed.sql", pgx.NamedArgs{"brand": benchUUID(benchKindBrand, 2)}); err != nil {
		return fmt.Errorf("valuation_seed.sql: %w", err)
	}
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "ANALYZE stock_levels, product_costs, stock_movements"); err != nil {
		return err
	}
	h.valuationSeeded = true
	return nil
}

// expiredHolds is how many expired, unreleased one-unit holds the expired_holds scenario finds on
// its product before each run (issue 16, item 5).
const expiredHolds = 10000

// expiredHoldsTarget is brand 1's product and location the expired holds are on: its last stock
// product, at its first location (1,000,000 units on hand).
func expiredHoldsTarget(f *Fixture) (product, location string) {
	return f.Stock[0][f.StockProducts], f.locationID(1, 1)
}

// seedExpiredHolds makes the expired holds (admin/expired_holds.sql); the stock check after the
// run releases them with the sweeper, so each run gets a fresh 10,000.
func seedExpiredHolds(ctx context.Context, h *harness) error {
	product, location := expiredHoldsTarget(h.fixture)
	n, err := h.adminExec(ctx, "expired_holds.sql", pgx.NamedArgs{
		"brand": benchUUID(benchKindBrand, 1), "product": product, "location": location, "holds": h.o.expiredHoldsOr(),
	})
	if err == nil && n != h.o.expiredHoldsOr() {
		err = fmt.Errorf("expired_holds.sql made %d holds, want %d", n, h.o.expiredHoldsOr())
	}
	return err
}

// benchMovements is how many movements the movements scenarios seed in brand 1, once.
const benchMovements = 1000000

// seedMovements seeds brand 1's ledger once (admin/movements_seed.sql), then ANALYZEs it.
func seedMovements(ctx context.Context, h *harness) error {
	if h.movementsSeeded {
		return nil
	}
	n, err := h.adminExec(ctx, "movements_seed.sql", pgx.NamedArgs{"brand": benchUUID(benchKindBrand, 1), "movements": h.o.movementsOr()})
	if err != nil {
		return err
	}
	if n != h.o.movementsOr() {
		return fmt.Errorf("movements_seed.sql made %d movements, want %d", n, h.o.movementsOr())
	}
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "ANALYZE stock_movements"); err != nil {
		return err
	}
	// The seed's reservation and order (admin/movements_seed.sql picks the same); a made-up id
	// when the brand has none (the filter then finds nothing, through its index all the same).
	var res, ord *string
	if err := queryRow(ctx, conn, "movements_ids.sql", &res, &ord); err != nil {
		return err
	}
	ids := movementIDs{reservation: benchUUID(benchKindBrand, 999999), order: benchUUID(benchKindBrand, 999998)}
	if res != nil {
		ids.reservation = *res
	}
	if ord != nil {
		ids.order = *ord
	}
	h.fixture.movementIDs = ids
	h.movementsSeeded = true
	return nil
}

// movementFilter is one movements scenario: the first page of brand 1's ledger under a filter,
// built from what the brand has (its first stock product and last location, a reservation and
// an order of its own).
type movementFilter struct {
	name  string
	query func(f *Fixture, ids movementIDs) string
}

// movementIDs are ids the filters name, read once after the seed.
type movementIDs struct{ reservation, order string }

var movementFilters = []movementFilter{
	{"productId", func(f *Fixture, _ movementIDs) string { return "productId=" + f.Stock[0][1] }},
	{"locationId", func(f *Fixture, _ movementIDs) string { return "locationId=" + f.locationID(1, stockLocations) }},
	{"kind=count", func(*Fixture, movementIDs) string { return "kind=count" }},
	{"reference", func(*Fixture, movementIDs) string { return "reference=BENCH-REF-40" }},
	{"reservationId", func(_ *Fixture, ids movementIDs) string { return "reservationId=" + ids.reservation }},
	{"orderId", func(_ *Fixture, ids movementIDs) string { return "orderId=" + ids.order }},
	{"createdAfter", func(*Fixture, movementIDs) string {
		return "createdAfter=" + time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339)
	}},
	{"createdBefore", func(*Fixture, movementIDs) string {
		return "createdBefore=" + time.Now().Add(-390*24*time.Hour).UTC().Format(time.RFC3339)
	}},
	{"locationId+kind", func(f *Fixture, _ movementIDs) string {
		return "locationId=" + f.locationID(1, stockLocations) + "&kind=count"
	}},
	{"productId+locationId+kind", func(f *Fixture, _ movementIDs) string {
		return "productId=" + f.Stock[0][1] + "&locationId=" + f.locationID(1, 1) + "&kind=release"
	}},
}

// movementScenarios is one scenario per filter, at 4 connections: each filter's first page.
func movementScenarios() []Scenario {
	out := make([]Scenario, len(movementFilters))
	for i, mf := range movementFilters {
		out[i] = Scenario{
			Name:  "movements " + mf.name + ": GET /brands/{brandId}/inventory/movements",
			Conns: []int{4},
			Setup: seedMovements,
			Client: func(f *Fixture, i, _ int) load.Client {
				own := f.sessionsOf(1)
				ids := f.movementIDs
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				return load.Func(func() load.Request {
					s := own[rng.IntN(len(own))]
					return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/inventory/movements?" + mf.query(f, ids), Bearer: s.Access}
				})
			},
		}
	}
	return out
}

// spreadLines draws the products of a reserve_spread reservation: one from each third of the
// brand's stock products (so three different ones), as pgbench/reserve_spread.pgbench draws them.
func spreadLines(f *Fixture, b int, rng *rand.Rand) []string {
	third := f.StockProducts / 3
	ids := make([]string, 3)
	for k := range ids {
		ids[k] = f.Stock[b-1][1+k*third+rng.IntN(third)]
	}
	return ids
}

// reservationBody holds 1 unit of each product, at location when set.
func reservationBody(products []string, location string) []byte {
	type line struct {
		ProductID  string `json:"productId"`
		LocationID string `json:"locationId,omitempty"`
		Quantity   int    `json:"quantity"`
	}
	lines := make([]line, len(products))
	for i, p := range products {
		lines[i] = line{ProductID: p, LocationID: location, Quantity: 1}
	}
	body, _ := json.Marshal(map[string]any{"lines": lines}) // these types always marshal
	return body
}

// receiptBody is a receipt of 1 to 10 units of a random stock product at a random location of
// brand b, as pgbench/receipt.pgbench makes them.
func receiptBody(f *Fixture, b int, rng *rand.Rand) []byte {
	body, _ := json.Marshal(map[string]any{ // these types always marshal
		"kind":      "receipt",
		"reference": "BENCH-PO",
		"lines": []map[string]any{{
			"productId":  f.Stock[b-1][1+rng.IntN(f.StockProducts)],
			"locationId": f.locationID(b, 1+rng.IntN(f.Locations)),
			"delta":      1 + rng.IntN(10),
		}},
	})
	return body
}

// reserveClient reserves, then releases what it got, then reserves again, with one session for
// the pair. A reservation refused for want of stock (422) is an expected refusal; the client then
// reserves again. What a client still holds when the run ends is released by the harness
// (stockcheck.go) before the invariants are checked.
type reserveClient struct {
	f       *Fixture
	rng     *rand.Rand
	session func() *Session
	body    func(*Fixture, *Session, *rand.Rand) []byte
	cur     *Session
	held    string // the reservation to release next; empty: reserve next
	sent    string // what the request in flight is: "reserve" or "release"
}

// newReserveClient makes reserveClients; hot ones all use brand 1's sessions (the hot row is
// brand 1's), the others any session.
func newReserveClient(hot bool, body func(*Fixture, *Session, *rand.Rand) []byte) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		c := &reserveClient{f: f, rng: rand.New(rand.NewPCG(seed, uint64(i))), body: body}
		pool := f.Sessions
		if hot {
			pool = f.sessionsOf(1)
		}
		c.session = func() *Session { return pool[c.rng.IntN(len(pool))] }
		return c
	}
}

func (c *reserveClient) Next() load.Request {
	if c.held != "" {
		c.sent = "release"
		return load.Request{Method: http.MethodDelete, Path: "/brands/" + c.cur.BrandID + "/reservations/" + c.held,
			Bearer: c.cur.Access, Expect: http.StatusNoContent}
	}
	c.sent = "reserve"
	c.cur = c.session()
	return load.Request{Method: http.MethodPost, Path: "/brands/" + c.cur.BrandID + "/reservations", Bearer: c.cur.Access,
		Body: c.body(c.f, c.cur, c.rng), Expect: http.StatusCreated, Refusal: http.StatusUnprocessableEntity}
}

func (c *reserveClient) Done(status int, body []byte, err error) error {
	if c.sent == "release" {
		// Released, or not: either way the next request reserves anew (the harness releases
		// what is left after the run).
		c.held = ""
		return nil
	}
	if err != nil || status != http.StatusCreated {
		if status == http.StatusUnprocessableEntity && !bytes.Contains(body, []byte(`"insufficient_stock"`)) {
			return errors.New("422 other than insufficient_stock")
		}
		return nil
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		return errors.New("reservation answer without an id")
	}
	c.held = r.ID
	return nil
}

// The noisy-neighbour pair: brand 2's owners read their catalog, first alone, then while brand
// 1's owners flood search with what a careless or hostile client sends (texts too short for the
// trigram index, a bare wildcard, and searches the index serves but that read far). The pair
// shows whether one tenant can slow the others down (issue 9, item 7).
const (
	quietName = "brand 2 reads, alone"
	noisyName = "brand 2 reads, brand 1 floods search"
)

func init() {
	scenarios = append(scenarios,
		Scenario{Name: quietName, Client: brandReader(2)},
		Scenario{Name: noisyName, Client: brandReader(2), Noise: searchFlood(1)},
	)
}

// brandReader reads brand b's catalog as its owners do: a product by id, then the first page.
func brandReader(b int) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		own := f.sessionsOf(b)
		n := 0
		return load.Func(func() load.Request {
			s := own[rng.IntN(len(own))]
			n++
			if n%2 == 0 {
				return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products", Bearer: s.Access}
			}
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products/" + f.productID(b, rng.IntN(f.Products)), Bearer: s.Access}
		})
	}
}

// floodTerms are the searches of the flood, in turn (URL-encoded).
var floodTerms = []string{"a", "%25%25", "__", "e", searchRare, "edition", searchCommon + "&sort=name"}

// searchFlood searches brand b's catalog as fast as its clients can.
func searchFlood(b int) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		own := f.sessionsOf(b)
		n := i
		return load.Func(func() load.Request {
			s := own[rng.IntN(len(own))]
			n++
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products?q=" + floodTerms[n%len(floodTerms)], Bearer: s.Access}
		})
	}
}

// seed makes the client's random choices repeatable from run to run.
const seed = 20261125

// eachRandomSession is a client whose every request is built for a session drawn at random.
func eachRandomSession(build func(*Session) load.Request) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		return load.Func(func() load.Request { return build(f.Sessions[rng.IntN(len(f.Sessions))]) })
	}
}

// eachRandomSessionRand is eachRandomSession for requests that draw more at random (a product).
func eachRandomSessionRand(build func(*Fixture, *Session, *rand.Rand) load.Request) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		return load.Func(func() load.Request { return build(f, f.Sessions[rng.IntN(len(f.Sessions))], rng) })
	}
}

// newProductBody is the body of POST /brands/{brandId}/products for the create scenario's n-th
// product: a product as a catalog import would send it (pgbench/product_create.pgbench inserts the
// same values).
func newProductBody(n int64) []byte {
	status := api.Active
	body, _ := json.Marshal(api.CreateProductRequest{ // these types always marshal
		Sku:         fmt.Sprintf("BENCH-%d", n),
		Name:        fmt.Sprintf("Sturdy Oak Bench no. %d", n),
		Description: ptr("A sturdy bench in oak, made to order and shipped flat-packed with everything needed to put it together."),
		PriceAmount: 12900,
		Status:      &status,
		Attributes:  &api.Attributes{"material": "oak", "color": "natural"},
		Tags:        &api.Tags{"new", "handmade"},
	})
	return body
}

func ptr[T any](v T) *T { return &v }

// eachRandomUser is a client whose every request is built for a user drawn at random.
func eachRandomUser(build func(*User) load.Request) func(*Fixture, int, int) load.Client {
	return func(f *Fixture, i, _ int) load.Client {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		return load.Func(func() load.Request { return build(&f.Users[rng.IntN(len(f.Users))]) })
	}
}

// refreshClient rotates the sessions it owns, in turn, each time presenting the session's latest
// refresh token: what a fleet of well-behaved clients does. Client i of n owns sessions i, i+n,
// i+2n...: no two clients ever present the same session's token.
type refreshClient struct {
	owned []*Session
	next  int
	cur   *Session
}

func newRefreshClient(f *Fixture, i, n int) load.Client {
	c := &refreshClient{}
	for j := i; j < len(f.Sessions); j += n {
		c.owned = append(c.owned, f.Sessions[j])
	}
	return c
}

func (c *refreshClient) Next() load.Request {
	// The next live session; when every one has died, the last one again (and its error counts).
	for range c.owned {
		c.cur = c.owned[c.next%len(c.owned)]
		c.next++
		if !c.cur.dead {
			break
		}
	}
	body, _ := json.Marshal(api.RefreshRequest{RefreshToken: c.cur.Refresh}) // a string always marshals
	return load.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: body}
}

func (c *refreshClient) Done(status int, body []byte, err error) error {
	if err != nil || status != http.StatusOK {
		// The server may or may not have rotated: the token held is no longer known to be the
		// latest, and presenting a stale one would (rightly) revoke the session as stolen.
		c.cur.dead = true
		return nil
	}
	var tokens struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
	}
	if err := json.Unmarshal(body, &tokens); err != nil || tokens.RefreshToken == "" {
		c.cur.dead = true
		return errors.New("refresh answer without a refresh token")
	}
	c.cur.Access, c.cur.Refresh = tokens.AccessToken, tokens.RefreshToken
	return nil
}
