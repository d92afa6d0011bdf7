package server

import (
	"context"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Drain makes /readyz answer 503 from now on, so that a load balancer stops routing new requests
// here while the requests already in flight finish. The process calls it on SIGTERM, waits the
// drain delay (long enough for the balancer's health checks to notice), then shuts down.
func (h *Handler) Drain() { h.s.ready.draining.Store(true) }

// drainingAnswer is /readyz while draining: the instance works, but is about to stop.
func drainingAnswer(ctx context.Context) api.GetReadyzResponseObject {
	retry := readyRetryAfter
	return api.GetReadyz503ApplicationProblemPlusJSONResponse{ServiceUnavailableApplicationProblemPlusJSONResponse: api.ServiceUnavailableApplicationProblemPlusJSONResponse{
		Body:    problem.New(ctx, api.ProblemCodeServiceUnavailable, "This instance is shutting down."),
		Headers: api.ServiceUnavailableResponseHeaders{RetryAfter: &retry},
	}}
}
