package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// The contract as generators and strict validators read it (issue 16 items 14, 15, 17, 18).

// walkSchemas calls fn on every schema of the document reachable from its components and
// operations, once each, with where it was first met.
func walkSchemas(doc *openapi3.T, fn func(where string, s *openapi3.Schema)) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, ref *openapi3.SchemaRef)
	walk = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		fn(where, s)
		for name, p := range s.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Items)
		walk(where+"{}", s.AdditionalProperties.Schema)
		walk(where+".not", s.Not)
		for i, group := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for j, sub := range group {
				walk(fmt.Sprintf("%s.%s[%d]", where, []string{"allOf", "anyOf", "oneOf"}[i], j), sub)
			}
		}
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		walk(name, doc.Components.Schemas[name])
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range op.Parameters {
				walk(where+" "+p.Value.In+"."+p.Value.Name, p.Value.Schema)
			}
			if op.RequestBody != nil {
				for _, media := range op.RequestBody.Value.Content {
					walk(where+" body", media.Schema)
				}
			}
			for code, resp := range op.Responses.Map() {
				for _, media := range resp.Value.Content {
					walk(where+" "+code, media.Schema)
				}
			}
		}
	}
}

// TestSpecNullableIsStrict303: OpenAPI 3.0.3 lets `nullable: true` add null only to the `type`
// of the same schema object; an `allOf` member or an `enum` still refuses null. Prism and
// openapi-schema-validator refused `OrderEvent.fromStatus`, `StockLocation.address` and
// `UpdateLocationRequest.address` written as `nullable` beside `allOf: [$ref]`. kin-openapi,
// which the server and servertest use, accepts them, so the rule is checked here.
func TestSpecNullableIsStrict303(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	walkSchemas(doc, func(where string, s *openapi3.Schema) {
		if !s.Nullable {
			return
		}
		if s.Type == nil || len(s.Type.Slice()) == 0 {
			t.Errorf("%s: `nullable: true` without a `type` means nothing in OpenAPI 3.0.3", where)
		}
		if len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 {
			t.Errorf("%s: `nullable: true` beside allOf/anyOf/oneOf does not let null past the members", where)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, any(nil)) {
			t.Errorf("%s: a nullable enum must list null among its values", where)
		}
	})

	// The nullable copies say what their non-nullable originals say, null aside.
	schemas := doc.Components.Schemas
	address := schemas["Address"].Value
	for where, copied := range map[string]*openapi3.Schema{
		"NullableAddress":               schemas["NullableAddress"].Value,
		"UpdateLocationRequest.address": schemas["UpdateLocationRequest"].Value.Properties["address"].Value,
	} {
		if !reflect.DeepEqual(copied.Properties, address.Properties) || !reflect.DeepEqual(copied.Required, address.Required) ||
			!reflect.DeepEqual(copied.AdditionalProperties, address.AdditionalProperties) {
			t.Errorf("%s: must have Address's members, required list and additionalProperties", where)
		}
	}
	status := schemas["OrderStatus"].Value.Enum
	if got := schemas["OrderEvent"].Value.Properties["fromStatus"].Value.Enum; !reflect.DeepEqual(got, append(slices.Clip(status), nil)) {
		t.Errorf("OrderEvent.fromStatus enum %v: want OrderStatus's %v and null", got, status)
	}
}

// TestNullsPassAStrictValidator sends what makes the server answer null in the three fields a
// strict 3.0.3 validator refused; servertest's validating transport checks each answer with
// servertest.StrictNulls as well as kin-openapi, and fails the test on a null it would refuse.
func TestNullsPassAStrictValidator(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "nulls")

	t.Run("StockLocation.address", func(t *testing.T) {
		loc := createLocation(t, env, b.Owner, "NUL-1")
		if loc.Address != nil {
			t.Fatalf("address = %+v, want null", loc.Address)
		}
		got, err := env.Client.GetLocationWithResponse(ctx, b.Brand, loc.Id, b.Auth)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("get location: %v %d %s", err, got.StatusCode(), got.Body)
		}
		if !strings.Contains(string(got.Body), `"address":null`) {
			t.Errorf("body %s: want \"address\":null", got.Body)
		}
	})
	t.Run("UpdateLocationRequest.address", func(t *testing.T) {
		loc := createLocation(t, env, b.Owner, "NUL-2")
		resp := patchJSON(t, env, fmt.Sprintf("/brands/%s/locations/%s", b.Brand, loc.Id),
			`{"address": {"line1": "1 Main St", "city": "Leeds", "country": "GB"}}`, b.Owner.AccessToken)
		wantStatus(t, resp, http.StatusOK)
		resp = patchJSON(t, env, fmt.Sprintf("/brands/%s/locations/%s", b.Brand, loc.Id), `{"address": null}`, b.Owner.AccessToken)
		body := wantStatus(t, resp, http.StatusOK)
		if !strings.Contains(body, `"address":null`) {
			t.Errorf("body %s: want \"address\":null after clearing it", body)
		}
	})
	t.Run("OrderEvent.fromStatus", func(t *testing.T) {
		p := b.Product(t, "NUL-P")
		loc := createLocation(t, env, b.Owner, "NUL-3")
		receive(t, env, b.Owner, p.Id, loc.Id, 2)
		o := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
		events := b.OrderEvents(t, o.Id)
		if len(events) == 0 || events[0].FromStatus != nil {
			t.Fatalf("events = %+v, want the creation first with fromStatus null", events)
		}
	})
}

// TestCreateOrderRequiresIdempotencyKey: the spec marks the key required (generated clients then
// refuse to compile a call without it), and a request without it still answers 400
// `idempotency_key_required` naming the header, holding nothing.
func TestCreateOrderRequiresIdempotencyKey(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	op := doc.Paths.Find("/brands/{brandId}/orders").Post
	if p := op.Parameters.GetByInAndName("header", "Idempotency-Key"); p == nil || !p.Required {
		t.Errorf("createOrder: Idempotency-Key must be `required: true` in openapi.yaml")
	}

	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "reqkey")
	p := b.Product(t, "RK-1")
	loc := createLocation(t, env, b.Owner, "RK")
	receive(t, env, b.Owner, p.Id, loc.Id, 5)
	body, _ := json.Marshal(servertest.OrderBody(servertest.OrderLine(p.Id, 1)))
	resp := postJSON(t, env, fmt.Sprintf("/brands/%s/orders", b.Brand), string(body),
		map[string]string{"Authorization": "Bearer " + b.Owner.AccessToken})
	prob := servertest.ReadProblem(t, resp)
	if resp.StatusCode != http.StatusBadRequest || prob.Code != api.ProblemCodeIdempotencyKeyRequired {
		t.Fatalf("no key: %d %s, want 400 idempotency_key_required", resp.StatusCode, prob.Code)
	}
	if !namesField(prob, "header.Idempotency-Key") {
		t.Errorf("errors %+v: want header.Idempotency-Key named", prob.Errors)
	}
	b.WantLevel(t, "nothing held", p.Id, loc.Id, 5, 0)
}

// TestActionsTakeNoBody: every POST whose body has no required member (confirm, cancel, extend)
// accepts a request with no body at all, with or without a Content-Type, exactly like `{}`.
func TestActionsTakeNoBody(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	for path, item := range doc.Paths.Map() {
		op := item.Post
		if op == nil || op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
			continue
		}
		schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		if len(schema.Required) == 0 && op.RequestBody.Value.Required {
			t.Errorf("POST %s (%s): every body member is optional, so the body must be too (`required: false`)", path, op.OperationID)
		}
	}

	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "nobody")
	p := b.Product(t, "NB-1")
	loc := createLocation(t, env, b.Owner, "NB")
	receive(t, env, b.Owner, p.Id, loc.Id, 10)
	for _, contentType := range []string{"", "application/json"} {
		t.Run("content-type="+contentType, func(t *testing.T) {
			o1 := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
			o2 := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
			res := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 1))
			before := res.ExpiresAt
			env.Clock.Advance(60e9)
			for _, tc := range []struct {
				name, path string
				check      func(t *testing.T, body string)
			}{
				{"confirm", fmt.Sprintf("/brands/%s/orders/%s/confirm", b.Brand, o1.Id), func(t *testing.T, body string) {
					var o api.Order
					mustDecode(t, body, &o)
					if o.Status != api.OrderConfirmed || o.PaymentReference != nil {
						t.Errorf("confirmed order %s: status %s, paymentReference %v", o.Id, o.Status, o.PaymentReference)
					}
				}},
				{"cancel", fmt.Sprintf("/brands/%s/orders/%s/cancel", b.Brand, o2.Id), func(t *testing.T, body string) {
					var o api.Order
					mustDecode(t, body, &o)
					if o.Status != api.OrderCancelled {
						t.Errorf("cancelled order %s: status %s", o.Id, o.Status)
					}
				}},
				{"extend", fmt.Sprintf("/brands/%s/reservations/%s/extend", b.Brand, res.Id), func(t *testing.T, body string) {
					var r api.Reservation
					mustDecode(t, body, &r)
					// No ttlSeconds: the default TTL (900 s) from now, like a new reservation's.
					if want := env.Clock.Now().Add(900e9); !r.ExpiresAt.Equal(want) || r.ExpiresAt.Equal(before) {
						t.Errorf("extended reservation expires at %s, want %s", r.ExpiresAt, want)
					}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					req, err := http.NewRequest(http.MethodPost, env.URL+tc.path, http.NoBody)
					if err != nil {
						t.Fatal(err)
					}
					if contentType != "" {
						req.Header.Set("Content-Type", contentType)
					}
					req.Header.Set("Authorization", "Bearer "+b.Owner.AccessToken)
					resp, err := env.HTTP.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					tc.check(t, wantStatus(t, resp, http.StatusOK))
				})
			}
		})
	}
	b.WantLevel(t, "two orders: one confirmed (held), one cancelled; two holds", p.Id, loc.Id, 10, 4)
}

// TestHeaderParametersHavePatterns: every header parameter has a pattern, so a value Go's HTTP
// parser lets through (a tab, bytes past ASCII) but no client means gets a problem+json 400
// naming the header, with X-Request-Id, instead of reaching a handler (If-Match had none:
// `"K\t"` answered 412). What Go's parser itself refuses (other control characters) gets its
// plain-text 400 before any handler runs; the spec's description says so.
func TestHeaderParametersHavePatterns(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value.In == "header" && (p.Value.Schema == nil || p.Value.Schema.Value.Pattern == "") {
					t.Errorf("%s %s: header %s needs a pattern", method, path, p.Value.Name)
				}
			}
		}
	}
	if !strings.Contains(doc.Info.Description, "text/plain") {
		t.Errorf("info.description must document the plain-text 400 Go's HTTP layer sends for malformed HTTP")
	}

	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "hdr")
	p := b.Product(t, "HDR-1")
	productPath := fmt.Sprintf("/brands/%s/products/%s", b.Brand, p.Id)
	adjustPath := fmt.Sprintf("/brands/%s/inventory/adjustments", b.Brand)
	for _, tc := range []struct {
		name, method, path, header, value string
	}{
		{"If-Match tab", http.MethodPatch, productPath, "If-Match", "\"1\t\""},
		{"If-Match obs-text", http.MethodPatch, productPath, "If-Match", "\"1\x85\""},
		{"If-Match unquoted", http.MethodPatch, productPath, "If-Match", "1"},
		{"If-Match C1 control", http.MethodDelete, productPath, "If-Match", "\"K\u0085\""},
		{"Idempotency-Key tab", http.MethodPost, adjustPath, "Idempotency-Key", "K\tK"},
		{"Idempotency-Key obs-text", http.MethodPost, adjustPath, "Idempotency-Key", "K\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, env.URL+tc.path, strings.NewReader(`{"name": "renamed"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+b.Owner.AccessToken)
			req.Header.Set(tc.header, tc.value)
			resp, err := env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			prob := servertest.ReadProblem(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !namesField(prob, "header."+tc.header) {
				t.Errorf("%s %q: %d %s %+v, want 400 naming header.%s", tc.header, tc.value, resp.StatusCode, prob.Code, prob.Errors, tc.header)
			}
			if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Request-Id") != prob.RequestId {
				t.Errorf("X-Request-Id %q, requestId %q: want the same id in both", resp.Header.Get("X-Request-Id"), prob.RequestId)
			}
		})
	}
	// The product is untouched by all of the above.
	got, err := env.Client.GetProductWithResponse(ctx, b.Brand, p.Id, b.Auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Name != p.Name {
		t.Errorf("product after refused changes: %v %d %s", err, got.StatusCode(), got.Body)
	}

	// A control character Go's parser refuses: its plain-text 400, as documented.
	t.Run("BEL, refused by Go", func(t *testing.T) {
		status, contentType := rawRequest(t, env.URL, "DELETE "+productPath+" HTTP/1.1\r\nHost: x\r\nIf-Match: \"K\x07\"\r\nConnection: close\r\n\r\n")
		if status != http.StatusBadRequest || !strings.HasPrefix(contentType, "text/plain") {
			t.Errorf("If-Match with BEL: %d %q, want Go's plain-text 400", status, contentType)
		}
	})
}

// rawRequest writes raw to the server and returns the status and Content-Type of the answer, for
// requests Go's client refuses to send.
func rawRequest(t *testing.T, base, raw string) (int, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode, resp.Header.Get("Content-Type")
}

func namesField(p api.Problem, field string) bool {
	if p.Errors == nil {
		return false
	}
	for _, e := range *p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// patchJSON sends a raw PATCH body as the bearer of token.
func patchJSON(t *testing.T, env *servertest.Env, path, body, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// wantStatus checks resp's status and returns its body.
func wantStatus(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	return string(body)
}

func mustDecode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
