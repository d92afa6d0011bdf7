package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
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
	// Client returns virtual client i of n. Clients run at once, each on its own goroutine; a
	// client owns whatever it changes (a refresh client, its sessions).
	Client func(f *Fixture, i, n int) load.Client
	// Noise, when set, runs beside Client, as many clients again, for the same time: a noisy
	// neighbour. Its answers are not the scenario's figures; the report says what it got.
	Noise func(f *Fixture, i, n int) load.Client
}

// Limit is a ceiling a scenario is compared to.
type Limit struct {
	// Kind is "baseline", "pgbench" or "bcrypt".
	Kind string
	// Name is the baseline's mode (server.Baseline*) or the pgbench script (pgbench/<Name>.pgbench).
	Name string
	// Define, for pgbench, is one more variable of the script, "name=value": one script serves
	// scenarios that differ in a value (the search term).
	Define string
}

func (l Limit) String() string {
	switch l.Kind {
	case "baseline":
		return l.Name + " baseline"
	case "pgbench":
		return "pgbench " + l.Name
	default:
		return l.Kind
	}
}

// baselineLimit sends the scenario's own requests to the real middleware answering a fixed body
// (server.NewBaseline, served by `bench baseline-server`).
func baselineLimit(mode string) Limit { return Limit{Kind: "baseline", Name: mode} }

// pgbenchLimit runs the scenario's SQL, pgbench/<script>.pgbench, with pgbench -M prepared.
func pgbenchLimit(script string) Limit { return Limit{Kind: "pgbench", Name: script} }

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
			baselineLimit(server.BaselineSession),
			baselineLimit(server.BaselineBare),
			baselineLimit(server.BaselineVerify),
			pgbenchLimit("profile"),
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
	// limits run the session lookup every request makes, then the brand-scoped transaction.
	{
		// The first page in the default order (-createdAt, 20 products).
		Name:   "GET /brands/{brandId}/products",
		Limits: []Limit{pgbenchLimit("product_list")},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products", Bearer: s.Access}
		}),
	},
	{
		Name:   "GET /brands/{brandId}/products?q=" + searchCommon,
		Limits: []Limit{pgbenchSearchLimit(searchCommon)},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products?q=" + searchCommon, Bearer: s.Access}
		}),
	},
	{
		Name:   "GET /brands/{brandId}/products?q=" + searchRare,
		Limits: []Limit{pgbenchSearchLimit(searchRare)},
		Client: eachRandomSession(func(s *Session) load.Request {
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products?q=" + searchRare, Bearer: s.Access}
		}),
	},
	{
		// A random product of the session's brand.
		Name:   "GET /brands/{brandId}/products/{productId}",
		Limits: []Limit{pgbenchLimit("product_get")},
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
