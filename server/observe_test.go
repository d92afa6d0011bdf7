package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// scrape reads the metrics listener's exposition and parses it with Prometheus' own text parser,
// as a Prometheus server would.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(observe.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL) //nolint:noctx // a test against a local server
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return families
}

// sample is the value of the family's series with exactly these labels (counter, gauge, or a
// histogram's count), or 0.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestMetricsAfterAFlow runs logins, a refresh, a brand-scoped read, a reservation, a refused one
// and an idempotent replay, then scrapes: every counter the flow touches has moved. Other tests run
// in parallel in this process, so it checks that counters grew by at least the flow's own share.
func TestMetricsAfterAFlow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	observe.SetPool(env.Pool)
	before := scrape(t)

	b := servertest.NewStockBrand(t, env, "metrics")
	email := string(b.Owner.User.Email)
	env.Login(t, email, servertest.Password)
	bad, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: b.Owner.User.Email, Password: "not the password"})
	if err != nil || bad.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("bad login: %v %d", err, bad.StatusCode())
	}
	if r, err := env.Client.RefreshWithResponse(ctx, api.RefreshJSONRequestBody{RefreshToken: b.Owner.RefreshToken}); err != nil || r.JSON200 == nil {
		t.Fatalf("refresh: %v", err)
	}
	if r, err := env.Client.RefreshWithResponse(ctx, api.RefreshJSONRequestBody{RefreshToken: "garbage.token.value"}); err != nil || r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("garbage refresh: %v", err)
	}
	if r, err := env.Client.ListProductsWithResponse(ctx, b.Brand, &api.ListProductsParams{}, b.Auth); err != nil || r.JSON200 == nil {
		t.Fatalf("list products: %v", err)
	}
	p := b.Product(t, "MET-1")
	loc := createLocation(t, env, b.Owner, "MET")
	receive(t, env, b.Owner, p.Id, loc.Id, 2)
	b.MustReserve(t, servertest.HoldLine(p.Id, &loc.Id, 2))
	if r := b.Reserve(t, servertest.HoldLine(p.Id, &loc.Id, 1)); r.StatusCode() != http.StatusUnprocessableEntity {
		t.Fatalf("reserve past stock: %d %s", r.StatusCode(), r.Body)
	}
	key := "metrics-replay"
	for range 2 {
		r, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.Brand, &api.CreateStockAdjustmentParams{IdempotencyKey: &key},
			api.StockAdjustmentRequest{Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: p.Id, LocationId: loc.Id, Delta: 1}}}, b.Auth)
		if err != nil || r.StatusCode() != http.StatusCreated {
			t.Fatalf("adjust with a key: %v %d", err, r.StatusCode())
		}
	}

	after := scrape(t)
	grew := func(name string, labels map[string]string, by float64) {
		t.Helper()
		if d := sample(after, name, labels) - sample(before, name, labels); d < by {
			t.Errorf("%s%v grew by %v, want at least %v", name, labels, d, by)
		}
	}
	grew("ecompointer_logins_total", map[string]string{"outcome": "ok"}, 1)
	grew("ecompointer_logins_total", map[string]string{"outcome": "bad_credentials"}, 1)
	grew("ecompointer_refreshes_total", map[string]string{"outcome": "rotated"}, 1)
	grew("ecompointer_refreshes_total", map[string]string{"outcome": "invalid"}, 1)
	grew("ecompointer_reservations_total", map[string]string{"event": "created"}, 1)
	grew("ecompointer_insufficient_stock_total", nil, 1)
	grew("ecompointer_idempotent_replays_total", nil, 1)
	route := map[string]string{"route": "/brands/{brandId}/products", "method": "GET", "status_class": "2xx"}
	grew("ecompointer_http_requests_total", route, 1)
	grew("ecompointer_http_request_duration_seconds", route, 1)
	grew("ecompointer_http_requests_total", map[string]string{"route": "/auth/login", "method": "POST", "status_class": "4xx"}, 1)
	grew("ecompointer_bcrypt_queue_wait_seconds", nil, 2)
	grew("ecompointer_db_pool_acquires_total", nil, 1)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "ecompointer_http_requests_in_flight", "ecompointer_db_pool_max_connections"} {
		if after[name] == nil {
			t.Errorf("no %s in the exposition", name)
		}
	}
	// Bounded labels: no series is named by an id.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), b.Brand.String()) || strings.Contains(l.GetValue(), "@") {
					t.Errorf("%s has an unbounded label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestAccessTokensMetric proves ecompointer_access_tokens_total tells a remembered token from
// one checked by its signature: a new token is checked once and remembered after, and a forged
// one is checked every time.
func TestAccessTokensMetric(t *testing.T) {
	env := servertest.New(t)
	observe.SetAccessTokens(env.Handler.Tokens().Checks)
	t.Cleanup(func() { observe.SetAccessTokens(nil) })
	email := servertest.Email("tokens")
	env.Register(t, email)
	auth := env.Login(t, email, servertest.Password) // a token never presented yet
	before := scrape(t)
	for range 3 {
		if r := env.Profile(t, auth.AccessToken); r.JSON200 == nil {
			t.Fatalf("profile: %d %s", r.StatusCode(), r.Body)
		}
	}
	forged := auth.AccessToken[:len(auth.AccessToken)-2] + "AA"
	for range 2 {
		r, err := env.Client.GetProfileWithResponse(ctx, servertest.Bearer(forged))
		if err != nil || r.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("forged token: %v %d", err, r.StatusCode())
		}
	}
	after := scrape(t)
	for _, tc := range []struct {
		from string
		want float64
	}{
		// The login's token: checked at its first use, remembered at the next two.
		{"memory", 2},
		{"signature", 3},
	} {
		t.Run(tc.from, func(t *testing.T) {
			labels := map[string]string{"from": tc.from}
			if d := sample(after, "ecompointer_access_tokens_total", labels) - sample(before, "ecompointer_access_tokens_total", labels); d != tc.want {
				t.Errorf("from=%s grew by %v, want %v", tc.from, d, tc.want)
			}
		})
	}
}
