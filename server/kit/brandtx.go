package kit

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// errSecondStatement is a programming error: ReadInBrand's fn ran more than one statement.
var errSecondStatement = errors.New("kit.ReadInBrand: fn ran a second statement (its transaction ends with the first; use InBrand)")

// inBrandTx runs fn in one transaction scoped to brand, on a connection of its own, run again on
// contention like InTx. Nothing reaches the database before fn's first statement, and that
// statement travels in one pipeline (pgx.Batch: one network round trip) with what begins and
// scopes the transaction (see brandTx). Row-level security therefore applies to every statement
// exactly as before: no statement of fn runs before the brand is set in its transaction.
//
// A read (ReadInBrand, ListInBrand) is one statement, read-only, committed by the same round
// trip; a list's is also planned for its own parameters.
func inBrandTx(ctx context.Context, d *Deps, brand uuid.UUID, mode scopeMode, fn func(tx db.DBTX) error) error {
	return d.Retry(ctx, func() error {
		conn, err := d.Pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// A connection left inside a transaction or in the middle of a batch (a panic in fn)
		// is closed by the pool rather than reused, which rolls its transaction back.
		defer conn.Release()
		t := &brandTx{conn: conn.Conn(), brand: brand.String(), readOnly: mode != scopeWrite, list: mode == scopeList}
		ended := false
		defer func() {
			if !ended {
				t.rollback(ctx)
			}
		}()
		err = fn(t)
		ended = true
		return t.end(ctx, d, err)
	})
}

// brandTx is the db.DBTX of one brand-scoped transaction that begins with its first statement.
// pgx sends a batch as one pipeline closed by a single Sync, so the first statement costs one
// round trip together with:
//
//   - (InBrand) BEGIN and BrandScopeSet: the transaction stays open; fn's further statements run
//     in it one by one, and end commits it (one more round trip) or rolls it back;
//   - (ReadInBrand) BrandScopeSetReadOnly and no BEGIN: PostgreSQL runs everything up to a Sync
//     as one implicit transaction, committed at the Sync, rolled back whole if any part fails.
//     The brand's setting is local to that transaction, which is read-only (it commits before
//     fn sees the result, so it must be unable to write), and a second statement is refused.
//
// Statements go through the connection's statement cache as usual: each is prepared once per
// connection (the first batch carrying a new statement pays one extra round trip for that).
type brandTx struct {
	conn     *pgx.Conn
	brand    string
	readOnly bool
	list     bool             // planned for its own parameters (BrandScopeSetList)
	sent     bool             // the first statement's batch was sent
	tx       pgx.Tx           // the transaction it began (not readOnly)
	first    pgx.BatchResults // that batch, until its last result is read
	holder                    // statements sent with SendWithCommit, not sent yet
}

// pending is a statement that waits to travel with the transaction's next round trip.
type pending struct {
	ctx  context.Context
	sql  string
	args []any
}

// holder holds the statements marked with SendWithCommit until its transaction's next round trip,
// in the order they were run.
type holder struct{ held []pending }

// hold holds the statement when ctx marks it, and reports whether it did. A statement already held
// with the same SQL is sent first (flush), so that the held statements' contexts never disagree
// about a value (heldContext): the outbox's EventInsert, whose context tells the query tracer which
// events it writes, is held once at a time.
func (h *holder) hold(ctx context.Context, sql string, args []any, flush func() error) (bool, error) {
	if ctx.Value(withCommitKey{}) == nil {
		return false, nil
	}
	for _, p := range h.held {
		if p.sql == sql {
			if err := flush(); err != nil {
				return true, err
			}
			break
		}
	}
	h.held = append(h.held, pending{ctx: ctx, sql: sql, args: args})
	return true, nil
}

// takeHeld returns the held statements and holds none.
func (h *holder) takeHeld() []pending {
	p := h.held
	h.held = nil
	return p
}

// flush sends the held statements through tx, in one pipeline, before a statement that follows
// them: the first failure is returned (the transaction is then aborted).
func (h *holder) flush(tx pgx.Tx) error {
	held := h.takeHeld()
	if len(held) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queue(b, held)
	return tx.SendBatch(heldContext(held), b).Close()
}

// queue queues the held statements in b.
func queue(b *pgx.Batch, held []pending) {
	for _, p := range held {
		b.Queue(p.sql, p.args...)
	}
}

// heldContext is the context the held statements travel with in one batch: the first one's,
// answering a value from the last of them that has it, so that what each statement's context
// carries for the query tracer (observe.WritingEvents on the outbox's row) still reaches it.
func heldContext(held []pending) context.Context {
	return valuesOf{Context: held[0].ctx, held: held}
}

type valuesOf struct {
	context.Context
	held []pending
}

func (c valuesOf) Value(key any) any {
	for i := len(c.held) - 1; i >= 0; i-- {
		if v := c.held[i].ctx.Value(key); v != nil {
			return v
		}
	}
	return nil
}

type withCommitKey struct{}

// SendWithCommit marks ctx for an Exec whose answer its caller does not wait for: the last writes
// of a transaction, typically (events.Emit's outbox row, written after the change it tells; an
// order's history row). In InBrand's transaction, after its first statement, such an Exec returns
// at once (an empty command tag, no error) and the statement is held: the held statements are sent
// with the transaction's next round trip, in the order they were run: with the COMMIT in one
// pipeline, which saves their round trips, or in one pipeline just before fn's next statement, so
// statements still run in fn's order. A failure is the transaction's: InBrand returns it and
// nothing commits (the pipeline skips what follows a failed statement, the COMMIT included), or
// fn's next statement returns it. BeginFunc's transactions (InTx's, and the one the idempotency
// layer owns, whose stored answer travels with its COMMIT) hold them the same way, and so do
// their savepoints (InTx or InBrand inside WithTx): a savepoint rolled back drops what it held,
// unsent. InBrand's first statement runs at once as usual.
func SendWithCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, withCommitKey{}, true)
}

// flush sends the pending statement alone, before a statement fn runs after it.
func (t *brandTx) flush() error { return t.holder.flush(t.tx) }

var _ db.DBTX = (*brandTx)(nil)

// queuer is a db.DBTX that queues a generated statement in a batch instead of running it, so
// that the scoping statements stay in queries/ like every other.
type queuer struct{ b *pgx.Batch }

func (q queuer) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (queuer) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("kit: queuer queues statements without results only")
}

func (queuer) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("kit: queuer queues statements without results only")}
}

// send sends the first statement with the transaction's beginning and reads the results before
// it: the statement's own result is next in the returned batch.
func (t *brandTx) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if t.sent {
		return nil, errSecondStatement
	}
	t.sent = true
	b := &pgx.Batch{}
	scope := db.New(queuer{b})
	switch {
	case t.list:
		_ = scope.BrandScopeSetList(ctx, t.brand) // queuing cannot fail
	case t.readOnly:
		_ = scope.BrandScopeSetReadOnly(ctx, t.brand)
	default:
		b.BeginTx(pgx.TxOptions{})
		_ = scope.BrandScopeSet(ctx, t.brand)
	}
	before := len(b.QueuedQueries)
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, b)
	t.tx = br.Tx()
	t.first = br
	for range before {
		if _, err := br.Exec(); err != nil {
			return nil, t.closeFirst(err)
		}
	}
	return br, nil
}

// closeFirst reads what is left of the first statement's batch (with ReadInBrand, the Sync that
// commits) and returns err, or the batch's own error when err is nil.
func (t *brandTx) closeFirst(err error) error {
	if t.first == nil {
		return err
	}
	cerr := t.first.Close()
	t.first = nil
	if err != nil {
		return err
	}
	return cerr
}

// later reports whether a statement goes to the open transaction (its batch already read).
func (t *brandTx) later() bool {
	if !t.sent || t.readOnly {
		return false
	}
	_ = t.closeFirst(nil) // fn moved on without reading all of it; its error was fn's to see
	return true
}

// Exec implements db.DBTX.
func (t *brandTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.later() {
		if held, err := t.hold(ctx, sql, args, t.flush); held {
			return pgconn.CommandTag{}, err
		}
		if err := t.flush(); err != nil {
			return pgconn.CommandTag{}, err
		}
		return t.tx.Exec(ctx, sql, args...)
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, t.closeFirst(err)
}

// Query implements db.DBTX.
func (t *brandTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.later() {
		if err := t.flush(); err != nil {
			return nil, err
		}
		return t.tx.Query(ctx, sql, args...)
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, t.closeFirst(err)
	}
	return &firstRows{Rows: rows, t: t}, nil
}

// QueryRow implements db.DBTX.
func (t *brandTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.later() {
		if err := t.flush(); err != nil {
			return errRow{err}
		}
		return t.tx.QueryRow(ctx, sql, args...)
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return firstRow{row: br.QueryRow(), t: t}
}

// end finishes the transaction after fn returned fnErr: committed by commitHeld (which ctx cannot
// cut, what is held sent with the COMMIT) when fnErr is nil, rolled back otherwise.
// (ReadInBrand's transaction already ended with its batch.)
func (t *brandTx) end(ctx context.Context, d *Deps, fnErr error) error {
	err := t.closeFirst(nil)
	if t.tx == nil { // nothing began, or ReadInBrand's implicit transaction
		if fnErr != nil {
			return fnErr
		}
		return err
	}
	if fnErr != nil || err != nil {
		t.rollback(ctx)
		if fnErr != nil {
			return fnErr
		}
		return err
	}
	return d.commitHeld(ctx, t.conn, t.tx, t.takeHeld(), func() { t.rollback(ctx) })
}

// rollback ends a transaction that must not commit. A rollback that fails leaves the connection
// outside idle, and the pool then closes it, which rolls back just the same.
func (t *brandTx) rollback(ctx context.Context) {
	t.held = nil // never sent
	_ = t.closeFirst(nil)
	if t.tx != nil {
		_ = t.tx.Rollback(ctx)
	}
}

// firstRow is the first statement's row: scanning it also reads the rest of its batch.
type firstRow struct {
	row pgx.Row
	t   *brandTx
}

func (r firstRow) Scan(dest ...any) error {
	return r.t.closeFirst(r.row.Scan(dest...))
}

// firstRows are the first statement's rows: their end also reads the rest of the batch, so
// Err reports the batch's failure too (sqlc's code checks Err before its deferred Close).
type firstRows struct {
	pgx.Rows
	t    *brandTx
	done bool
	err  error
}

func (r *firstRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.finish()
	return false
}

func (r *firstRows) finish() {
	if r.done {
		return
	}
	r.done = true
	r.Rows.Close()
	r.err = r.t.closeFirst(r.Rows.Err())
}

func (r *firstRows) Err() error {
	if r.done {
		return r.err
	}
	return r.Rows.Err()
}

func (r *firstRows) Close() { r.finish() }

// errRow is a row that could not be asked for.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// scopeMode is what a brand-scoped transaction is for.
type scopeMode int

const (
	scopeWrite scopeMode = iota // InBrand: any statements, committed at the end
	scopeRead                   // ReadInBrand: one read (a get by key)
	scopeList                   // ListInBrand: one read with parameters that change its best plan
)
