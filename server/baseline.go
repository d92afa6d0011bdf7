package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/ecompointer/ecompointer/gen/api"
)

// The modes of NewBaseline, each one layer more of what a real authenticated request costs.
const (
	// BaselineBare is the router and the outer middleware (request id, access log, panic
	// handler) answering a fixed body: what the framework costs.
	BaselineBare = "bare"
	// BaselineVerify adds the access token's verification (signature, claims), no database.
	BaselineVerify = "verify"
	// BaselineSession adds the whole contract middleware the API runs: the spec's routing, the
	// token's verification and the session lookup (one query), permissions and request
	// validation. Against it, GET /auth/profile differs only by its handler and response.
	BaselineSession = "session"
)

// BaselineModes lists the modes from the cheapest.
var BaselineModes = []string{BaselineBare, BaselineVerify, BaselineSession}

// baselineBody is what every baseline answers: a profile-sized user, so that the bytes on the
// wire match what GET /auth/profile sends.
var baselineBody = []byte(`{"id":"0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e","email":"bench-1@example.com","name":"Bench user 1","role":"BRAND_OWNER","brandId":"0192f0c4-7d2a-7cc1-9d6e-000000000001","disabled":false,"createdAt":"2026-11-25T10:00:00Z","updatedAt":"2026-11-25T10:00:00Z"}` + "\n")

// NewBaseline builds what the load harness (cmd/bench) measures the API against: the real
// router and middleware, built by the same code as New, answering a fixed body instead of
// running a handler (see the Baseline* modes). It serves every path and method.
func NewBaseline(cfg Config, mode string) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	fixed := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(baselineBody)))
		_, _ = w.Write(baselineBody)
	})
	r := chi.NewRouter()
	r.Use(requestID(s.auth.TrustedProxies), accessLog(s.log), recoverer(s.log))
	switch mode {
	case BaselineBare:
	case BaselineVerify:
		r.Use(s.verifyOnly)
	case BaselineSession:
		// The contract reads the operation from chi's matched route, as in New: the spec's
		// routes, each answering the fixed body, in a group so that chi routes before it runs.
		r.Group(func(r chi.Router) {
			r.Use(s.contract)
			for key := range s.spec.ops.byRoute {
				r.Method(key.method, key.pattern, fixed)
			}
			r.Handle("/*", fixed)
		})
		return r, nil
	default:
		return nil, fmt.Errorf("server: unknown baseline mode %q (one of %v)", mode, BaselineModes)
	}
	r.Handle("/*", fixed)
	return r, nil
}

// verifyOnly checks the bearer token's signature and claims the way authenticate does, and
// stops there: the session is not looked up.
func (s *Server) verifyOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeUnauthorized(w, r, api.ProblemCodeUnauthenticated, "This operation needs an access token.")
			return
		}
		if _, err := s.tokens.VerifyAccess(raw); err != nil {
			writeUnauthorized(w, r, api.ProblemCodeInvalidToken, "The access token is not valid.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
