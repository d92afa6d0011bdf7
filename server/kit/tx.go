package kit

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
)

type txKey struct{}

// WithTx makes InTx and InBrand run inside tx (in a savepoint) rather than a transaction of their
// own: a caller that must commit more than a handler's effects (the idempotency layer stores the
// answer with them) owns the transaction and its retries.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise (a
// business-rule refusal included, so a refused request never leaves a partial write).
//
// A deadlock or serialization failure rolls back and runs fn again, up to d.TxAttempts runs in
// all: fn must therefore do nothing but database work through q (no effects outside the
// transaction, no state kept across runs). One that still fails is returned as it is, and the
// server answers it 503 write_conflict. The COMMIT is not cut by ctx (see Commit). Inside a transaction that WithTx put in ctx, fn runs once
// in a savepoint, and retrying is the owner's job.
func (d *Deps) InTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return d.inTxDB(ctx, func(tx db.DBTX) error { return fn(db.New(tx)) })
}

// inTxDB is InTx for fn that builds its own queries on the transaction.
func (d *Deps) inTxDB(ctx context.Context, fn func(tx db.DBTX) error) error {
	if outer, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return inSavepoint(ctx, outer, fn)
	}
	return d.Retry(ctx, func() error {
		return d.BeginFunc(ctx, func(tx pgx.Tx) error { return fn(tx) })
	})
}

// inSavepoint runs fn in a savepoint of outer, rolled back to when fn fails, so that outer's
// owner (the idempotency layer) can still store the refusal and commit. When fn succeeds the
// savepoint is left as it is rather than released: outer's COMMIT commits its work all the same,
// and a RELEASE would cost a round trip while the transaction holds its locks (an order's number
// counter among them).
func inSavepoint(ctx context.Context, outer pgx.Tx, fn func(tx db.DBTX) error) error {
	sp, err := outer.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(sp); err != nil {
		// A rollback that fails leaves outer aborted: its owner's next statement fails.
		_ = sp.Rollback(ctx)
		return err
	}
	return nil
}

// Retry runs attempt until it succeeds, fails for another reason than contention, or has run
// d.TxAttempts times (then the last failure is returned).
func (d *Deps) Retry(ctx context.Context, attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		if err == nil || !Contended(err) || i >= d.TxAttempts {
			return err
		}
		// A short, jittered pause so that the transactions that collided do not collide again
		// in lockstep.
		pause := time.Duration(i)*10*time.Millisecond + rand.N(10*time.Millisecond) //nolint:gosec // jitter, not a secret
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// InBrand runs fn in one transaction scoped to brandID and returns its value: row-level security
// then shows and accepts only that brand's rows, whatever the statements themselves filter (they
// filter by brand_id too: the policy is the second line of defence, not the first).
//
// The transaction begins with fn's first statement, which travels in one round trip with BEGIN
// and the brand's set_config; each further statement is a round trip, and so is the COMMIT,
// which also carries a last statement sent with SendWithCommit (the outbox's event). A
// failure rolls everything back, and a deadlock or serialization failure runs fn again, as InTx.
// A single-statement read should use ReadInBrand (one round trip in all).
//
// It first takes one of the brand's slots of the pool (Deps.Gate), so that one tenant's flood
// waits for itself, not for everyone. GateBrand does the same for a transaction's owner.
func InBrand[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(q *db.Queries) (T, error)) (T, error) {
	return inBrand(ctx, d, brandID, scopeWrite, fn)
}

// ReadInBrand is InBrand for fn that runs exactly one statement, a read (a get, a list page): it
// costs one round trip in all, where InBrand costs two more. The brand's set_config and the
// statement travel in one pipeline and run in one implicit transaction, which is read-only and
// committed when the statement ends (see brandTx). Row-level security applies as in InBrand; a
// statement that writes fails (25006), and so does a second one.
//
// Inside a transaction WithTx put in ctx, it runs in a savepoint exactly as InBrand does.
func ReadInBrand[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(q *db.Queries) (T, error)) (T, error) {
	return inBrand(ctx, d, brandID, scopeRead, fn)
}

// ListInBrand is ReadInBrand for a list or a search: its statement is planned for the parameters
// it is given (optional filters, a search pattern), never a prepared statement's generic plan,
// which cannot use an index for a value it has not seen. Planning costs more than a cached plan, so
// a get by key uses ReadInBrand.
func ListInBrand[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(q *db.Queries) (T, error)) (T, error) {
	return inBrand(ctx, d, brandID, scopeList, fn)
}

// InBrandDB is InBrand for fn that builds its queries on the transaction itself: the stock
// engine, whose queries (gen/stockdb) only it may use, runs beside gen/db's in the one transaction.
func InBrandDB[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(tx db.DBTX) (T, error)) (T, error) {
	return inBrandDB(ctx, d, brandID, scopeWrite, fn)
}

// ReadInBrandDB is ReadInBrand for fn that builds its queries on the transaction itself.
func ReadInBrandDB[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(tx db.DBTX) (T, error)) (T, error) {
	return inBrandDB(ctx, d, brandID, scopeRead, fn)
}

// ListInBrandDB is ListInBrand for fn that builds its queries on the transaction itself.
func ListInBrandDB[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(tx db.DBTX) (T, error)) (T, error) {
	return inBrandDB(ctx, d, brandID, scopeList, fn)
}

func inBrand[T any](ctx context.Context, d *Deps, brandID uuid.UUID, mode scopeMode, fn func(q *db.Queries) (T, error)) (T, error) {
	return inBrandDB(ctx, d, brandID, mode, func(tx db.DBTX) (T, error) { return fn(db.New(tx)) })
}

func inBrandDB[T any](ctx context.Context, d *Deps, brandID uuid.UUID, mode scopeMode, fn func(tx db.DBTX) (T, error)) (T, error) {
	var out T
	run := func(tx db.DBTX) error {
		v, err := fn(tx)
		if err != nil {
			return err
		}
		out = v
		return nil
	}
	// Inside a transaction WithTx put in ctx, the owner took the slot before it took a connection
	// (taking it here, connection in hand, could hold the pool while waiting for the brand), and
	// the work runs in a savepoint of that transaction, scoped there.
	if _, joined := ctx.Value(txKey{}).(pgx.Tx); joined {
		err := d.inTxDB(ctx, func(tx db.DBTX) error {
			if err := db.New(tx).BrandScopeSet(ctx, brandID.String()); err != nil {
				return err
			}
			return run(tx)
		})
		return out, err
	}
	if d.Gate != nil {
		release, err := d.Gate.Acquire(ctx, brandID)
		if err != nil {
			return out, err
		}
		defer release()
	}
	err := inBrandTx(ctx, d, brandID, mode, run)
	return out, err
}

// GateBrand takes one of brand's slots of the pool (Deps.Gate) for work that will open its own
// transaction and pass it on with WithTx; release it when the transaction ends.
func (d *Deps) GateBrand(ctx context.Context, brand uuid.UUID) (release func(), err error) {
	if d.Gate == nil {
		return func() {}, nil
	}
	return d.Gate.Acquire(ctx, brand)
}

// InTxV runs fn in one transaction, like Deps.InTx, and returns its value.
func InTxV[T any](ctx context.Context, d *Deps, fn func(q *db.Queries) (T, error)) (T, error) {
	var out T
	err := d.InTx(ctx, func(q *db.Queries) error {
		v, err := fn(q)
		if err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}
