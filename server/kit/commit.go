package kit

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
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
// with Commit: rolled back when fn fails, and a COMMIT in flight is never cut by ctx. An Exec that
// fn marks with SendWithCommit is held and sent with the COMMIT, in one pipeline (heldTx).
func (d *Deps) BeginFunc(ctx context.Context, fn func(tx pgx.Tx) error) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside its transaction (a rollback that failed, a panic in fn) is closed
	// by the pool rather than reused, which rolls its transaction back.
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	t := &heldTx{Tx: tx, holder: &holder{}}
	if err := fn(t); err != nil {
		_ = tx.Rollback(ctx) // what is held was never sent
		return err
	}
	return d.commitHeld(ctx, conn.Conn(), tx, t.takeHeld(), func() { _ = tx.Rollback(ctx) })
}

// commitHeld commits tx on conn: with Commit when nothing is held, otherwise by sending the held
// statements and the COMMIT in one pipeline, bounded like any COMMIT (committing). The pipeline's
// context is the held statements' (heldContext), so that the query tracer sees what they carry
// (observe.WritingEvents) as it did when each ran alone. A statement that failed leaves the
// transaction open and aborted (the pipeline skipped the COMMIT): rollback ends it; a connection
// lost in between is closed, and the pool drops it.
func (d *Deps) commitHeld(ctx context.Context, conn *pgx.Conn, tx pgx.Tx, held []pending, rollback func()) error {
	if len(held) == 0 {
		return d.Commit(ctx, tx)
	}
	err := d.committing(heldContext(held), func(cctx context.Context) error {
		b := &pgx.Batch{}
		queue(b, held)
		_ = db.New(queuer{b}).TxCommit(cctx) // queuing cannot fail
		// The COMMIT cannot answer ROLLBACK here (pgx's Commit checks for it): a transaction
		// already aborted fails the statement before it, and the pipeline skips the COMMIT.
		return conn.SendBatch(cctx, b).Close()
	})
	if err != nil && conn.PgConn().TxStatus() != 'I' {
		rollback()
	}
	return err
}

// heldTx is BeginFunc's transaction, or a savepoint of it. An Exec marked with SendWithCommit is
// held (holder) and sent with the COMMIT; every other statement, and a savepoint, sends what is
// held first, so statements run in fn's order. A failure is the transaction's: BeginFunc returns
// it and nothing commits. A savepoint holds into its transaction's holder: what it held when it is
// rolled back to is dropped unsent (nothing held before it began is, since Begin sent that), and
// what it held when its work is done goes with its transaction's next round trip.
type heldTx struct {
	pgx.Tx // the transaction, or the savepoint
	*holder
}

func (t *heldTx) flush() error { return t.holder.flush(t.Tx) }

func (t *heldTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if held, err := t.hold(ctx, sql, args, t.flush); held {
		return pgconn.CommandTag{}, err
	}
	if err := t.flush(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.Tx.Exec(ctx, sql, args...)
}

func (t *heldTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	return t.Tx.Query(ctx, sql, args...)
}

func (t *heldTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.flush(); err != nil {
		return errRow{err}
	}
	return t.Tx.QueryRow(ctx, sql, args...)
}

// Begin starts a savepoint (InTx and InBrand inside WithTx), which holds as its transaction does.
func (t *heldTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	sp, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &heldTx{Tx: sp, holder: t.holder}, nil
}

// Commit sends what is held, then commits (a savepoint: releases it).
func (t *heldTx) Commit(ctx context.Context) error {
	if err := t.flush(); err != nil {
		return err
	}
	return t.Tx.Commit(ctx)
}

// Rollback drops what is held, unsent, and rolls back (a savepoint: to where it began).
func (t *heldTx) Rollback(ctx context.Context) error {
	t.held = nil
	return t.Tx.Rollback(ctx)
}

func (t *heldTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	return t.Tx.CopyFrom(ctx, table, columns, src)
}

func (t *heldTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.flush(); err != nil {
		return errBatch{err}
	}
	return t.Tx.SendBatch(ctx, b)
}

// errBatch is a batch that was not sent: each of its results is err.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) } // the same fields: staticcheck asks for the conversion
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
