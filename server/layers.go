package server

import (
	"net/http"

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
}

// NewLayers builds the Layers of a server configured by cfg.
func NewLayers(cfg Config) (Layers, error) {
	s, err := newServer(cfg)
	if err != nil {
		return Layers{}, err
	}
	return Layers{
		Outer: func(next http.Handler) http.Handler {
			return requestID(accessLog(s.log)(recoverer(s.log)(next)))
		},
		Contract: s.contract,
		Tokens:   s.tokens,
	}, nil
}
