package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// audit records a security event with the request's client details. It takes the queries of the
// caller's transaction, so the event commits or rolls back with what it describes. Events never
// hold a password or a token. The actor is the authenticated caller, if any; auditAs names it
// where the request proved an identity another way (a login, a registration).
func (s *Server) audit(ctx context.Context, q *db.Queries, typ api.AuditEventType, userID, sessionID *uuid.UUID) error {
	var actor *uuid.UUID
	if c := callerFrom(ctx); c != nil && c.user.ID != uuid.Nil {
		actor = &c.user.ID
	}
	return s.auditAs(ctx, q, typ, actor, userID, sessionID)
}

// auditAs records an event with an explicit actor (nil: nobody authenticated).
func (s *Server) auditAs(ctx context.Context, q *db.Queries, typ api.AuditEventType, actorID, userID, sessionID *uuid.UUID) error {
	meta := requestMetaFrom(ctx)
	return q.AuditEventCreate(ctx, db.AuditEventCreateParams{
		ID:        uuid.Must(uuid.NewV7()),
		Type:      string(typ),
		UserID:    userID,
		ActorID:   actorID,
		SessionID: sessionID,
		Ip:        optional(meta.ip),
		UserAgent: optional(meta.userAgent),
		Now:       s.now(),
	})
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
