package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ecompointer/ecompointer/server/token"
)

// Layers are what New puts in front of the API's handlers, built by the same code, for a caller
// that puts a handler of its own under them: the load harness's baselines (server/baseline)
// measure what each layer costs. New itself does not use it.
type Layers struct {
	// Outer is what every request passes first: request id, access log, panic handler.
	Outer func(http.Handler) http.Handler
	// Contract is the contract middleware of every API route: the spec's routing, the token's
	// verification and the session lookup, permissions and request validation.
	Contract func(http.Handler) http.Handler
	// Tokens verifies access tokens as authentication does.
	Tokens *token.Tokens
	// Mount routes every operation of the spec to h on r, as New routes them to their handlers:
	// the contract reads the operation from chi's matched route, so it needs them routed.
	Mount func(r chi.Router, h http.Handler)
}

// NewLayers builds the Layers of a server configured by cfg.
func NewLayers(cfg Config) (Layers, error) {
	s, err := newServer(cfg)
	if err != nil {
		return Layers{}, err
	}
	return Layers{
		Outer: func(next http.Handler) http.Handler {
			return requestID(s.auth.TrustedProxies)(accessLog(s.log)(recoverer(s.log)(next)))
		},
		Contract: s.contract,
		Tokens:   s.tokens,
		Mount: func(r chi.Router, h http.Handler) {
			for key := range s.spec.ops.byRoute {
				r.Method(key.method, key.pattern, h)
			}
		},
	}, nil
}
