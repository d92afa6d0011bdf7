package kit

import (
	"context"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/problem"
)

// RequestID is the request's id, or nil outside a request.
func RequestID(ctx context.Context) *string {
	return Optional(problem.RequestFrom(ctx).ID)
}

// Audit records a security event with the request's client details. It takes the queries of the
// caller's transaction, so the event commits or rolls back with what it describes. Events never
// hold a password or a token. The actor is the authenticated caller, if any; AuditAs names it
// where the request proved an identity another way (a login, a registration).
func Audit(ctx context.Context, d *Deps, q *db.Queries, typ api.AuditEventType, userID, sessionID *uuid.UUID) error {
	return AuditKey(ctx, d, q, typ, userID, sessionID, nil)
}

// AuditKey is Audit for an event about an API key (created, revoked).
func AuditKey(ctx context.Context, d *Deps, q *db.Queries, typ api.AuditEventType, userID, sessionID, apiKeyID *uuid.UUID) error {
	var actor *uuid.UUID
	c := CallerFrom(ctx)
	if c != nil && c.User.ID != uuid.Nil {
		actor = &c.User.ID
	}
	return audit(ctx, d, q, typ, actor, c.APIKeyID(), userID, sessionID, apiKeyID)
}

// AuditAs records an event with an explicit actor (nil: nobody authenticated).
func AuditAs(ctx context.Context, d *Deps, q *db.Queries, typ api.AuditEventType, actorID, userID, sessionID *uuid.UUID) error {
	return audit(ctx, d, q, typ, actorID, nil, userID, sessionID, nil)
}

// audit writes the event. A key's request names the key as actor (actorKeyID) beside the user it
// acts for (actorID).
func audit(ctx context.Context, d *Deps, q *db.Queries, typ api.AuditEventType, actorID, actorKeyID, userID, sessionID, apiKeyID *uuid.UUID) error {
	if sessionID != nil && *sessionID == uuid.Nil {
		sessionID = nil // a key's request has no session
	}
	meta := problem.RequestFrom(ctx)
	return q.AuditEventCreate(ctx, db.AuditEventCreateParams{
		ID:            uuid.Must(uuid.NewV7()),
		Type:          string(typ),
		UserID:        userID,
		ActorID:       actorID,
		ActorApiKeyID: actorKeyID,
		ApiKeyID:      apiKeyID,
		SessionID:     sessionID,
		Ip:            Optional(meta.IP),
		UserAgent:     Optional(meta.UserAgent),
		Now:           d.Now(),
	})
}

// Optional is s, or nil when empty.
func Optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
