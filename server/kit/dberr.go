package kit

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/api"
)

// SQLSTATE codes (PostgreSQL, Appendix A) the server tells apart. This file is the only one that
// knows them, and the only one that knows pgx's sentinel errors: everything else asks it what an
// error means (DBError, NoRows, Contended, Unavailable, CheckViolation, ...).
const (
	pgCodeCheckViolation       = "23514"
	pgCodeForeignKeyViolation  = "23503"
	pgCodeUniqueViolation      = "23505"
	pgCodeSerializationFailure = "40001"
	pgCodeDeadlockDetected     = "40P01"
	pgCodeLockNotAvailable     = "55P03" // lock_timeout
	pgCodeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	pgCodeTooManyConnections   = "53300"
	pgCodeAdminShutdown        = "57P01"
	pgCodeCrashShutdown        = "57P02"
	pgCodeCannotConnectNow     = "57P03"
	pgClassConnection          = "08" // connection exception
)

// The database's answers that are expected outcomes rather than failures, translated here, at one
// seam, so handlers switch on meaning instead of driver codes.
var (
	// ErrNotFound: no such row (or another brand's).
	ErrNotFound = errors.New("not found")
	// ErrStale: a conditional change found the row at another version than If-Match named.
	ErrStale = errors.New("stale version")
)

// ConflictError is a unique violation, named by its constraint.
type ConflictError struct{ Constraint string }

func (e *ConflictError) Error() string { return "conflict on " + e.Constraint }

// GoneError is a write that referred to a row (a product, a location) that a concurrent
// transaction deleted after the write had checked it: a foreign-key violation (23503) on the
// referring side, which the write's own checks cannot rule out alone. It is ErrNotFound to
// errors.Is: the row is gone, so the request answers 404, never a 500.
type GoneError struct {
	// Constraint is the foreign key that refused the write.
	Constraint string
	// Parent names what was gone ("product", "location", ...), for the problem's detail.
	Parent string
}

func (e *GoneError) Error() string {
	return "the " + e.Parent + " it refers to is gone (" + e.Constraint + ")"
}

// Is makes a GoneError an ErrNotFound.
func (e *GoneError) Is(target error) bool { return target == ErrNotFound }

// fkParents names the row each foreign key refers to, by constraint name (PostgreSQL's default
// names, schema/). A key missing here still translates, as "resource".
var fkParents = map[string]string{
	"stock_levels_brand_id_product_id_fkey":                        "product",
	"order_lines_brand_id_product_id_fkey":                         "product",
	"stock_levels_brand_id_location_id_fkey":                       "location",
	"stock_movements_brand_id_product_id_location_id_fkey":         "stock level",
	"reservation_allocations_brand_id_product_id_location_id_fkey": "stock level",
	"order_allocations_brand_id_product_id_location_id_fkey":       "stock level",
	"reservation_allocations_brand_id_reservation_id_fkey":         "reservation",
	"stock_movements_brand_id_reservation_id_fkey":                 "reservation",
	"orders_brand_id_reservation_id_fkey":                          "reservation",
	"stock_movements_order_fkey":                                   "order",
	"order_lines_brand_id_order_id_fkey":                           "order",
	"order_events_brand_id_order_id_fkey":                          "order",
	"fulfilments_brand_id_order_id_fkey":                           "order",
}

// DBError translates err: no rows is ErrNotFound, a unique violation (23505) a *ConflictError, a
// foreign-key violation (23503) a *GoneError (which is ErrNotFound); anything else is returned as
// it is (an unexpected failure). A delete refused because others still refer to the row is also a
// 23503: a delete checks IsReferenced first and answers its own 409 (product_in_use).
func DBError(err error) error {
	if err == nil {
		return nil // every successful statement passes here: no errors.As target on the heap
	}
	if NoRows(err) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgCodeUniqueViolation:
			return &ConflictError{Constraint: pgErr.ConstraintName}
		case pgCodeForeignKeyViolation:
			parent, ok := fkParents[pgErr.ConstraintName]
			if !ok {
				parent = "resource"
			}
			return &GoneError{Constraint: pgErr.ConstraintName, Parent: parent}
		}
	}
	return err
}

// IsReferenced reports whether err is a foreign key violation (23503): a delete of a row others
// refer to.
func IsReferenced(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgCodeForeignKeyViolation
}

// IsConflict reports whether err is a unique violation of constraint.
func IsConflict(err error, constraint string) bool {
	var c *ConflictError
	return errors.As(DBError(err), &c) && c.Constraint == constraint
}

// Stale explains why a conditional change touched no row, given the row read again: it exists
// (the version was stale) or it does not.
func Stale[T any](_ T, err error) error {
	if err != nil {
		return DBError(err)
	}
	return ErrStale
}

// NoRows reports whether err is a query's "no row" (pgx.ErrNoRows) and nothing else: a lookup
// whose miss is an expected outcome (an idempotency key not seen before) asks this rather than
// DBError, which also counts a vanished foreign key as not found.
func NoRows(err error) bool {
	return errors.Is(err, pgx.ErrNoRows)
}

// CheckViolation reports whether err is a CHECK constraint's refusal (23514) by constraint.
func CheckViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgCodeCheckViolation && pgErr.ConstraintName == constraint
}

// Contended reports whether err is a deadlock (40P01) or a serialization failure (40001): the
// transaction can simply run again.
func Contended(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgCodeSerializationFailure || pgErr.Code == pgCodeDeadlockDetected)
}

// commitKnown reports whether a failed COMMIT certainly did not commit: the database answered
// with an error (a deferred constraint, a serialization failure: it rolled back), the transaction
// had already failed (pgx then sends ROLLBACK), or it was already closed (nothing sent).
//
// pgconn.SafeToRetry cannot tell: once a read fails, pgconn closes the connection, and the read
// of the rest of the answer then fails with "conn closed", which it calls safe to retry although
// the COMMIT had left. Anything else is therefore unknown.
func commitKnown(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) || errors.Is(err, pgx.ErrTxCommitRollback) || errors.Is(err, pgx.ErrTxClosed)
}

// Unavailable classifies err, a handler's or middleware's unexpected failure, as one of the
// database's passing states, by the problem code the client is answered (503 with Retry-After):
// write_conflict (contention that outlived the retries), database_timeout (a lock or statement
// timeout, or the request's deadline passed: ctx is the request's, and its deadline having passed
// means the request ran out of its time for database work, whatever the driver made of it) or
// database_unavailable (the connection is lost, refused or the server is going away). ok is false
// for a real internal error.
func Unavailable(ctx context.Context, err error) (code api.ProblemCode, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == pgCodeSerializationFailure || pgErr.Code == pgCodeDeadlockDetected:
			return api.ProblemCodeWriteConflict, true
		case pgErr.Code == pgCodeLockNotAvailable || pgErr.Code == pgCodeQueryCanceled:
			return api.ProblemCodeDatabaseTimeout, true
		case strings.HasPrefix(pgErr.Code, pgClassConnection),
			pgErr.Code == pgCodeTooManyConnections, pgErr.Code == pgCodeAdminShutdown,
			pgErr.Code == pgCodeCrashShutdown, pgErr.Code == pgCodeCannotConnectNow:
			return api.ProblemCodeDatabaseUnavailable, true
		}
		return "", false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return api.ProblemCodeDatabaseTimeout, true
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return api.ProblemCodeDatabaseUnavailable, true
	}
	return "", false
}
