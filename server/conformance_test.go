package server_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// specPaths lists the spec's paths with their parameters filled in (the brand and user of owner,
// fresh ids elsewhere: a 404 is as good an answer to compare as a 200), and each path's methods.
func specPaths(t *testing.T, owner api.AuthResponse) map[string][]string {
	t.Helper()
	doc := servertest.Doc(t)
	out := map[string][]string{}
	for path, item := range doc.Paths.Map() {
		concrete := strings.NewReplacer(
			"{brandId}", owner.User.BrandId.String(),
			"{userId}", owner.User.Id.String(),
		).Replace(path)
		for strings.Contains(concrete, "{") {
			i, j := strings.Index(concrete, "{"), strings.Index(concrete, "}")
			concrete = concrete[:i] + uuid.NewString() + concrete[j+1:]
		}
		for method := range item.Operations() {
			out[concrete] = append(out[concrete], method)
		}
	}
	return out
}

// sendNoBody makes one raw request without a body and reads the whole answer.
func sendNoBody(t *testing.T, env *servertest.Env, method, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestHeadAnswersLikeGet: RFC 9110 §9.3.2, HEAD is GET without the content: the same status and
// header fields, no body. Every GET of the spec, with and without credentials.
func TestHeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("head"))
	admin := env.Admin(t)
	for path, methods := range specPaths(t, owner) {
		if !slices.Contains(methods, http.MethodGet) {
			continue
		}
		for who, token := range map[string]string{"admin": admin.AccessToken, "anonymous": ""} {
			t.Run(who+" "+path, func(t *testing.T) {
				get, getBody := sendNoBody(t, env, http.MethodGet, path, token)
				head, headBody := sendNoBody(t, env, http.MethodHead, path, token)
				if head.StatusCode != get.StatusCode {
					t.Fatalf("HEAD %s = %d, GET = %d", path, head.StatusCode, get.StatusCode)
				}
				if len(headBody) != 0 {
					t.Errorf("HEAD %s has a body of %d bytes", path, len(headBody))
				}
				for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "WWW-Authenticate", "Retry-After"} {
					if g, hd := get.Header.Get(h), head.Header.Get(h); g != hd {
						t.Errorf("%s: GET %q, HEAD %q", h, g, hd)
					}
				}
				if cl := head.Header.Get("Content-Length"); cl != "" && len(getBody) > 0 && cl != strconv.Itoa(len(getBody)) {
					t.Errorf("HEAD Content-Length %s, GET body %d bytes", cl, len(getBody))
				}
			})
		}
	}
	t.Run("api-docs", func(t *testing.T) {
		for _, path := range []string{"/api-docs", "/api-docs/"} {
			head, body := sendNoBody(t, env, http.MethodHead, path, "")
			if head.StatusCode != http.StatusOK || len(body) != 0 || !strings.HasPrefix(head.Header.Get("Content-Type"), "text/html") {
				t.Errorf("HEAD %s = %d %q with %d bytes", path, head.StatusCode, head.Header.Get("Content-Type"), len(body))
			}
		}
	})
}

// TestMethodNotAllowedListsAllow: RFC 9110 §15.5.6, a 405 carries Allow with the methods the
// resource supports: exactly the spec's operations of the path, plus HEAD where GET exists.
func TestMethodNotAllowedListsAllow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("allow"))
	paths := specPaths(t, owner)
	paths["/api-docs/"] = []string{http.MethodGet}
	for path, methods := range paths {
		want := slices.Clone(methods)
		if slices.Contains(want, http.MethodGet) {
			want = append(want, http.MethodHead)
		}
		slices.Sort(want)
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if slices.Contains(want, method) {
				continue
			}
			t.Run(method+" "+path, func(t *testing.T) {
				resp, _ := sendNoBody(t, env, method, path, owner.AccessToken)
				if got, wantStatus := resp.StatusCode, http.StatusMethodNotAllowed; got != wantStatus {
					t.Fatalf("%s %s = %d, want %d", method, path, got, wantStatus)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q", ct)
				}
				var allow []string
				for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
					if m = strings.TrimSpace(m); m != "" {
						allow = append(allow, m)
					}
				}
				slices.Sort(allow)
				if !slices.Equal(allow, want) {
					t.Errorf("Allow = %q, want %v", resp.Header.Get("Allow"), want)
				}
			})
		}
	}
	t.Run("problem", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, env.URL+"/auth/login", nil)
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := servertest.ReadProblem(t, resp)
		if p.Code != api.ProblemCodeMethodNotAllowed || p.Status != http.StatusMethodNotAllowed || p.RequestId == "" {
			t.Errorf("problem = %+v", p)
		}
		if got := resp.Header.Get("Allow"); got != "POST" {
			t.Errorf("Allow = %q, want POST", got)
		}
	})
}

// TestAPIDocsIsDescribed: /api-docs is an operation of the spec, so a client that validates
// every answer against it (env.HTTP does) accepts the page.
func TestAPIDocsIsDescribed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	op := servertest.Doc(t).Paths.Find("/api-docs")
	if op == nil || op.Get == nil || op.Get.OperationID != "getAPIDocs" || op.Get.Security == nil || len(*op.Get.Security) != 0 {
		t.Fatalf("/api-docs is not described as a public GET: %+v", op)
	}
	if op.Get.Responses.Status(http.StatusOK).Value.Content.Get("text/html") == nil {
		t.Error("/api-docs 200 is not described as text/html")
	}
	for _, path := range []string{"/api-docs", "/api-docs/"} {
		resp, body := sendNoBody(t, env, http.MethodGet, path, "")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(body), "swagger") || !strings.Contains(string(body), "/openapi.yaml") {
			t.Errorf("GET %s is not the Swagger UI page of /openapi.yaml", path)
		}
	}
	t.Run("a file the page does not have is a problem", func(t *testing.T) {
		resp, body := sendNoBody(t, env, http.MethodGet, "/api-docs/no-such-file.js", "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), `"code":"not_found"`) {
			t.Errorf("GET /api-docs/no-such-file.js = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
}
