package main

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// valuationAsOfScenario (issue 22): valuationScenario's question asked of the past, an hour ago
// (after the seed's receipts, dated a day ago): the totals are the ledger replayed, every
// level's last movement and every product's last costed receipt by then.
var valuationAsOfScenario = Scenario{
	Name:  "valuation asOf: GET /brands/{brandId}/inventory/valuation?asOf= over 100,000 products × 2 locations",
	Conns: []int{4},
	Setup: seedValuation,
	Client: func(f *Fixture, i, _ int) load.Client {
		own := f.sessionsOf(2)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		// One instant for the whole run, as a report asked again and again would name it.
		asOf := url.QueryEscape(time.Now().UTC().Add(-time.Hour).Truncate(time.Minute).Format(time.RFC3339))
		return load.Func(func() load.Request {
			s := own[rng.IntN(len(own))]
			return load.Request{Method: http.MethodGet, Path: "/brands/" + s.BrandID + "/inventory/valuation?limit=100&asOf=" + asOf, Bearer: s.Access}
		})
	},
}

// valuationBusyScenario is valuationScenario while the same brand takes orders beside it (as
// many clients again, order_create's 3-line orders): every order commits events, so the cached
// totals are stale at almost every call and each valuation sums again. The figure the cache
// cannot improve, and what the orders got meanwhile.
var valuationBusyScenario = Scenario{
	Name:   "valuation busy: GET /brands/{brandId}/inventory/valuation while the brand takes orders",
	Conns:  []int{4},
	Stock:  true,
	Setup:  seedValuation,
	Client: valuationScenario.Client,
	Noise: func(f *Fixture, i, _ int) load.Client {
		own := f.sessionsOf(2)
		rng := rand.New(rand.NewPCG(seed, uint64(1000+i)))
		return load.Func(func() load.Request {
			s := own[rng.IntN(len(own))]
			return orderRequest(s, spreadLines(f, s.brand, rng))
		})
	},
}
