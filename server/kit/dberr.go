package kit

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// DBError translates err: no rows is ErrNotFound, a unique violation (23505) a *ConflictError;
// anything else is returned as it is (an unexpected failure).
func DBError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return &ConflictError{Constraint: pgErr.ConstraintName}
	}
	return err
}

// IsReferenced reports whether err is a foreign key violation (23503): a delete of a row others
// refer to.
func IsReferenced(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
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
