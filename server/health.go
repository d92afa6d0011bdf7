package server

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/buildinfo"
	"github.com/ecompointer/ecompointer/server/problem"
)

// GetHealthz answers while the process serves HTTP; it deliberately touches nothing else, so an
// orchestrator does not restart the process because a dependency is down. It names the running
// build, so an operator sees which instances a rolling upgrade has reached.
func (s *Server) GetHealthz(context.Context, api.GetHealthzRequestObject) (api.GetHealthzResponseObject, error) {
	version := buildinfo.Get().Version
	return api.GetHealthz200JSONResponse{Status: api.Ok, Version: &version}, nil
}

// readyRetryAfter is how long a load balancer should wait before asking again.
const readyRetryAfter = 5 * time.Second

// readyTimeout bounds one readiness check, connecting included.
const readyTimeout = 2 * time.Second

// GetReadyz answers 200 when the database answers a ping within readyTimeout.
func (s *Server) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	if s.ready.draining.Load() {
		return nil, errDraining
	}
	if err := s.ready.check(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: database ping failed", "request_id", problem.RequestFrom(ctx).ID, "error", err)
		return nil, &problem.Error{Code: api.ProblemCodeServiceUnavailable, Detail: "The database is not reachable.", RetryAfter: readyRetryAfter}
	}
	return api.GetReadyz200JSONResponse{Status: api.Ok}, nil
}

// readiness pings the database on a connection of its own, never one of the request pool's: with
// the pool saturated by slow requests, a probe waiting in its queue would time out and a load
// balancer would drain an instance that is merely busy (and, every instance being busy, all of
// them). One connection, one probe at a time: a flood of probes cannot open connections.
type readiness struct {
	config  *pgx.ConnConfig
	timeout time.Duration
	slot    chan struct{} // held while the connection is in use

	conn   *pgx.Conn // nil until the first probe, and after a failure (the next one reconnects)
	closed bool
	// draining is set when the process is about to stop (Handler.Drain): /readyz answers 503.
	draining atomic.Bool
}

func newReadiness(config *pgx.ConnConfig, timeout time.Duration) *readiness {
	return &readiness{config: config, timeout: timeout, slot: make(chan struct{}, 1)}
}

// check pings the database within the timeout, connecting first when needed.
func (r *readiness) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	select {
	case r.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.slot }()
	if r.closed {
		return errors.New("readiness: closed")
	}
	if r.conn == nil || r.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, r.config.Copy())
		if err != nil {
			return err
		}
		r.conn = conn
	}
	if err := r.conn.Ping(ctx); err != nil {
		// The connection may be broken half-way through a message: never reuse it.
		closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Second)
		defer cancelClose()
		_ = r.conn.Close(closeCtx)
		r.conn = nil
		return err
	}
	return nil
}

// close ends the connection; later checks fail.
func (r *readiness) close() error {
	r.slot <- struct{}{}
	defer func() { <-r.slot }()
	r.closed = true
	if r.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.conn.Close(ctx)
	r.conn = nil
	return err
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
