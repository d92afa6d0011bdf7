package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// send makes one raw request and reads its problem (zero for a 2xx/3xx).
func send(t *testing.T, env *servertest.Env, method, path string, body []byte, headers map[string]string) (int, api.Problem) {
	t.Helper()
	var reader *bytes.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	} else {
		reader = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, env.URL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 400 {
		_ = resp.Body.Close()
		return resp.StatusCode, api.Problem{}
	}
	return resp.StatusCode, servertest.ReadProblem(t, resp)
}

// TestDeepJSONIsRefusedOnEveryRoute is the nesting attack of issue 9 item 1: 3.2 million `[` to
// the 8 MiB bulk route (a stack overflow that killed the process) and 1 MiB of `[` to
// /auth/login (no token needed: a second of CPU and hundreds of MB each). Each is a quick 400
// malformed_json naming the limit, and the server still answers afterwards.
func TestDeepJSONIsRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("deep"))
	brand := owner.User.BrandId.String()
	bearer := map[string]string{"Authorization": "Bearer " + owner.AccessToken}

	cases := []struct {
		name, path string
		body       []byte
		headers    map[string]string
	}{
		{"3.2M [ to the bulk route", "/brands/" + brand + "/products/bulk", bytes.Repeat([]byte("["), 3_200_000), bearer},
		{"8 MiB of {\"a\": to the bulk route", "/brands/" + brand + "/products/bulk", bytes.Repeat([]byte(`{"a":`), 8<<20/5-1), bearer},
		{"1 MiB of [ to login", "/auth/login", bytes.Repeat([]byte("["), 1<<20-1), nil},
		{"33 levels inside a valid product", "/brands/" + brand + "/products",
			[]byte(`{"sku":"D-1","name":"Deep","priceAmount":1,"attributes":{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}}`), bearer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			status, p := send(t, env, http.MethodPost, c.path, c.body, c.headers)
			if status != http.StatusBadRequest || p.Code != api.ProblemCodeMalformedJson {
				t.Fatalf("got %d %s %v, want 400 malformed_json", status, p.Code, p.Detail)
			}
			if p.Detail == nil || !strings.Contains(*p.Detail, fmt.Sprintf("limit of %d levels", server.MaxJSONDepth)) {
				t.Errorf("detail %v does not name the nesting limit", p.Detail)
			}
			if d := time.Since(start); d > 15*time.Second { // a guard against the old crash or hang, not a speed claim
				t.Errorf("refusing took %v", d)
			}
		})
	}
	if p := env.Profile(t, owner.AccessToken); p.StatusCode() != http.StatusOK {
		t.Fatalf("the server is not answering after the attack: %d", p.StatusCode())
	}
	var n int
	if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil || n != 0 {
		t.Fatalf("products after the attack: %d (%v)", n, err)
	}
}

// badValues are the two kinds of text PostgreSQL cannot store, as they appear in a raw body and
// in a URL.
var badValues = []struct {
	name, json, query string
}{
	{"NUL", `"a\u0000b"`, "a%00b"},
	{"invalid UTF-8", "\"a\xffb\"", "a%ffb"},
}

// stringField is a string somewhere in a request body: where to put it in the example, and the
// field name the problem must give.
type stringField struct {
	path  []any // object keys (string) and array indexes (int)
	field string
}

// stringFields walks a request body schema for every place a string goes: properties, array
// items and the values of free-form maps, recursively.
func stringFields(s *openapi3.Schema, path []any, field string, out *[]stringField) {
	if s == nil {
		return
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		*out = append(*out, stringField{path: path, field: field})
	case s.Type.Is(openapi3.TypeArray) && s.Items != nil:
		stringFields(s.Items.Value, append(append([]any{}, path...), 0), field+"[0]", out)
	case s.Type.Is(openapi3.TypeObject):
		join := func(name string) string {
			if field == "" {
				return name
			}
			return field + "." + name
		}
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			stringFields(s.Properties[name].Value, append(append([]any{}, path...), name), join(name), out)
		}
		if ap := s.AdditionalProperties.Schema; ap != nil {
			stringFields(ap.Value, append(append([]any{}, path...), "color"), join("color"), out)
		}
	}
}

// place sets the value at path inside v, creating objects and one-element arrays on the way.
func place(v any, path []any, value any) any {
	if len(path) == 0 {
		return value
	}
	switch key := path[0].(type) {
	case string:
		m, ok := v.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		m[key] = place(m[key], path[1:], value)
		return m
	default:
		a, ok := v.([]any)
		if !ok || len(a) == 0 {
			a = []any{nil}
		}
		a[0] = place(a[0], path[1:], value)
		return a
	}
}

// TestBadTextIsRefusedEverywhere walks openapi.yaml: every string field of every request body
// (nested ones and array items included) and every string query parameter, sent with a NUL and
// with invalid UTF-8, is a 400 problem naming that field, never a 5xx (they used to reach
// PostgreSQL and fail there with 22021/22P05, a 500). The caller is an ADMIN, who holds every
// permission, so each request gets as far as validation.
func TestBadTextIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tn := newTenant(t, env, "text")
	admin := env.Admin(t)
	doc := servertest.Doc(t)

	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	checked := 0
	for _, path := range paths {
		item := doc.Paths.Value(path)
		methods := make([]string, 0)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := item.GetOperation(method)
			target := path
			for _, name := range []string{"brandId", "productId", "invitationId", "userId"} {
				target = strings.ReplaceAll(target, "{"+name+"}", tn.ids[name])
			}
			target = strings.ReplaceAll(target, "{sessionId}", uuid.NewString())
			headers := map[string]string{"Authorization": "Bearer " + admin.AccessToken}

			var example []byte
			var fields []stringField
			if op.RequestBody != nil && op.RequestBody.Value.Content.Get("application/json") != nil {
				example = exampleBody(t, op)
				stringFields(op.RequestBody.Value.Content.Get("application/json").Schema.Value, nil, "", &fields)
			}
			for _, f := range fields {
				for _, bad := range badValues {
					t.Run(fmt.Sprintf("%s %s body %s %s", method, path, f.field, bad.name), func(t *testing.T) {
						var v any
						if err := json.Unmarshal(example, &v); err != nil {
							t.Fatal(err)
						}
						body, err := json.Marshal(place(v, f.path, "\x01PLACEHOLDER\x01"))
						if err != nil {
							t.Fatal(err)
						}
						body = bytes.Replace(body, []byte(`"\u0001PLACEHOLDER\u0001"`), []byte(bad.json), 1)
						status, p := send(t, env, method, target, body, headers)
						assertFieldProblem(t, status, p, f.field)
					})
					checked++
				}
			}
			for _, param := range op.Parameters {
				pv := param.Value
				if pv.In != openapi3.ParameterInQuery || !pv.Schema.Value.Type.Is(openapi3.TypeString) {
					continue
				}
				for _, bad := range badValues {
					t.Run(fmt.Sprintf("%s %s query %s %s", method, path, pv.Name, bad.name), func(t *testing.T) {
						status, p := send(t, env, method, target+"?"+url.QueryEscape(pv.Name)+"="+bad.query, example, headers)
						assertFieldProblem(t, status, p, "query."+pv.Name)
					})
					checked++
				}
			}
		}
	}
	if checked < 60 {
		t.Fatalf("only %d fields and parameters checked: the walk missed the spec", checked)
	}
	// The admin's session is intact: nothing reached a handler that logs out.
	if p := env.Profile(t, admin.AccessToken); p.StatusCode() != http.StatusOK {
		t.Fatalf("admin profile after the walk = %d", p.StatusCode())
	}
}

func assertFieldProblem(t *testing.T, status int, p api.Problem, field string) {
	t.Helper()
	if status != http.StatusBadRequest || p.Code != api.ProblemCodeValidationFailed || p.Errors == nil {
		t.Fatalf("got %d %s %+v, want 400 validation_failed naming %s", status, p.Code, p.Errors, field)
	}
	for _, e := range *p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("errors %+v do not name %s", *p.Errors, field)
}

// TestUnstorableUserAgentIsSanitised: a User-Agent PostgreSQL cannot store (invalid UTF-8; Go's
// HTTP stack already refuses NUL and other control bytes in headers) is only recorded, so it is
// cleaned, never refused: logout answers 204 and revokes the token (it answered 500 and left the
// token valid), and a failed login is counted toward the lockout and audited (it was neither).
func TestUnstorableUserAgentIsSanitised(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("ua")
	user := env.Register(t, email)

	for _, c := range []struct{ name, ua, stored string }{
		{"only invalid UTF-8", "\xff", ""},
		{"invalid UTF-8 inside", "Mozilla\xff\xfe/5.0 (X11; \xc3)", "Mozilla/5.0 (X11; )"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := failedLogins(t, env, email)
			status, p := send(t, env, http.MethodPost, "/auth/login",
				[]byte(`{"email":"`+email+`","password":"not the password at all"}`), map[string]string{"User-Agent": c.ua})
			if status != http.StatusUnauthorized || p.Code != api.ProblemCodeInvalidCredentials {
				t.Fatalf("wrong password = %d %s, want 401 invalid_credentials", status, p.Code)
			}
			if got := failedLogins(t, env, email); got != before+1 {
				t.Errorf("failed logins = %d, want %d: the failure was not counted", got, before+1)
			}
			var stored *string
			err := env.Pool.QueryRow(ctx, `SELECT user_agent FROM audit_events WHERE type = 'login_failed' AND user_id = $1 ORDER BY id DESC LIMIT 1`,
				user.User.Id).Scan(&stored)
			if err != nil {
				t.Fatalf("no login_failed audit event: %v", err)
			}
			if got := ""; stored != nil {
				got = *stored
				if got != c.stored {
					t.Errorf("audited user agent = %q, want %q", got, c.stored)
				}
			} else if c.stored != "" {
				t.Errorf("audited user agent = NULL, want %q", c.stored)
			}

			// Logging in and out with it works, and the logout holds.
			session := env.Login(t, email, servertest.Password)
			status, p = send(t, env, http.MethodPost, "/auth/logout", nil,
				map[string]string{"Authorization": "Bearer " + session.AccessToken, "User-Agent": c.ua})
			if status != http.StatusNoContent {
				t.Fatalf("logout = %d %s, want 204", status, p.Code)
			}
			if got := env.Profile(t, session.AccessToken); got.StatusCode() != http.StatusUnauthorized || got.ApplicationproblemJSON401 == nil ||
				got.ApplicationproblemJSON401.Code != api.ProblemCodeTokenRevoked {
				t.Fatalf("profile after logout = %d %s, want 401 token_revoked", got.StatusCode(), got.Body)
			}
		})
	}
}

// failedLogins is the email's failures from every address together (the per-email throttle row,
// ip '*'; the test database holds one email's failures only).
func failedLogins(t *testing.T, env *servertest.Env, _ string) int {
	t.Helper()
	var n int
	if err := env.Pool.QueryRow(ctx, `SELECT coalesce(sum(failures), 0) FROM login_throttles WHERE ip = '*'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
