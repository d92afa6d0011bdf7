package server

import (
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Drain makes /readyz answer 503 from now on, so that a load balancer stops routing new requests
// here while the requests already in flight finish. The process calls it on SIGTERM, waits the
// drain delay (long enough for the balancer's health checks to notice), then shuts down.
func (h *Handler) Drain() { h.s.ready.draining.Store(true) }

// errDraining is /readyz while draining: the instance works, but is about to stop.
var errDraining = &problem.Error{Code: api.ProblemCodeServiceUnavailable, Detail: "This instance is shutting down.", RetryAfter: readyRetryAfter}
