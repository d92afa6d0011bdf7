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
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &ConflictError{Constraint: pgErr.ConstraintName}
		case "23503":
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
