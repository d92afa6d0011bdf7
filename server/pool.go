package server

import (
	"context"
	"errors"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// NewPool connects the pool requests run on. Every connection runs as the application role (set
// at connect time, so no statement runs before it), which row-level security applies to whatever
// DATABASE_URL logs in as. UUIDs travel in PostgreSQL's binary form rather than through
// google/uuid's text Valuer (a tenth of the CPU of an authenticated request went there).
//
// Without pool_max_conns in the URL, the pool holds 4 connections per CPU: a request holds one
// for a round trip or a short transaction, and on a small machine more backends than that only
// contend with each other and with the server for the same cores.
func NewPool(ctx context.Context, databaseURL, appRole string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.RuntimeParams["role"] = appRole
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = int32(4 * runtime.GOMAXPROCS(0)) //nolint:gosec // a small number
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}
