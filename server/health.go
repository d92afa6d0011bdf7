package server

import (
	"bytes"
	"context"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// GetHealthz answers while the process serves HTTP; it deliberately touches nothing else, so an
// orchestrator does not restart the process because a dependency is down.
func (s *Server) GetHealthz(context.Context, api.GetHealthzRequestObject) (api.GetHealthzResponseObject, error) {
	return api.GetHealthz200JSONResponse{Status: api.Ok}, nil
}

// readyRetryAfter is how long a load balancer should wait before asking again.
const readyRetryAfter = 5

// GetReadyz answers 200 when the database answers a ping within two seconds.
func (s *Server) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(pingCtx); err != nil {
		s.log.WarnContext(ctx, "readiness: database ping failed", "request_id", problem.RequestFrom(ctx).ID, "error", err)
		retry := readyRetryAfter
		return api.GetReadyz503ApplicationProblemPlusJSONResponse{ServiceUnavailableApplicationProblemPlusJSONResponse: api.ServiceUnavailableApplicationProblemPlusJSONResponse{
			Body:    problem.New(ctx, api.ProblemCodeServiceUnavailable, "The database is not reachable."),
			Headers: api.ServiceUnavailableResponseHeaders{RetryAfter: &retry},
		}}, nil
	}
	return api.GetReadyz200JSONResponse{Status: api.Ok}, nil
}

// GetOpenAPIJSON serves the embedded document the server was generated from, as JSON.
func (s *Server) GetOpenAPIJSON(context.Context, api.GetOpenAPIJSONRequestObject) (api.GetOpenAPIJSONResponseObject, error) {
	return api.GetOpenAPIJSON200JSONResponse(s.specDoc), nil
}

// GetOpenAPIYAML serves openapi.yaml byte for byte.
func (s *Server) GetOpenAPIYAML(context.Context, api.GetOpenAPIYAMLRequestObject) (api.GetOpenAPIYAMLResponseObject, error) {
	return api.GetOpenAPIYAML200ApplicationyamlResponse{
		Body:          bytes.NewReader(openAPIYAML),
		ContentLength: int64(len(openAPIYAML)),
	}, nil
}
