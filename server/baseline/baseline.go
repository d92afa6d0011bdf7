// Package baseline is what the load harness (cmd/bench) and the middleware benchmarks measure the
// API against: the real router and middleware, built by the server's own code (server.Layers),
// answering a fixed body instead of running a handler. It is no part of the server: only the
// harness and the benchmarks import it.
package baseline

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The modes of New, each one layer more of what a real authenticated request costs.
const (
	// Bare is the router and the outer middleware (request id, access log, panic handler)
	// answering a fixed body: what the framework costs.
	Bare = "bare"
	// Verify adds the access token's verification (signature, claims), no database.
	Verify = "verify"
	// Session adds the whole contract middleware the API runs: the spec's routing, the token's
	// verification and the session lookup (one query), permissions and request validation.
	// Against it, GET /auth/profile differs only by its handler and response.
	Session = "session"
)

// Modes lists the modes from the cheapest.
var Modes = []string{Bare, Verify, Session}

// body is what every baseline answers: a profile-sized user, so that the bytes on the wire match
// what GET /auth/profile sends.
var body = []byte(`{"id":"0192f0c4-7d2a-7cc1-9d6e-3b1a2f4c5d6e","email":"bench-1@example.com","name":"Bench user 1","role":"BRAND_OWNER","brandId":"0192f0c4-7d2a-7cc1-9d6e-000000000001","disabled":false,"createdAt":"2026-11-25T10:00:00Z","updatedAt":"2026-11-25T10:00:00Z"}` + "\n")

// New builds the baseline of mode for a server configured by cfg. It serves every path and
// method.
func New(cfg server.Config, mode string) (http.Handler, error) {
	layers, err := server.NewLayers(cfg)
	if err != nil {
		return nil, err
	}
	fixed := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	r := chi.NewRouter()
	r.Use(layers.Outer)
	switch mode {
	case Bare:
	case Verify:
		r.Use(verifyOnly(layers))
	case Session:
		// The contract reads the operation from chi's matched route, as in the server: the
		// spec's routes, each answering the fixed body, in a group so that chi routes first.
		r.Group(func(r chi.Router) {
			r.Use(layers.Contract)
			layers.Mount(r, fixed)
			r.Handle("/*", fixed)
		})
		return r, nil
	default:
		return nil, fmt.Errorf("baseline: unknown mode %q (one of %v)", mode, Modes)
	}
	r.Handle("/*", fixed)
	return r, nil
}

// verifyOnly checks the bearer token's signature and claims the way authentication does, and
// stops there: the session is not looked up.
func verifyOnly(layers server.Layers) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			raw = strings.TrimSpace(raw)
			if !strings.EqualFold(scheme, "Bearer") || raw == "" {
				problem.Answer(w, r, problem.Refuse(api.ProblemCodeUnauthenticated, "This operation needs an access token."))
				return
			}
			if _, err := layers.Tokens.VerifyAccess(raw); err != nil {
				problem.Answer(w, r, problem.Refuse(api.ProblemCodeInvalidToken, "The access token is not valid."))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
