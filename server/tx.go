package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
)

// inTx runs fn in one transaction (kit.Deps.InTx): committed when fn returns nil, rolled back
// otherwise, and run again on a serialization failure or a deadlock, up to DB_TX_ATTEMPTS runs.
// fn must therefore be safe to run more than once: it may write only through q and set variables
// it assigns afresh on every run. A conflict that outlasts the attempts answers 503
// write_conflict (see unavailable in dberr.go), never 500.
func (s *Server) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return s.deps.InTx(ctx, fn)
}

// inBrand runs fn in one transaction scoped to brandID (kit.InBrand): row-level security then
// shows and accepts only that brand's rows, and the brand holds one of its slots of the pool.
func (s *Server) inBrand(ctx context.Context, brandID uuid.UUID, fn func(q *db.Queries) error) error {
	_, err := kit.InBrand(ctx, s.deps, brandID, func(q *db.Queries) (struct{}, error) {
		return struct{}{}, fn(q)
	})
	return err
}

// readInBrand is inBrand for fn that runs exactly one statement, a read (kit.ReadInBrand): one
// round trip to the database in all.
func (s *Server) readInBrand(ctx context.Context, brandID uuid.UUID, fn func(q *db.Queries) error) error {
	_, err := kit.ReadInBrand(ctx, s.deps, brandID, func(q *db.Queries) (struct{}, error) {
		return struct{}{}, fn(q)
	})
	return err
}
