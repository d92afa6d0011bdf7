package server

import (
	"context"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The shared problem responses of openapi.yaml, built from the vocabulary in server/problem.
// Handlers wrap them in their operation's response type, so each return reads like the spec:
//
//	return api.Login401ApplicationProblemPlusJSONResponse{unauthorized(ctx, code, detail)}, nil

func badRequest(ctx context.Context, field, message string) api.BadRequestApplicationProblemPlusJSONResponse {
	return invalidFields(ctx, []api.FieldError{{Field: field, Message: message}})
}

func unauthorized(ctx context.Context, code api.ProblemCode, detail string) api.UnauthorizedApplicationProblemPlusJSONResponse {
	challenge := wwwAuthenticate(code)
	return api.UnauthorizedApplicationProblemPlusJSONResponse{
		Body:    problem.New(ctx, code, detail),
		Headers: api.UnauthorizedResponseHeaders{WWWAuthenticate: &challenge},
	}
}

func forbidden(ctx context.Context, code api.ProblemCode, detail string) api.ForbiddenApplicationProblemPlusJSONResponse {
	return api.ForbiddenApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

func notFound(ctx context.Context, detail string) api.NotFoundApplicationProblemPlusJSONResponse {
	return api.NotFoundApplicationProblemPlusJSONResponse{Body: problem.New(ctx, api.ProblemCodeNotFound, detail)}
}

func conflict(ctx context.Context, code api.ProblemCode, detail string) api.ConflictApplicationProblemPlusJSONResponse {
	return api.ConflictApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

func unprocessable(ctx context.Context, code api.ProblemCode, detail string) api.UnprocessableApplicationProblemPlusJSONResponse {
	return api.UnprocessableApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

func tooManyRequests(ctx context.Context, code api.ProblemCode, detail string, retryAfter time.Duration) api.TooManyRequestsApplicationProblemPlusJSONResponse {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return api.TooManyRequestsApplicationProblemPlusJSONResponse{
		Body:    problem.New(ctx, code, detail),
		Headers: api.TooManyRequestsResponseHeaders{RetryAfter: &secs},
	}
}

// apiUser is the API's view of a user.
func apiUser(u db.User) api.User {
	return api.User{
		Id:        u.ID,
		Email:     openapi_types.Email(u.Email),
		Name:      u.Name,
		Role:      api.Role(u.Role),
		BrandId:   u.BrandID,
		Disabled:  u.Disabled,
		CreatedAt: u.CreatedAt.UTC(),
	}
}

func apiSession(s db.Session, current uuid.UUID) api.Session {
	return api.Session{
		Id:         s.ID,
		CreatedAt:  s.CreatedAt.UTC(),
		LastUsedAt: s.LastUsedAt.UTC(),
		ExpiresAt:  s.ExpiresAt.UTC(),
		UserAgent:  s.UserAgent,
		Ip:         s.Ip,
		Current:    s.ID == current,
	}
}

func apiAuditEvent(e db.AuditEvent) api.AuditEvent {
	return api.AuditEvent{
		Id:        e.ID,
		Type:      api.AuditEventType(e.Type),
		UserId:    e.UserID,
		ActorId:   e.ActorID,
		SessionId: e.SessionID,
		Ip:        e.Ip,
		UserAgent: e.UserAgent,
		CreatedAt: e.CreatedAt.UTC(),
	}
}

// pageSize is the validated `limit` parameter, or the default page size.
func pageSize(limit *int) int32 {
	if limit == nil {
		return 20
	}
	return int32(*limit) //nolint:gosec // the spec bounds it to 1..100
}

func badCursor(ctx context.Context) api.BadRequestApplicationProblemPlusJSONResponse {
	return badRequest(ctx, "query.cursor", "is not a cursor of this list")
}

func gone(ctx context.Context, code api.ProblemCode, detail string) api.GoneApplicationProblemPlusJSONResponse {
	return api.GoneApplicationProblemPlusJSONResponse{Body: problem.New(ctx, code, detail)}
}

func preconditionFailed(ctx context.Context, what string) api.PreconditionFailedApplicationProblemPlusJSONResponse {
	return api.PreconditionFailedApplicationProblemPlusJSONResponse{
		Body: problem.New(ctx, api.ProblemCodePreconditionFailed, "The "+what+" changed since the version If-Match names; read it again."),
	}
}

// invalidFields is a validation problem for rules the handler checks itself.
func invalidFields(ctx context.Context, fields []api.FieldError) api.BadRequestApplicationProblemPlusJSONResponse {
	return api.BadRequestApplicationProblemPlusJSONResponse{Body: problem.Invalid(ctx, fields)}
}

// authenticated is every answer that carries tokens: never stored by a cache (RFC 6749 §5.1).
func authenticated(auth api.AuthResponse) api.AuthenticatedJSONResponse {
	return api.AuthenticatedJSONResponse{
		Body:    auth,
		Headers: api.AuthenticatedResponseHeaders{CacheControl: "no-store", Pragma: "no-cache"},
	}
}
