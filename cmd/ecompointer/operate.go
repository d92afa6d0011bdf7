package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/observe"
)

// startMetrics serves the Prometheus metrics on their own listener at addr (off when empty),
// never on the API's port: they describe the process to its operators, not to clients.
func startMetrics(addr string, pool *pgxpool.Pool, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	observe.SetPool(pool)
	observe.SetJobQueues(events.QueueDepths(db.New(pool)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", observe.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics serving", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close() }, nil
}

// startTracing exports spans over OTLP when the OpenTelemetry variables ask for it; otherwise
// tracing stays off. The returned function flushes what is left.
func startTracing(ctx context.Context, c config, log *slog.Logger) (func(), error) {
	shutdown, err := observe.SetupTracing(ctx, c.getenv)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry: %w", err)
	}
	if observe.TracingEnabled() {
		log.Info("tracing: exporting spans over OTLP")
	}
	return func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(flushCtx); err != nil {
			log.Warn("tracing: flushing spans failed", "error", err)
		}
	}, nil
}

// drain is the first step of a graceful stop: /readyz answers 503 at once, so a load balancer
// checking it stops sending new requests here, and responses close their connections, so it holds
// no idle keep-alive connection it could send one on. For delay the instance keeps serving what
// still arrives; then the caller shuts the server down, letting in-flight requests finish.
func drain(srv *http.Server, h *server.Handler, delay time.Duration, log *slog.Logger) {
	h.Drain()
	srv.SetKeepAlivesEnabled(false)
	if delay <= 0 {
		return
	}
	log.Info("draining: /readyz answers 503", "delay", delay.String())
	time.Sleep(delay)
}
