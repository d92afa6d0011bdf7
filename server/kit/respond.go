package kit

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The shared problem responses of openapi.yaml, built from the vocabulary in server/problem.
// Handlers wrap them in their operation's response type, so each return reads like the spec:
//
//	return api.GetLocation404ApplicationProblemPlusJSONResponse{kit.NotFound(ctx, "No such location.")}, nil

// BadRequest is a validation problem naming one field.
func BadRequest(ctx context.Context, field, message string) api.BadRequestApplicationProblemPlusJSONResponse {
	return InvalidFields(ctx, []api.FieldError{{Field: field, Message: message}})
}

// InvalidFields is a validation problem for rules the handler checks itself.
func InvalidFields(ctx context.Context, fields []api.FieldError) api.BadRequestApplicationProblemPlusJSONResponse {
	return api.BadRequestApplicationProblemPlusJSONResponse{Body: problem.Invalid(ctx, fields)}
}

// BadCursor answers a cursor this server did not issue for this list.
func BadCursor(ctx context.Context) api.BadRequestApplicationProblemPlusJSONResponse {
	return BadRequest(ctx, "query.cursor", "is not a cursor of this list")
}

// NotFound answers a missing resource, or another brand's.
func NotFound(ctx context.Context, detail string) api.NotFoundApplicationProblemPlusJSONResponse {
	return api.NotFoundApplicationProblemPlusJSONResponse{Body: problem.New(ctx, api.ProblemCodeNotFound, detail)}
}

// Conflict answers a taken unique value or a state conflict.
func Conflict(ctx context.Context, code api.ProblemCode, detail string) api.ConflictApplicationProblemPlusJSONResponse {
	return api.ConflictApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

// Unprocessable answers a well-formed request that breaks a business rule.
func Unprocessable(ctx context.Context, code api.ProblemCode, detail string) api.UnprocessableApplicationProblemPlusJSONResponse {
	return api.UnprocessableApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

// PreconditionFailed answers an If-Match that names a version no longer current.
func PreconditionFailed(ctx context.Context, what string) api.PreconditionFailedApplicationProblemPlusJSONResponse {
	return api.PreconditionFailedApplicationProblemPlusJSONResponse{
		Body: problem.New(ctx, api.ProblemCodePreconditionFailed, "The "+what+" changed since the version If-Match names; read it again."),
	}
}

// Unauthorized answers bad credentials or a token refused, with the Bearer challenge (RFC 6750 §3).
func Unauthorized(ctx context.Context, code api.ProblemCode, detail string) api.UnauthorizedApplicationProblemPlusJSONResponse {
	challenge := WWWAuthenticate(code)
	return api.UnauthorizedApplicationProblemPlusJSONResponse{
		Body:    problem.New(ctx, code, detail),
		Headers: api.UnauthorizedResponseHeaders{WWWAuthenticate: &challenge},
	}
}

// WWWAuthenticate is the challenge sent with every 401 (RFC 6750 §3).
func WWWAuthenticate(code api.ProblemCode) string {
	switch code {
	case api.ProblemCodeUnauthenticated, api.ProblemCodeInvalidCredentials:
		return `Bearer realm="ecompointer"`
	default:
		return `Bearer realm="ecompointer", error="invalid_token"`
	}
}

// Forbidden answers an authenticated caller who may not do this.
func Forbidden(ctx context.Context, code api.ProblemCode, detail string) api.ForbiddenApplicationProblemPlusJSONResponse {
	return api.ForbiddenApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

// TooManyRequests answers a throttled client, with Retry-After in whole seconds (at least 1).
func TooManyRequests(ctx context.Context, code api.ProblemCode, detail string, retryAfter time.Duration) api.TooManyRequestsApplicationProblemPlusJSONResponse {
	secs := max(int((retryAfter+time.Second-1)/time.Second), 1)
	return api.TooManyRequestsApplicationProblemPlusJSONResponse{
		Body:    problem.New(ctx, code, detail),
		Headers: api.TooManyRequestsResponseHeaders{RetryAfter: &secs},
	}
}

// Gone answers a resource that existed and can no longer be used.
func Gone(ctx context.Context, code api.ProblemCode, detail string) api.GoneApplicationProblemPlusJSONResponse {
	return api.GoneApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

// Answers wraps the shared problem responses into one operation's own response types, so that a
// helper answering for any operation hands each handler its own response type back, without an
// `any` round trip. R is the operation's response interface (api.XResponseObject); each field
// wraps one status the spec lists for the operation (nil: the operation has no such answer).
// The generated `XYZ404ApplicationProblemPlusJSONResponse` is a struct embedding the shared
// NotFound...: Go's generics cannot convert it to R, so each operation spells its wrappers once.
//
//	var updateBrandAnswers = kit.Answers[api.UpdateBrandResponseObject]{
//		NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.UpdateBrandResponseObject {
//			return api.UpdateBrand404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
//		},
//		...
//	}
type Answers[R any] struct {
	BadRequest         func(api.BadRequestApplicationProblemPlusJSONResponse) R
	NotFound           func(api.NotFoundApplicationProblemPlusJSONResponse) R
	Conflict           func(api.ConflictApplicationProblemPlusJSONResponse) R
	PreconditionFailed func(api.PreconditionFailedApplicationProblemPlusJSONResponse) R
	Unprocessable      func(api.UnprocessableApplicationProblemPlusJSONResponse) R
}

// Problem answers p with the operation's response for the status server/problem's one table
// gives p.Code: no helper decides a status a second time. ok is false when the operation has no
// answer with that status (then the caller has a refusal the spec does not list for it).
func (a Answers[R]) Problem(p api.Problem) (resp R, ok bool) {
	switch problem.Status(p.Code) {
	case http.StatusBadRequest:
		if a.BadRequest != nil {
			return a.BadRequest(api.BadRequestApplicationProblemPlusJSONResponse{Body: p}), true
		}
	case http.StatusNotFound:
		if a.NotFound != nil {
			return a.NotFound(api.NotFoundApplicationProblemPlusJSONResponse{Body: p}), true
		}
	case http.StatusConflict:
		if a.Conflict != nil {
			return a.Conflict(api.ConflictApplicationProblemPlusJSONResponse{Body: p}), true
		}
	case http.StatusPreconditionFailed:
		if a.PreconditionFailed != nil {
			return a.PreconditionFailed(api.PreconditionFailedApplicationProblemPlusJSONResponse{Body: p}), true
		}
	case http.StatusUnprocessableEntity:
		if a.Unprocessable != nil {
			return a.Unprocessable(api.UnprocessableApplicationProblemPlusJSONResponse{Body: p}), true
		}
	}
	return resp, false
}

// Unmet maps the two ways a conditional change can touch no row (see Stale) to the operation's
// responses: ErrNotFound to its 404 (notFound is the detail), ErrStale to its 412 naming what.
// ok is false for any other err; the handler then goes on with its own cases:
//
//	if resp, ok := updateBrandAnswers.Unmet(ctx, err, "No such brand.", "brand"); ok {
//		return resp, nil
//	}
func (a Answers[R]) Unmet(ctx context.Context, err error, notFound, what string) (resp R, ok bool) {
	switch {
	case errors.Is(err, ErrNotFound):
		return a.Problem(NotFound(ctx, notFound).Body)
	case errors.Is(err, ErrStale):
		return a.Problem(PreconditionFailed(ctx, what).Body)
	}
	return resp, false
}
