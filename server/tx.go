package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// inTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise (a
// business-rule refusal included, so a refused request never leaves a partial write).
//
// A transaction the database aborts as a serialization failure (40001) or a deadlock victim
// (40P01) is run again, from the start, up to DBConfig.TxAttempts times in all: the rollback
// undid everything, so another attempt is as good as the first. fn must therefore be safe to run
// more than once: it may write only through q and set variables it assigns afresh on every run
// (no appending to outer slices, no side effects outside the database). Every multi-row write
// shares this rule; a conflict that outlasts the attempts answers 503 write_conflict (see
// unavailable in dberr.go), never 500.
func (s *Server) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			return fn(s.queries.WithTx(tx))
		})
		if err == nil || !retryable(err) || attempt >= s.db.TxAttempts {
			return err
		}
		// A short, jittered pause so that the transactions that collided do not collide again
		// in lockstep.
		pause := time.Duration(attempt)*10*time.Millisecond + rand.N(10*time.Millisecond) //nolint:gosec // jitter, not a secret
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// retryable reports whether err aborted a transaction that may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgCodeSerializationFailure || pgErr.Code == pgCodeDeadlockDetected)
}
