package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// writeUnauthorized answers a request the middleware refuses for its credentials.
func writeUnauthorized(w http.ResponseWriter, r *http.Request, code api.ProblemCode, detail string) {
	w.Header().Set("WWW-Authenticate", problem.Challenge(code))
	problem.WriteCode(w, r, code, detail)
}

// needsBearer reports whether the operation's security requires the bearer token.
func needsBearer(op *openapi3.Operation) bool {
	if op.Security == nil {
		return false
	}
	for _, req := range *op.Security {
		if _, ok := req["bearerAuth"]; ok {
			return true
		}
	}
	return false
}

// authenticate answers the request's credentials: the caller identity resolves from its bearer
// token, or false once it has written the 401 (or, on an unexpected failure, the 5xx).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*kit.Caller, bool) {
	raw, _ := bearerToken(r.Header.Get("Authorization"))
	c, err := s.authn.Authenticate(r.Context(), raw)
	var refused *identity.Refusal
	if errors.As(err, &refused) {
		writeUnauthorized(w, r, refused.Code, refused.Detail)
		return nil, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	return c, true
}

// bearerToken extracts the token of an `Authorization: Bearer <token>` header (the scheme is
// case-insensitive, RFC 9110 §11.1).
func bearerToken(header string) (string, bool) {
	scheme, tok, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// internalError answers an unexpected failure. A database that is unreachable, too slow or in
// conflict answers 503 with Retry-After and its code, logged at most once per interval per code
// (an outage must not flood the log); anything else is logged with the request id and answers a
// bare 500 problem. Every unexpected failure, from a handler or a middleware, ends here.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	id := problem.RequestFrom(ctx).ID
	// A COMMIT that got no answer and could not be settled (a keyed change settles it when the
	// database answers again: idempotency.Store): the database is unavailable, so a 503 with
	// Retry-After like every other passing state, but under its own code, because the change may
	// have been made; the client must not blindly resend a keyless change.
	var unknown *kit.OutcomeUnknownError
	if errors.As(err, &unknown) {
		s.log.ErrorContext(ctx, "commit outcome unknown", "request_id", id, "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(outcomeUnknownRetryAfter))
		problem.WriteCode(w, r, api.ProblemCodeOutcomeUnknown, "The connection to the database was lost while the change was being committed: "+
			"it may or may not have been applied. Retry with the same Idempotency-Key, or read the resource back before retrying.")
		return
	}
	// A write that lost a race with the delete of a row it refers to (its foreign key refused it)
	// is answered like a request naming a missing row: the row is gone, nothing was written.
	var gone *kit.GoneError
	if errors.As(kit.DBError(err), &gone) {
		s.log.InfoContext(ctx, "write raced a delete", "request_id", id, "error", err)
		problem.WriteCode(w, r, api.ProblemCodeNotFound, "The "+gone.Parent+" this request refers to was deleted meanwhile.")
		return
	}
	if u, ok := unavailable(ctx, err); ok {
		if log, suppressed := s.dblog.allow(string(u.code)); log {
			level := slog.LevelWarn
			if u.code == api.ProblemCodeDatabaseUnavailable {
				level = slog.LevelError
			}
			s.log.Log(ctx, level, u.logMsg, "request_id", id, "error", err, "suppressed", suppressed)
		}
		w.Header().Set("Retry-After", strconv.Itoa(u.retryAfter))
		problem.WriteCode(w, r, u.code, u.detail)
		return
	}
	s.log.ErrorContext(ctx, "request failed", "request_id", id, "error", err)
	problem.WriteCode(w, r, api.ProblemCodeInternalError, "An unexpected error occurred; quote the request id when reporting it.")
}

// reachesBrand reports whether the caller may address brand (identity.Reaches), writing the
// problem when not: another brand answers 404 exactly like a missing one.
func (s *Server) reachesBrand(w http.ResponseWriter, r *http.Request, c *kit.Caller, brand string) bool {
	ok, err := identity.Reaches(r.Context(), s.deps, c, brand)
	if err != nil {
		s.internalError(w, r, err)
		return false
	}
	if !ok {
		problem.WriteCode(w, r, api.ProblemCodeNotFound, "No such brand.")
	}
	return ok
}
