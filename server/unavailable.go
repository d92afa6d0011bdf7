package server

import (
	"context"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
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

// outcomeUnknownRetryAfter is outcome_unknown's Retry-After (seconds): the database has to answer
// again before a retry with the key can settle the outcome, as for database_unavailable.
const outcomeUnknownRetryAfter = 5

// byCode is what the client and the log are told for each of the database's passing states that
// kit.Unavailable tells apart.
var byCode = map[api.ProblemCode]unavailability{
	api.ProblemCodeDatabaseUnavailable: dbUnreachable,
	api.ProblemCodeDatabaseTimeout:     dbTimedOut,
	api.ProblemCodeWriteConflict:       dbWriteConflict,
}

// unavailable classifies err, a handler's or middleware's unexpected failure, as one of the
// database's passing states, or reports false for a real internal error. The classification is
// kit.Unavailable's (the one place that knows PostgreSQL's codes); this adds the answer's
// Retry-After, detail and log message. ctx is the request's.
func unavailable(ctx context.Context, err error) (unavailability, bool) {
	code, ok := kit.Unavailable(ctx, err)
	if !ok {
		return unavailability{}, false
	}
	u, ok := byCode[code]
	return u, ok
}
