package kit

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultCommitTimeout bounds a COMMIT when Deps.CommitTimeout is zero (DB_COMMIT_TIMEOUT).
const DefaultCommitTimeout = 10 * time.Second

// OutcomeUnknownError is a COMMIT that was sent but whose answer never came: the connection
// died, or the commit's own bound (DB_COMMIT_TIMEOUT) passed. The database may have committed
// or not, and nobody can tell from this connection. A keyed request learns it from the database
// once it answers again (idempotency.Store's settle); any other is answered neither as done nor
// as "nothing was written" but as 503 outcome_unknown: the client retries with an
// Idempotency-Key or reads the resource back. It must never be retried blindly by the server
// (Deps.Retry does not: it is no contention).
type OutcomeUnknownError struct{ Err error }

func (e *OutcomeUnknownError) Error() string { return "commit outcome unknown: " + e.Err.Error() }

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Commit commits tx. The request's deadline must not cancel a COMMIT in flight: pgx would cut
// the connection with the COMMIT possibly applied, and the request would answer 503 ("nothing was
// written") for a change that was made. So the COMMIT runs on a context of its own, which keeps
// ctx's values but not its cancellation, bounded by d.CommitTimeout instead.
//
// A COMMIT the database answered (committed, or refused and rolled back) or one that was never
// sent has a known outcome and is returned as it is; any other failure is *OutcomeUnknownError.
func (d *Deps) Commit(ctx context.Context, tx pgx.Tx) error {
	return d.committing(ctx, tx.Commit)
}

// committing runs commit, which sends a COMMIT, on the context and with the outcome that Commit
// describes.
func (d *Deps) committing(ctx context.Context, commit func(context.Context) error) error {
	bound := d.CommitTimeout
	if bound <= 0 {
		bound = DefaultCommitTimeout
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	err := commit(cctx)
	if err == nil || commitKnown(err) {
		return err
	}
	return &OutcomeUnknownError{Err: err}
}

// BeginFunc runs fn in a transaction of its own on the pool, like pgx.BeginFunc, and commits it
// with Commit: rolled back when fn fails, and a COMMIT in flight is never cut by ctx.
func (d *Deps) BeginFunc(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx) // a rollback that fails leaves the connection broken: the pool drops it
		return err
	}
	return d.Commit(ctx, tx)
}
