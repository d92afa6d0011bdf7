package server

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/api"
)

// SQLSTATE codes (PostgreSQL, Appendix A) the server tells apart.
const (
	pgCodeSerializationFailure = "40001"
	pgCodeDeadlockDetected     = "40P01"
	pgCodeLockNotAvailable     = "55P03" // lock_timeout
	pgCodeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	pgCodeTooManyConnections   = "53300"
	pgCodeAdminShutdown        = "57P01"
	pgCodeCrashShutdown        = "57P02"
	pgCodeCannotConnectNow     = "57P03"
)

// unavailability is a failure that is the database's state, not the request's fault nor a bug: the
// client is told to come back (503 with Retry-After) rather than handed a 500.
type unavailability struct {
	code       api.ProblemCode
	retryAfter int // seconds
	detail     string
	logMsg     string
}

var (
	dbUnreachable = unavailability{api.ProblemCodeDatabaseUnavailable, 5,
		"The database is not reachable; try again later.", "database unavailable"}
	dbTimedOut = unavailability{api.ProblemCodeDatabaseTimeout, 2,
		"The database did not answer in time; try again later.", "database timeout"}
	dbWriteConflict = unavailability{api.ProblemCodeWriteConflict, 1,
		"The change collided with concurrent changes to the same rows; try again.", "write conflict"}
)

// unavailable classifies err, a handler's or middleware's unexpected failure, as one of the
// database's passing states, or reports false for a real internal error. It is the only mapping
// from database failures to 503s; ctx is the request's (its deadline having passed means the
// request ran out of its time for database work, whatever the driver made of it).
func unavailable(ctx context.Context, err error) (unavailability, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == pgCodeSerializationFailure || pgErr.Code == pgCodeDeadlockDetected:
			return dbWriteConflict, true
		case pgErr.Code == pgCodeLockNotAvailable || pgErr.Code == pgCodeQueryCanceled:
			return dbTimedOut, true
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == pgCodeTooManyConnections, pgErr.Code == pgCodeAdminShutdown,
			pgErr.Code == pgCodeCrashShutdown, pgErr.Code == pgCodeCannotConnectNow:
			return dbUnreachable, true
		}
		return unavailability{}, false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return dbTimedOut, true
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return dbUnreachable, true
	}
	return unavailability{}, false
}
