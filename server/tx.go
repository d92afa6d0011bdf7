package server

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
)

// inTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise (a
// business-rule refusal included, so a refused request never leaves a partial write).
func (s *Server) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(s.queries.WithTx(tx))
	})
}
