// Package kit is what the server's domain packages share underneath their handlers: their
// dependencies, the transaction helpers, database-error translation, the caller, audit writing and
// the Gate that bounds each brand's share of the pool. It holds no business rule of its own, and
// nothing of HTTP: answers are server/respond's, lists server/paging's, problems server/problem's.
package kit

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/paging"
)

// Deps are the dependencies every domain's handlers run on.
type Deps struct {
	Log  *slog.Logger
	Pool *pgxpool.Pool
	// DirectPool connects to PostgreSQL itself, never through a transaction pooler, for work that
	// keeps session state: river's LISTEN (server/webhooks, server/natspush). It is Pool when no
	// pooler stands between (DATABASE_DIRECT_URL).
	DirectPool *pgxpool.Pool
	Queries    *db.Queries
	// Now is the clock, cut to the database's precision; tests move it instead of sleeping.
	Now     func() time.Time
	Cursors paging.Cursors
	// TxAttempts is how many times a transaction that lost a deadlock or a serialization conflict
	// runs in all (DB_TX_ATTEMPTS); below 1 counts as 1.
	TxAttempts int
	// Gate bounds how many connections one brand's work may hold at once (nil: no bound).
	Gate Gate
	// CommitTimeout bounds each COMMIT, apart from the request's deadline, which never cancels
	// one in flight (DB_COMMIT_TIMEOUT; zero means DefaultCommitTimeout). See Commit.
	CommitTimeout time.Duration
}

// Gate bounds how much of the pool one brand's work holds at once, so that one tenant cannot
// starve the others (BRAND_POOL_SHARE).
type Gate interface {
	// Acquire waits for one of brand's slots (bounded by ctx and the gate's own wait) and returns
	// its release.
	Acquire(ctx context.Context, brand uuid.UUID) (release func(), err error)
}
