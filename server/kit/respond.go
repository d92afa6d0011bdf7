package kit

import (
	"context"

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
