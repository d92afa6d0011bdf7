package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// walkOperation is one operation of openapi.yaml with its path filled in for a tenant.
type walkOperation struct {
	method, path, target string
	op                   *openapi3.Operation
}

// walkOperations lists every operation of the spec, sorted, with the tenant's ids in the path
// (ids it does not have are random UUIDs: validation runs before any handler looks them up).
func walkOperations(t *testing.T, tn tenant) []walkOperation {
	t.Helper()
	doc := servertest.Doc(t)
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	var out []walkOperation
	for _, path := range paths {
		item := doc.Paths.Value(path)
		methods := make([]string, 0)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			target := path
			for name, id := range tn.ids {
				target = strings.ReplaceAll(target, "{"+name+"}", id)
			}
			target = strings.ReplaceAll(target, "{sessionId}", uuid.NewString())
			out = append(out, walkOperation{method: method, path: path, target: target, op: item.GetOperation(method)})
		}
	}
	return out
}

// TestValidationErrorsAreCapped (issue 16 item 8): 150 bad bulk items make 150 errors, of which
// the problem lists the first 100 (in item order) and states the total in errorCount.
func TestValidationErrorsAreCapped(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("cap"))
	brand := owner.User.BrandId.String()
	bearer := map[string]string{"Authorization": "Bearer " + owner.AccessToken}

	for _, c := range []struct {
		name      string
		bad       int
		wantList  int
		wantCount int
	}{
		{"3 bad items", 3, 3, 3},
		{"100 bad items", 100, 100, 100},
		{"150 bad items", 150, 100, 150},
		{"1000 bad items", 1000, 100, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := make([]string, c.bad)
			for i := range items {
				items[i] = fmt.Sprintf(`{"sku":"bad sku %d","name":"x","priceAmount":1}`, i)
			}
			status, p := send(t, env, http.MethodPost, "/brands/"+brand+"/products/bulk", []byte(`{"items":[`+strings.Join(items, ",")+`]}`), bearer)
			if status != http.StatusBadRequest || p.Errors == nil {
				t.Fatalf("got %d %+v", status, p)
			}
			if got := len(*p.Errors); got != c.wantList {
				t.Errorf("errors listed = %d, want %d", got, c.wantList)
			}
			if p.ErrorCount == nil || int(*p.ErrorCount) != c.wantCount {
				t.Errorf("errorCount = %v, want %d", p.ErrorCount, c.wantCount)
			}
			for i, e := range *p.Errors {
				if want := fmt.Sprintf("items[%d].sku", i); e.Field != want {
					t.Fatalf("errors[%d] names %s, want %s", i, e.Field, want)
				}
			}
		})
	}
}

// TestHeaderAndParameterErrorsNameTheirField (issue 16 item 9): a parameter sent twice (a doubled
// Idempotency-Key header named `request`) is a 400 naming that parameter. The walk sends every
// header and query parameter of every operation twice: whatever the answer, no error names
// `request`, and a 400 for the doubled header names it.
func TestHeaderAndParameterErrorsNameTheirField(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tn := newTenant(t, env, "twice")
	admin := env.Admin(t)

	checked := 0
	for _, w := range walkOperations(t, tn) {
		for _, param := range w.op.Parameters {
			pv := param.Value
			if pv.In != openapi3.ParameterInHeader && pv.In != openapi3.ParameterInQuery {
				continue
			}
			checked++
			t.Run(fmt.Sprintf("%s %s %s %s twice", w.method, w.path, pv.In, pv.Name), func(t *testing.T) {
				req, err := http.NewRequest(w.method, env.URL+w.target, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
				if pv.In == openapi3.ParameterInHeader {
					req.Header.Add(pv.Name, `"k-1"`)
					req.Header.Add(pv.Name, `"k-2"`)
				} else {
					req.URL.RawQuery = url.QueryEscape(pv.Name) + "=1&" + url.QueryEscape(pv.Name) + "=2"
				}
				resp, err := env.HTTP.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode < 400 {
					_ = resp.Body.Close()
					return
				}
				p := servertest.ReadProblem(t, resp)
				if p.Errors != nil {
					for _, e := range *p.Errors {
						if e.Field == "request" {
							t.Fatalf("%d %s names `request`: %+v", resp.StatusCode, p.Code, *p.Errors)
						}
					}
				}
				if pv.In == openapi3.ParameterInHeader && resp.StatusCode == http.StatusBadRequest {
					assertFieldProblem(t, resp.StatusCode, p, "header."+pv.Name)
				}
			})
		}
	}
	if checked < 20 {
		t.Fatalf("only %d parameters checked: the walk missed the spec", checked)
	}

	// The case the attack run found, exactly.
	req, err := http.NewRequest(http.MethodPost, env.URL+"/brands/"+tn.ids["brandId"]+"/inventory/adjustments",
		strings.NewReader(`{"reason":"x","lines":[{"productId":"`+tn.ids["productId"]+`","locationId":"`+tn.ids["locationId"]+`","delta":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tn.owner.AccessToken)
	req.Header.Add("Idempotency-Key", "k-1")
	req.Header.Add("Idempotency-Key", "k-2")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 400 {
		t.Fatalf("doubled key answered %d", resp.StatusCode)
	}
	p := servertest.ReadProblem(t, resp)
	assertFieldProblem(t, resp.StatusCode, p, "header.Idempotency-Key")
	if len(*p.Errors) != 1 {
		t.Fatalf("errors = %+v, want only the header", *p.Errors)
	}
}

// TestBulkReportsEveryBadItem (issue 16 item 10): a type error (a fractional price) no longer
// hides the schema errors of other items: both bad items are named, exactly.
func TestBulkReportsEveryBadItem(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("bulkall"))
	brand := owner.User.BrandId.String()
	bearer := map[string]string{"Authorization": "Bearer " + owner.AccessToken}

	item := func(i int, sku, price string) string {
		return fmt.Sprintf(`{"sku":%q,"name":"item %d","priceAmount":%s}`, sku, i, price)
	}
	for _, c := range []struct {
		name   string
		bad    map[int][2]string // index → sku, price
		fields []string
	}{
		{"bad SKU at 3, fractional price at 6", map[int][2]string{3: {"bad sku", "1"}, 6: {"OK-6", "1.5"}}, []string{"items[3].sku", "items[6].priceAmount"}},
		{"price 2.0 at 3, bad SKU at 6", map[int][2]string{3: {"OK-3", "2.0"}, 6: {"bad sku", "1"}}, []string{"items[3].priceAmount", "items[6].sku"}},
		{"exponent at 1, bad SKU at 11", map[int][2]string{1: {"OK-1", "1e3"}, 11: {"bad sku", "1"}}, []string{"items[1].priceAmount", "items[11].sku"}},
		{"both wrong in one item", map[int][2]string{5: {"bad sku", "2.0"}}, []string{"items[5].priceAmount", "items[5].sku"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := make([]string, 12)
			for i := range items {
				sku, price := fmt.Sprintf("OK-%d", i), "1"
				if b, ok := c.bad[i]; ok {
					sku, price = b[0], b[1]
				}
				items[i] = item(i, sku, price)
			}
			status, p := send(t, env, http.MethodPost, "/brands/"+brand+"/products/bulk", []byte(`{"items":[`+strings.Join(items, ",")+`]}`), bearer)
			if status != http.StatusBadRequest || p.Errors == nil {
				t.Fatalf("got %d %+v", status, p)
			}
			var got []string
			for _, e := range *p.Errors {
				got = append(got, e.Field)
			}
			if strings.Join(got, " ") != strings.Join(c.fields, " ") {
				t.Fatalf("errors name %v, want %v", got, c.fields)
			}
		})
	}
}

// nullableField is a place in a request body and the field name a problem gives for it.
type nullableField struct {
	path     []any
	field    string
	nullable bool
}

// bodyFields walks a request body schema for every property, nested ones and array items
// included, noting whether the spec lets it be null.
func bodyFields(s *openapi3.Schema, path []any, field string, out *[]nullableField) {
	if s == nil {
		return
	}
	switch {
	case s.Type.Is(openapi3.TypeArray) && s.Items != nil:
		bodyFields(s.Items.Value, append(append([]any{}, path...), 0), field+"[0]", out)
	case s.Type.Is(openapi3.TypeObject):
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			sub := s.Properties[name].Value
			f := name
			if field != "" {
				f = field + "." + name
			}
			p := append(append([]any{}, path...), name)
			*out = append(*out, nullableField{path: p, field: f, nullable: permitsNull(sub)})
			bodyFields(sub, p, f, out)
		}
	}
}

func permitsNull(s *openapi3.Schema) bool {
	if s.Nullable {
		return true
	}
	for _, group := range [][]*openapi3.SchemaRef{s.AnyOf, s.OneOf} {
		for _, sub := range group {
			if sub.Value != nil && permitsNull(sub.Value) {
				return true
			}
		}
	}
	return false
}

// TestExplicitNullIsRefusedEverywhere (issue 16 item 12) walks openapi.yaml: every property of
// every request body that the spec does not mark nullable, sent as an explicit null inside the
// operation's valid example, is a 400 naming it. `{"active": null}` on createLocation and
// `{"ttlSeconds": null}` on createReservation were accepted and stored as their defaults.
func TestExplicitNullIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tn := newTenant(t, env, "nulls")
	admin := env.Admin(t)
	headers := map[string]string{"Authorization": "Bearer " + admin.AccessToken, "Idempotency-Key": "null-walk"}

	checked := 0
	for _, w := range walkOperations(t, tn) {
		if w.op.RequestBody == nil || w.op.RequestBody.Value.Content.Get("application/json") == nil {
			continue // no body, or a streamed CSV one (server/imports tests those)
		}
		example := exampleBody(t, w.op)
		var fields []nullableField
		bodyFields(w.op.RequestBody.Value.Content.Get("application/json").Schema.Value, nil, "", &fields)
		for _, f := range fields {
			if f.nullable {
				continue
			}
			checked++
			t.Run(fmt.Sprintf("%s %s %s null", w.method, w.path, f.field), func(t *testing.T) {
				var v any
				if err := json.Unmarshal(example, &v); err != nil {
					t.Fatal(err)
				}
				body, err := json.Marshal(place(v, f.path, nil))
				if err != nil {
					t.Fatal(err)
				}
				status, p := send(t, env, w.method, w.target, body, headers)
				assertFieldProblem(t, status, p, f.field)
			})
		}
	}
	if checked < 80 {
		t.Fatalf("only %d fields checked: the walk missed the spec", checked)
	}

	// The two the attack run found, with the owner, nothing else wrong in the body.
	brand := tn.ids["brandId"]
	owner := map[string]string{"Authorization": "Bearer " + tn.owner.AccessToken}
	for _, c := range []struct{ name, path, body, field string }{
		{"createLocation active null", "/brands/" + brand + "/locations", `{"code":"NULL-1","name":"Null","active":null}`, "active"},
		{"createReservation ttlSeconds null", "/brands/" + brand + "/reservations",
			`{"lines":[{"productId":"` + tn.ids["productId"] + `","quantity":1}],"ttlSeconds":null}`, "ttlSeconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, p := send(t, env, http.MethodPost, c.path, []byte(c.body), owner)
			assertFieldProblem(t, status, p, c.field)
			if len(*p.Errors) != 1 {
				t.Fatalf("errors = %+v, want only %s", *p.Errors, c.field)
			}
		})
	}
}

// TestQueryParametersTakeOnlyWhatTheSpecSays (issue 16 item 13) walks every boolean and integer
// query parameter: a boolean is `true` or `false` (not 0, 1, t, TRUE), an integer plain digits
// (not +5). What the spec allows still gets through validation.
func TestQueryParametersTakeOnlyWhatTheSpecSays(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tn := newTenant(t, env, "query")
	admin := env.Admin(t)
	headers := map[string]string{"Authorization": "Bearer " + admin.AccessToken}

	checked := 0
	for _, w := range walkOperations(t, tn) {
		for _, param := range w.op.Parameters {
			pv := param.Value
			if pv.In != openapi3.ParameterInQuery {
				continue
			}
			var bad, good []string
			switch {
			case pv.Schema.Value.Type.Is(openapi3.TypeBoolean):
				bad, good = []string{"0", "1", "t", "f", "TRUE", "True", "FALSE"}, []string{"true", "false"}
			case pv.Schema.Value.Type.Is(openapi3.TypeInteger):
				bad, good = []string{"+5", " 5", "5 ", "0x5", "5_0"}, []string{"5"}
			default:
				continue
			}
			checked++
			var body []byte
			if w.op.RequestBody != nil {
				body = exampleBody(t, w.op)
			}
			for _, v := range bad {
				t.Run(fmt.Sprintf("%s %s %s=%q", w.method, w.path, pv.Name, v), func(t *testing.T) {
					status, p := send(t, env, w.method, w.target+"?"+url.QueryEscape(pv.Name)+"="+url.QueryEscape(v), body, headers)
					assertFieldProblem(t, status, p, "query."+pv.Name)
				})
			}
			for _, v := range good {
				t.Run(fmt.Sprintf("%s %s %s=%q", w.method, w.path, pv.Name, v), func(t *testing.T) {
					status, p := send(t, env, w.method, w.target+"?"+url.QueryEscape(pv.Name)+"="+url.QueryEscape(v), body, headers)
					if status == http.StatusBadRequest && p.Errors != nil {
						for _, e := range *p.Errors {
							if e.Field == "query."+pv.Name {
								t.Fatalf("%s=%s refused: %+v", pv.Name, v, e)
							}
						}
					}
				})
			}
		}
	}
	if checked < 12 {
		t.Fatalf("only %d parameters checked: the walk missed the spec", checked)
	}
}

// schemaPatterns lists every schema in the spec that has a pattern, by where it is.
func schemaPatterns(doc *openapi3.T) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Pattern != "" {
			out[where] = s
		}
		for name, p := range s.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Items)
		walk(where+"{}", s.AdditionalProperties.Schema)
		for _, group := range [][]openapi3.SchemaRefs{{s.AllOf}, {s.AnyOf}, {s.OneOf}} {
			for _, refs := range group {
				for i, sub := range refs {
					walk(fmt.Sprintf("%s/%d", where, i), sub)
				}
			}
		}
		walk(where+"!", s.Not)
	}
	for name, s := range doc.Components.Schemas {
		walk("#/components/schemas/"+name, s)
	}
	for name, p := range doc.Components.Parameters {
		walk("#/components/parameters/"+name, p.Value.Schema)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...) {
				walk(method+" "+path+" "+p.Value.Name, p.Value.Schema)
			}
			if op.RequestBody != nil {
				for mt, media := range op.RequestBody.Value.Content {
					walk(method+" "+path+" body "+mt, media.Schema)
				}
			}
		}
	}
	return out
}

// TestPatternsAreWorded (issue 16 item 20) walks openapi.yaml: every pattern carries an
// `x-pattern-message`, the rule in words, and a value that breaks a pattern gets those words,
// never the regular expression.
func TestPatternsAreWorded(t *testing.T) {
	t.Parallel()
	patterns := schemaPatterns(servertest.Doc(t))
	if len(patterns) < 6 {
		t.Fatalf("only %d patterns found: the walk missed the spec", len(patterns))
	}
	for where, s := range patterns {
		t.Run(where, func(t *testing.T) {
			msg, _ := s.Extensions["x-pattern-message"].(string)
			if msg == "" {
				t.Fatalf("pattern %s has no x-pattern-message", s.Pattern)
			}
			if strings.ContainsAny(msg, "^$\\") {
				t.Fatalf("x-pattern-message %q reads like a regular expression", msg)
			}
		})
	}

	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("worded"))
	brand := owner.User.BrandId.String()
	bearer := map[string]string{"Authorization": "Bearer " + owner.AccessToken}
	for _, c := range []struct{ name, method, path, body, field, message string }{
		{"sku", http.MethodPost, "/brands/" + brand + "/products", `{"sku":"bad sku","name":"x","priceAmount":1}`, "sku", "must be 1-64 characters: A-Z, a-z, 0-9, ., _ or -"},
		{"bulk sku", http.MethodPost, "/brands/" + brand + "/products/bulk", `{"items":[{"sku":"bad sku","name":"x","priceAmount":1}]}`, "items[0].sku", "must be 1-64 characters: A-Z, a-z, 0-9, ., _ or -"},
		{"location code", http.MethodPost, "/brands/" + brand + "/locations", `{"code":"bad code","name":"x"}`, "code", "must be 1-32 characters: A-Z, 0-9, _ or -"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, p := send(t, env, c.method, c.path, []byte(c.body), bearer)
			assertFieldProblem(t, status, p, c.field)
			for _, e := range *p.Errors {
				if e.Field == c.field && e.Message != c.message {
					t.Fatalf("message %q, want %q", e.Message, c.message)
				}
			}
		})
	}
}

var _ = api.ProblemCodeValidationFailed
