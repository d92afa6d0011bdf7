package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/cors"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The methods and request headers browser code on an allowed origin may use: every method and
// request header the API reads.
var (
	corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete}
	corsHeaders = []string{"Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-Id"}
)

// corsSafelisted are the response headers browser code may read without being told
// (Fetch standard, "CORS-safelisted response-header name").
var corsSafelisted = []string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma"}

// corsPolicy is what CORS_ALLOWED_ORIGINS allows. A preflight it refuses gets a 403 problem that
// says why and which setting allows it, rather than a 405 or a bare 200 without the
// Access-Control headers (the browser's console then only says "blocked by CORS policy").
type corsPolicy struct {
	origins []string // lower case; "*" allows any, one "*" inside an entry a wildcard
	exposed []string
	allow   func(http.Handler) http.Handler // go-chi/cors; nil when no origin is allowed
}

func newCORS(origins []string, doc *openapi3.T) *corsPolicy {
	p := &corsPolicy{exposed: exposedHeaders(doc)}
	for _, o := range origins {
		if o = strings.ToLower(strings.TrimSpace(o)); o != "" {
			p.origins = append(p.origins, o)
		}
	}
	if len(p.origins) > 0 {
		p.allow = cors.Handler(cors.Options{
			AllowOriginFunc: func(_ *http.Request, origin string) bool { return p.allowsOrigin(origin) },
			AllowedMethods:  corsMethods,
			AllowedHeaders:  corsHeaders,
			ExposedHeaders:  p.exposed,
			MaxAge:          600,
			// The allowed preflight is answered below, with a 204 rather than go-chi/cors's 200.
			OptionsPassthrough: true,
		})
	}
	return p
}

// exposedHeaders lists every response header openapi.yaml declares that browser code could not
// read by default (ETag, Location, Retry-After, Idempotent-Replayed, WWW-Authenticate, ...), and
// X-Request-Id, which every answer carries: derived from the spec, a header added there is
// exposed without anyone remembering to.
func exposedHeaders(doc *openapi3.T) []string {
	// Keyed case-insensitively, spelled as the spec spells them (ETag, not Go's Etag).
	names := map[string]string{"x-request-id": "X-Request-Id"}
	for _, name := range corsSafelisted {
		names[strings.ToLower(name)] = ""
	}
	add := func(rs openapi3.ResponseBodies) {
		for _, ref := range rs {
			if ref == nil || ref.Value == nil {
				continue
			}
			for name := range ref.Value.Headers {
				if _, seen := names[strings.ToLower(name)]; !seen {
					names[strings.ToLower(name)] = name
				}
			}
		}
	}
	if doc.Components != nil {
		add(doc.Components.Responses)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses != nil {
				for _, ref := range op.Responses.Map() {
					add(openapi3.ResponseBodies{"": ref})
				}
			}
		}
	}
	var out []string
	for _, name := range names {
		if name != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (p *corsPolicy) allowsOrigin(origin string) bool {
	origin = strings.ToLower(origin)
	for _, o := range p.origins {
		if o == "*" || o == origin {
			return true
		}
		if prefix, suffix, ok := strings.Cut(o, "*"); ok &&
			len(origin) > len(prefix)+len(suffix) && strings.HasPrefix(origin, prefix) && strings.HasSuffix(origin, suffix) {
			return true
		}
	}
	return false
}

// refusal says why a preflight is refused, "" when it is allowed.
func (p *corsPolicy) refusal(r *http.Request) string {
	origin := r.Header.Get("Origin")
	switch {
	case len(p.origins) == 0:
		return "Browser code on " + origin + " may not call this API: no origin is allowed. " +
			"The server's CORS_ALLOWED_ORIGINS setting (comma-separated origins) allows the ones it lists."
	case !p.allowsOrigin(origin):
		return "Browser code on " + origin + " may not call this API: the origin is not in the server's " +
			"CORS_ALLOWED_ORIGINS setting, which lists the origins allowed."
	}
	method := strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))
	if !slices.Contains(corsMethods, method) {
		return "The method " + method + " is not allowed cross-origin; the API's methods are " + strings.Join(corsMethods, ", ") + "."
	}
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		h = http.CanonicalHeaderKey(strings.TrimSpace(h))
		if h != "" && !slices.Contains(corsHeaders, h) {
			return "The request header " + h + " is not allowed cross-origin; the API reads " + strings.Join(corsHeaders, ", ") + "."
		}
	}
	return ""
}

// middleware answers CORS: a refused preflight with a 403 `cors_not_allowed` problem, an allowed
// one (and the responses to allowed origins) through go-chi/cors.
func (p *corsPolicy) middleware(next http.Handler) http.Handler {
	inner := next
	var granted http.Handler
	if p.allow != nil {
		inner = p.allow(next)
		// A preflight has no content (RFC 9110 §15.3.5): 204.
		granted = p.allow(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if detail := p.refusal(r); detail != "" {
				h := w.Header()
				h.Add("Vary", "Origin")
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				problem.WriteCode(w, r, api.ProblemCodeCorsNotAllowed, detail)
				return
			}
			granted.ServeHTTP(w, r) // refusal is "" only when some origin is allowed
			return
		}
		inner.ServeHTTP(w, r)
	})
}
