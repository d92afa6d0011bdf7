// Package kit is what the server's domain packages share: their dependencies, the transaction
// helpers, the caller, audit writing, database-error translation, problem responses, list paging
// and ETags. It holds no business rule of its own.
package kit

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
)

// Deps are the dependencies every domain's handlers run on.
type Deps struct {
	Log     *slog.Logger
	Pool    *pgxpool.Pool
	Queries *db.Queries
	// Now is the clock, cut to the database's precision; tests move it instead of sleeping.
	Now     func() time.Time
	Cursors Cursors
}
