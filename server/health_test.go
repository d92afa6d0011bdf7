package server_test

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/buildinfo"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()

	health, err := env.Client.GetHealthzWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := health.StatusCode(), http.StatusOK; got != want {
		t.Fatalf("healthz status = %d, want %d", got, want)
	}
	if health.JSON200.Status != api.Ok {
		t.Errorf("healthz body = %+v", health.JSON200)
	}
	if v := health.JSON200.Version; v == nil || *v != buildinfo.Get().Version {
		t.Errorf("healthz version = %v, want %q (the running build)", v, buildinfo.Get().Version)
	}

	ready, err := env.Client.GetReadyzWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ready.StatusCode(), http.StatusOK; got != want {
		t.Fatalf("readyz status = %d, want %d", got, want)
	}
}

func TestReadinessWhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	// The server's database is a port nothing listens on: every connection fails as it would
	// with the database down (readiness has a connection of its own, so closing the request
	// pool would prove nothing).
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/down?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	env := servertest.New(t, func(c *server.Config) { c.Pool = down })

	ready, err := env.Client.GetReadyzWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ready.StatusCode(), http.StatusServiceUnavailable; got != want {
		t.Fatalf("readyz status = %d, want %d", got, want)
	}
	p := ready.ApplicationproblemJSON503
	if p.Code != api.ProblemCodeServiceUnavailable || p.RequestId == "" {
		t.Errorf("problem = %+v", p)
	}
	if got := ready.HTTPResponse.Header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(string(ready.Body), "pool") || strings.Contains(string(ready.Body), "closed") {
		t.Errorf("503 leaks internals: %s", ready.Body)
	}
}

func TestServesItsOwnSpec(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()

	yamlResp, err := env.Client.GetOpenAPIYAMLWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(yamlResp.Body), string(ecompointer.OpenAPI); got != want {
		t.Error("/openapi.yaml is not openapi.yaml byte for byte")
	}

	jsonResp, err := env.Client.GetOpenAPIJSONWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if jsonResp.StatusCode() != http.StatusOK {
		t.Fatalf("/openapi.json status = %d", jsonResp.StatusCode())
	}
	// Both documents, loaded, must be the same document the server was generated from.
	fromYAML, err := openapi3.NewLoader().LoadFromData(ecompointer.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData(jsonResp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mustJSON(t, fromYAML), mustJSON(t, fromJSON)) {
		t.Error("/openapi.json differs from openapi.yaml")
	}
}

func mustJSON(t *testing.T, doc *openapi3.T) string {
	t.Helper()
	b, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSwaggerUIIsEmbedded(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)

	for _, path := range []string{"/api-docs", "/api-docs/", "/api-docs/swagger-ui-bundle.js"} {
		resp, err := env.HTTP.Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
			continue
		}
		if path == "/api-docs/" {
			page := string(body)
			for _, want := range []string{"/openapi.yaml", "swagger-ui-bundle.js", `validatorUrl: null`, `persistAuthorization: true`} {
				if !strings.Contains(page, want) {
					t.Errorf("Swagger UI page lacks %q", want)
				}
			}
			// Every asset comes from this server: no CDN, so the page works offline.
			for _, external := range []string{"https://", "http://", "//cdn", "unpkg", "jsdelivr"} {
				if strings.Contains(strings.ReplaceAll(page, `window.location.protocol + "//"`, ""), external) &&
					!strings.Contains(page, "startsWith(\""+external) {
					t.Errorf("Swagger UI page loads from outside: %q", external)
				}
			}
		}
	}
}

func TestRouterProblems(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)

	cases := []struct {
		method, path string
		status       int
		code         api.ProblemCode
	}{
		{http.MethodGet, "/no-such-route", http.StatusNotFound, api.ProblemCodeNotFound},
		{http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, api.ProblemCodeMethodNotAllowed},
		{http.MethodPost, "/readyz", http.StatusMethodNotAllowed, api.ProblemCodeMethodNotAllowed},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, env.URL+c.path, nil)
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := servertest.ReadProblem(t, resp)
		if resp.StatusCode != c.status || p.Code != c.code || p.Status != c.status {
			t.Errorf("%s %s = %d %+v, want %d %s", c.method, c.path, resp.StatusCode, p, c.status, c.code)
		}
	}
}

func TestRequestIDIsEchoed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)

	req, _ := http.NewRequest(http.MethodGet, env.URL+"/nope", nil)
	req.Header.Set("X-Request-Id", "trace-123")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := servertest.ReadProblem(t, resp)
	if got := resp.Header.Get("X-Request-Id"); got != "trace-123" || p.RequestId != "trace-123" {
		t.Errorf("request id = header %q, body %q; want trace-123", got, p.RequestId)
	}

	// An id that could forge a log line is replaced, not echoed.
	req, _ = http.NewRequest(http.MethodGet, env.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "a b\tc")
	resp, err = env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "a b\tc" || got == "" {
		t.Errorf("unsafe request id handled as %q", got)
	}
}
