package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

const shopOrigin = "https://shop.example"

func preflight(t *testing.T, env *servertest.Env, path, origin, method, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, env.URL+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestCORSRefusedPreflightNamesTheSetting: a preflight the server refuses (no origin allowed, an
// origin not listed, a method or request header the API does not take) is a 403 problem
// `cors_not_allowed` whose detail says why and, for an origin, names CORS_ALLOWED_ORIGINS; it
// used to be a 405 (setting unset) or a 200 without Access-Control headers (origin not listed),
// with no hint either way.
func TestCORSRefusedPreflightNamesTheSetting(t *testing.T) {
	t.Parallel()
	unset := servertest.New(t)
	set := servertest.New(t, func(c *server.Config) { c.CORSAllowedOrigins = []string{shopOrigin} })

	for _, tc := range []struct {
		name                   string
		env                    *servertest.Env
		origin, method, header string
		detail                 []string
	}{
		{"setting unset", unset, shopOrigin, "GET", "authorization", []string{"CORS_ALLOWED_ORIGINS", shopOrigin}},
		{"setting unset, public operation", unset, shopOrigin, "POST", "content-type", []string{"CORS_ALLOWED_ORIGINS"}},
		{"origin not listed", set, "https://evil.example", "GET", "authorization", []string{"CORS_ALLOWED_ORIGINS", "https://evil.example"}},
		{"listed origin on another port", set, shopOrigin + ":8443", "GET", "", []string{"CORS_ALLOWED_ORIGINS"}},
		{"method the API does not take", set, shopOrigin, "PUT", "authorization", []string{"PUT"}},
		{"request header the API does not read", set, shopOrigin, "GET", "authorization, x-tracking", []string{"X-Tracking"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := preflight(t, tc.env, "/auth/login", tc.origin, tc.method, tc.header)
			if got, want := resp.StatusCode, http.StatusForbidden; got != want {
				t.Fatalf("status %d, want %d", got, want)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin %q on a refusal", got)
			}
			p := servertest.ReadProblem(t, resp)
			if p.Code != api.ProblemCodeCorsNotAllowed || p.Status != http.StatusForbidden || p.Detail == nil {
				t.Fatalf("problem %+v", p)
			}
			for _, want := range tc.detail {
				if !strings.Contains(*p.Detail, want) {
					t.Errorf("detail %q does not name %q", *p.Detail, want)
				}
			}
			if p.RequestId == "" || p.RequestId != resp.Header.Get("X-Request-Id") {
				t.Errorf("requestId %q, X-Request-Id %q", p.RequestId, resp.Header.Get("X-Request-Id"))
			}
		})
	}

	// Not a preflight (no Access-Control-Request-Method): OPTIONS is still a method the API does
	// not have.
	req, _ := http.NewRequest(http.MethodOptions, unset.URL+"/auth/login", nil)
	resp, err := unset.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, http.StatusMethodNotAllowed; got != want {
		t.Errorf("plain OPTIONS: status %d, want %d", got, want)
	}
	_ = resp.Body.Close()
}

// TestCORSAllowedOriginReadsTheAPIsHeaders: with CORS_ALLOWED_ORIGINS set, an allowed preflight
// is a 204 granting the method and headers asked for, and every answer to the origin lists in
// Access-Control-Expose-Headers the headers browser code needs (Idempotent-Replayed was missing,
// so a frontend could not tell a replay from a first answer).
func TestCORSAllowedOriginReadsTheAPIsHeaders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.CORSAllowedOrigins = []string{"https://admin.example", shopOrigin} })
	owner := env.Register(t, servertest.Email("cors"))
	brand := owner.User.BrandId.String()

	t.Run("preflight", func(t *testing.T) {
		resp := preflight(t, env, "/brands/"+brand+"/inventory/adjustments", shopOrigin, "POST", "authorization, content-type, idempotency-key, if-match, x-request-id")
		_ = resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusNoContent; got != want {
			t.Fatalf("status %d, want %d", got, want)
		}
		for name, want := range map[string]string{
			"Access-Control-Allow-Origin":  shopOrigin,
			"Access-Control-Allow-Methods": "POST",
			"Access-Control-Allow-Headers": "authorization, content-type, idempotency-key, if-match, x-request-id",
		} {
			if got := resp.Header.Get(name); !strings.EqualFold(got, want) {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
	})

	// A receipt and its replay, from the allowed origin.
	product := createProduct(t, env, owner, api.CreateProductRequest{Sku: "CORS-1", Name: "Mug", PriceAmount: 100})
	location := createLocation(t, env, owner, "CORS")
	body, _ := json.Marshal(map[string]any{"kind": "receipt", "lines": []map[string]any{{"productId": product.Id, "locationId": location.Id, "delta": 2}}})
	send := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/brands/"+brand+"/inventory/adjustments", bytes.NewReader(body))
		req.Header.Set("Origin", shopOrigin)
		req.Header.Set("Authorization", "Bearer "+owner.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "cors-receipt-1")
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	first, replay := send(), send()
	if first.StatusCode != http.StatusCreated || replay.StatusCode != http.StatusCreated || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("receipt %d, replay %d (Idempotent-Replayed %q)", first.StatusCode, replay.StatusCode, replay.Header.Get("Idempotent-Replayed"))
	}
	for _, resp := range []*http.Response{first, replay} {
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != shopOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, shopOrigin)
		}
		var exposed []string
		for _, v := range resp.Header.Values("Access-Control-Expose-Headers") {
			for _, name := range strings.Split(v, ",") {
				exposed = append(exposed, strings.ToLower(strings.TrimSpace(name)))
			}
		}
		for _, want := range []string{"Idempotent-Replayed", "ETag", "Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"} {
			if !slices.Contains(exposed, strings.ToLower(want)) {
				t.Errorf("Access-Control-Expose-Headers %v lacks %s", exposed, want)
			}
		}
		for _, safe := range []string{"content-type", "cache-control"} {
			if slices.Contains(exposed, safe) {
				t.Errorf("Access-Control-Expose-Headers lists the safelisted %s", safe)
			}
		}
	}

	t.Run("another origin gets no grant", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/healthz", nil)
		req.Header.Set("Origin", "https://evil.example")
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin %q for an origin not listed", got)
		}
	})
}
