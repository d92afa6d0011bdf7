package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/observe"
)

// NewPool connects the pool requests run on. Every connection runs as the application role (set
// at connect time, so no statement runs before it), which row-level security applies to whatever
// DATABASE_URL logs in as. UUIDs travel in PostgreSQL's binary form rather than through
// google/uuid's text Valuer (a tenth of the CPU of an authenticated request went there).
//
// Without pool_max_conns in the URL, the pool holds DefaultPoolSize connections.
func NewPool(ctx context.Context, databaseURL, appRole string, opts ...PoolOption) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.RuntimeParams["role"] = appRole
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = int32(DefaultPoolSize()) //nolint:gosec // a small number
	}
	for _, opt := range opts {
		opt(cfg)
	}
	cfg.ConnConfig.Tracer = observe.QueryTracer() // spans per statement, only inside a traced request
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		registerTypes(conn.TypeMap())
		// The enums' OIDs are the database's own: one plain SELECT per connection, which a
		// transaction pooler carries like any other.
		enums, err := db.New(conn).EnumTypes(ctx)
		if err != nil {
			return fmt.Errorf("list the enum types: %w", err)
		}
		registerEnums(conn.TypeMap(), enums)
		return nil
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// PoolOption adjusts the pool NewPool connects.
type PoolOption func(*pgxpool.Config)

// DefaultPoolSize is the request pool's size unless DATABASE_URL's pool_max_conns says otherwise:
// 8 connections per CPU. A request holds one for a round trip or a short transaction. At 4 per
// CPU a query of a millisecond (the rare search) kept too few in PostgreSQL at once: the server
// idled between answers, and its threads' sleeps and wake-ups (ten a search, against five at 8
// per CPU) cost it more CPU than the answer did. At 8 per CPU the rare search was 3-8% faster in
// paired runs, the list and product get within 3% either way; at 16 per CPU the searches gained
// another 6% but product get lost 7% to PostgreSQL's contention among more backends (bench/README,
// "The rare search's wake-ups and the request pool's size"). The brand share (BRAND_POOL_SHARE)
// is half of it.
func DefaultPoolSize() int { return 8 * runtime.GOMAXPROCS(0) }

// DefaultJobsPoolSize is the size of the background work's own pool (NewJobsPool) unless
// DATABASE_JOBS_POOL_SIZE says otherwise: 2 connections per CPU, at least 4.
func DefaultJobsPoolSize() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// WithMaxConns sizes the pool at n connections, whatever pool_max_conns the URL carries (n < 1
// leaves the size as it is).
func WithMaxConns(n int) PoolOption {
	return func(cfg *pgxpool.Config) {
		if n > 0 {
			cfg.MaxConns = int32(min(n, 1<<20)) //nolint:gosec // bounded above
		}
	}
}

// NewJobsPool connects the background work's own pool (Config.JobsPool): the job queue's river
// client and its workers (webhook fan-out and delivery, NATS publication). It reaches PostgreSQL
// directly (DATABASE_DIRECT_URL: river LISTENs, which a transaction pooler cannot carry), runs as
// the application role like the request pool, and holds size connections (0:
// DefaultJobsPoolSize), so that requests and background work never wait for each other's
// connections: an order flood cannot hold webhook deliveries back, nor a backlog of deliveries
// take the connections requests need.
func NewJobsPool(ctx context.Context, directURL, appRole string, size int, opts ...PoolOption) (*pgxpool.Pool, error) {
	if size < 1 {
		size = DefaultJobsPoolSize()
	}
	return NewPool(ctx, directURL, appRole, append(opts, WithMaxConns(size))...)
}

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

// WithTransactionPooler makes the pool work through a pooler in transaction mode (PgBouncer 1.18:
// no protocol-level prepared statements, no start-up parameters beyond a few). Statements run in
// exec mode instead of pgx's per-connection prepared-statement cache (a statement prepared on one
// server connection is unknown on the next), and the session settings the other options pass at
// connect time are dropped: behind a pooler they are the pooler login's role defaults
// (`ALTER ROLE … SET role = …`, README "Operating behind PgBouncer"), which the server checks at
// start-up (CheckSessionSettings). Pass it after every other option.
func WithTransactionPooler(mode pgx.QueryExecMode) PoolOption {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.DefaultQueryExecMode = mode
		for _, p := range []string{"role", "statement_timeout", "lock_timeout", "ecompointer.nats_publish"} {
			delete(cfg.ConnConfig.RuntimeParams, p)
		}
	}
}

// CheckSessionSettings fails unless the pool's connections run as appRole (and with the NATS
// flag when natsPublish): row-level security and the events' publication depend on them, and
// behind a transaction pooler they come from the database, not from this process.
func CheckSessionSettings(ctx context.Context, pool *pgxpool.Pool, appRole string, natsPublish bool) error {
	s, err := db.New(pool).SessionSettings(ctx)
	if err != nil {
		return err
	}
	if s.RoleName != appRole {
		return fmt.Errorf("the pool's connections run as %q, not the application role %q: behind a pooler, "+
			"run `ALTER ROLE <pooler login> SET role = '%s'` (README: Operating behind PgBouncer)", s.RoleName, appRole, appRole)
	}
	if natsPublish && s.NatsPublish != "on" {
		return fmt.Errorf("EVENTS_NATS_URL is set but the pool's connections lack ecompointer.nats_publish: behind a pooler, " +
			"run `ALTER ROLE <pooler login> SET ecompointer.nats_publish = 'on'`")
	}
	return nil
}

// WithExecMode sets how pgx sends statements (DATABASE_EXEC_MODE) on a pool that reaches
// PostgreSQL directly.
func WithExecMode(mode pgx.QueryExecMode) PoolOption {
	return func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = mode }
}
