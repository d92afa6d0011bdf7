package server

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The database's answers that are expected outcomes rather than failures, translated here, at one
// seam, so handlers switch on meaning instead of driver codes.
var errNotFound = errors.New("not found")

// conflictError is a unique violation, named by its constraint.
type conflictError struct{ constraint string }

func (e *conflictError) Error() string { return "conflict on " + e.constraint }

// dbError translates err: no rows is errNotFound, a unique violation (23505) a *conflictError;
// anything else is returned as it is (an unexpected failure).
func dbError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return &conflictError{constraint: pgErr.ConstraintName}
	}
	return err
}

// isConflict reports whether err is a unique violation of constraint.
func isConflict(err error, constraint string) bool {
	var c *conflictError
	return errors.As(dbError(err), &c) && c.constraint == constraint
}
