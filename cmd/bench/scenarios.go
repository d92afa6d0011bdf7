package main

import (
	"encoding/json"
	"errors"
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
}

// Limit is a ceiling a scenario is compared to.
type Limit struct {
	// Kind is "baseline", "pgbench" or "bcrypt".
	Kind string
	// Name is the baseline's mode (server.Baseline*) or the pgbench script (pgbench/<Name>.pgbench).
	Name string
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

// bcryptLimit is bcrypt verifications per second on every core at the configured cost.
func bcryptLimit() Limit { return Limit{Kind: "bcrypt"} }

// scenarios is every scenario, in the order they run.
//
// A product scenario, once the endpoints exist, is one more entry, e.g.
//
//	{
//		Name:   "GET /brands/{brandId}/products",
//		Limits: []Limit{pgbenchLimit("product_list")},
//		Client: eachRandomSession(func(s *Session) load.Request {
//			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/products", Bearer: s.Access}
//		}),
//	},
//
// with seed/030_products.sql making the products and pgbench/product_list.pgbench binding
// ProductList's parameters.
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
