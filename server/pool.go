package server

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/ecompointer/ecompointer/server/observe"
)

// NewPool connects the pool requests run on. Every connection runs as the application role (set
// at connect time, so no statement runs before it), which row-level security applies to whatever
// DATABASE_URL logs in as. UUIDs travel in PostgreSQL's binary form rather than through
// google/uuid's text Valuer (a tenth of the CPU of an authenticated request went there).
//
// Without pool_max_conns in the URL, the pool holds 4 connections per CPU: a request holds one
// for a round trip or a short transaction, and on a small machine more backends than that only
// contend with each other and with the server for the same cores.
func NewPool(ctx context.Context, databaseURL, appRole string, opts ...PoolOption) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.RuntimeParams["role"] = appRole
	for _, opt := range opts {
		opt(cfg)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = int32(4 * runtime.GOMAXPROCS(0)) //nolint:gosec // a small number
	}
	cfg.ConnConfig.Tracer = observe.QueryTracer() // spans per statement, only inside a traced request
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// PoolOption adjusts the pool NewPool connects.
type PoolOption func(*pgxpool.Config)

// WithTimeouts bounds every statement the pool's connections run (statement_timeout) and every
// wait for a lock (lock_timeout), set at connect time like the role. The database itself enforces
// them, so a statement past its bound fails cleanly (57014, 55P03) and its connection stays
// usable, unlike a query cut off by a context deadline, which costs the connection. A zero leaves
// the server's setting.
func WithTimeouts(statement, lock time.Duration) PoolOption {
	return func(cfg *pgxpool.Config) {
		if statement > 0 {
			cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(statement.Milliseconds(), 1), 10)
		}
		if lock > 0 {
			cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(max(lock.Milliseconds(), 1), 10)
		}
	}
}

// WithNATSPublish marks the pool's connections so that queries/events.sql's EventInsert also
// enqueues each event's publication to NATS (EVENTS_NATS_URL; server/natspush works the jobs).
func WithNATSPublish() PoolOption {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["ecompointer.nats_publish"] = "on"
	}
}
