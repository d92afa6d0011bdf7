package kit

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// TxAttempts is how many times a transaction that lost a deadlock or a serialization conflict
// runs before the request gives up with ErrContended.
const TxAttempts = 3

// ErrContended says a transaction kept losing to concurrent ones (deadlock or serialization
// failure) and was given up: the client gets a 503 with Retry-After, never a 500.
var ErrContended = errors.New("transaction contended: gave up after retries")

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
// A deadlock or serialization failure rolls back and runs fn again, up to TxAttempts times: fn
// must therefore do nothing but database work through q (no effects outside the transaction, no
// state kept across runs). Inside a transaction that WithTx put in ctx, fn runs once in a
// savepoint, and retrying is the owner's job.
func (d *Deps) InTx(ctx context.Context, fn func(q *db.Queries) error) error {
	if outer, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return pgx.BeginFunc(ctx, outer, func(tx pgx.Tx) error { return fn(d.Queries.WithTx(tx)) })
	}
	return Retry(ctx, func() error {
		return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error { return fn(d.Queries.WithTx(tx)) })
	})
}

// Retry runs attempt until it succeeds, fails for another reason than contention, or has run
// TxAttempts times (then ErrContended, wrapping the last failure).
func Retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := range TxAttempts {
		if err = attempt(); !Contended(err) {
			return err
		}
		if i < TxAttempts-1 {
			// A short random pause, so the transactions that collided do not collide again.
			pause := time.Duration(1+rand.IntN(10*(i+1))) * time.Millisecond
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	return errors.Join(ErrContended, err)
}

// Contended reports whether err is a deadlock (40P01) or a serialization failure (40001): the
// transaction can simply run again.
func Contended(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// InBrand runs fn in one transaction scoped to brandID and returns its value: row-level security
// then shows and accepts only that brand's rows, whatever the statements themselves filter (they
// filter by brand_id too: the policy is the second line of defence, not the first).
func InBrand[T any](ctx context.Context, d *Deps, brandID uuid.UUID, fn func(q *db.Queries) (T, error)) (T, error) {
	var out T
	err := d.InTx(ctx, func(q *db.Queries) error {
		if err := q.BrandScopeSet(ctx, brandID.String()); err != nil {
			return err
		}
		v, err := fn(q)
		if err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}
