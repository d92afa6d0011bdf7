package server

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// TestOneRoutingAgreesWithTheSpecRouter proves the operation table against kin-openapi's own
// router, which the contract used to route every request a second time: for every spec path with
// its parameters filled with ids, with the literal segments of other paths (`bulk`, `movements`),
// with escapes and with nothing, and every method, a request chi routes reaches the same operation
// with the same path parameters, or the same 405 or 404, as kin-openapi's router decided.
func TestOneRoutingAgreesWithTheSpecRouter(t *testing.T) {
	t.Parallel()
	sp, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	routed := *sp.doc
	routed.Servers = nil
	kin, err := gorillamux.NewRouter(&routed)
	if err != nil {
		t.Fatal(err)
	}

	// What the contract decides, behind chi routing as New mounts it.
	type decision struct {
		op     string
		miss   lookupMiss
		params map[string]string
	}
	var got decision
	r := chi.NewRouter()
	r.Use(middleware.GetHead)
	r.Group(func(r chi.Router) {
		r.Use(func(http.Handler) http.Handler {
			return http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
				var path pathValues
				op, miss := sp.ops.lookup(req, &path)
				got = decision{miss: miss}
				if op != nil {
					got.op, got.params = op.id, path.asMap()
				}
			})
		})
		for key := range sp.ops.byRoute {
			r.Method(key.method, key.pattern, http.NotFoundHandler())
		}
	})

	fills := []string{"0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e", "0192F0C4-7D2A-7CC1-9D6E-3B1A2F4C5D6E", "not-a-uuid", "%41b", "%00", "x%2Fy", "a;b", ""}
	for path := range sp.doc.Paths.Map() {
		for _, seg := range splitTemplate(path) {
			if seg.name == "" && !slices.Contains(fills, seg.literal) {
				fills = append(fills, seg.literal)
			}
		}
	}
	methods := append(slices.Clone(routedMethods), http.MethodHead)
	checked := 0
	for _, path := range slices.Sorted(maps.Keys(sp.doc.Paths.Map())) {
		for _, fill := range fills {
			target := fillTemplate(path, fill)
			for _, method := range methods {
				req := httptest.NewRequest(method, target, nil)
				got = decision{miss: -1}
				r.ServeHTTP(httptest.NewRecorder(), req)
				if got.miss == -1 {
					continue // chi answered 404 or 405 itself: the contract never runs
				}
				checked++
				probe := req.Clone(req.Context())
				if method == http.MethodHead {
					probe.Method = http.MethodGet
				}
				route, vars, err := kin.FindRoute(probe)
				var want decision
				switch {
				case errors.Is(err, routers.ErrMethodNotAllowed):
					want.miss = lookupMethodNotAllowed
				case err != nil:
					want.miss = lookupNotFound
				default:
					want = decision{op: route.Operation.OperationID, params: vars}
				}
				if got.op != want.op || got.miss != want.miss || !maps.Equal(got.params, want.params) {
					t.Errorf("%s %s: contract %+v, spec router %+v", method, target, got, want)
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d requests reached the contract: the probe is broken", checked)
	}
}

func fillTemplate(path, fill string) string {
	var b strings.Builder
	for _, seg := range splitTemplate(path) {
		b.WriteByte('/')
		if seg.name != "" {
			b.WriteString(fill)
		} else {
			b.WriteString(seg.literal)
		}
	}
	return b.String()
}

// TestCompiledChecksAgreeWithTheSpec proves each compiled parameter check against kin-openapi's
// validation of the same value: a value the check accepts is one the spec accepts.
func TestCompiledChecksAgreeWithTheSpec(t *testing.T) {
	t.Parallel()
	sp, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	values := []string{
		"", "0", "1", "20", "100", "101", "-1", "007", "1e2", "99999999999999999999", "9007199254740993",
		"0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e", "0192F0C4-7D2A-7CC1-9D6E-3B1A2F4C5D6E", "0192f0c47d2a7cc19d6e3b1a2f4c5d6e",
		"{0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e}", "urn:uuid:0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e",
		"draft", "active", "archived", "Active", "createdAt", "-createdAt", "name", "-name", "brass", "zephyr",
		"summer", strings.Repeat("a", 50), strings.Repeat("a", 51), strings.Repeat("é", 50), strings.Repeat("a", 100),
		strings.Repeat("a", 101), strings.Repeat("a", 512), strings.Repeat("a", 513), "true", "false",
	}
	compiled := 0
	for key, op := range sp.ops.byRoute {
		for _, p := range op.params {
			if p.check == nil {
				continue
			}
			compiled++
			for _, v := range values {
				if !p.check(v) {
					continue
				}
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				pathParams := map[string]string{}
				switch p.in {
				case "path":
					pathParams[p.name] = v
				case "query":
					req.URL.RawQuery = url.Values{p.name: {v}}.Encode()
				case "header":
					req.Header.Set(p.name, v)
				}
				input := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: op.route, Options: sp.opts}
				if err := openapi3filter.ValidateParameter(t.Context(), input, p.p); err != nil {
					t.Errorf("%s %s: %s=%q passes the compiled check but not the spec: %v", key.method, key.pattern, p.field, v, err)
				}
			}
		}
	}
	if compiled < 20 {
		t.Fatalf("only %d parameters have a compiled check", compiled)
	}
}

// TestRoutesAreTheSpecs proves New's start-up check: a router that does not route a spec
// operation at the spec's own path (here, all of them under a base URL) is refused by name.
func TestRoutesAreTheSpecs(t *testing.T) {
	t.Parallel()
	sp, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	for key := range sp.ops.byRoute {
		r.Method(key.method, "/v1"+key.pattern, http.NotFoundHandler())
	}
	if err := sp.ops.routedBy(r); err == nil || !strings.Contains(err.Error(), "GET /brands/{brandId}/products/{productId}") {
		t.Errorf("a router under /v1: %v, want the operations named", err)
	}
}
