package server

import (
	"context"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// ListSessions answers the caller's live sessions, most recently used first.
func (s *Server) ListSessions(ctx context.Context, _ api.ListSessionsRequestObject) (api.ListSessionsResponseObject, error) {
	c := callerFrom(ctx)
	rows, err := s.queries.SessionListLive(ctx, db.SessionListLiveParams{
		UserID:   c.user.ID,
		Now:      s.now(),
		RowLimit: int32(s.auth.SessionsMaxPerUser), //nolint:gosec // bounded by configuration
	})
	if err != nil {
		return nil, err
	}
	items := make([]api.Session, 0, len(rows))
	for _, row := range rows {
		items = append(items, apiSession(row, c.sessionID))
	}
	return api.ListSessions200JSONResponse{Items: items}, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session is a 404, exactly like
// one that does not exist.
func (s *Server) RevokeSession(ctx context.Context, req api.RevokeSessionRequestObject) (api.RevokeSessionResponseObject, error) {
	c := callerFrom(ctx)
	var revoked int64
	err := s.inTx(ctx, func(q *db.Queries) error {
		var err error
		revoked, err = q.SessionRevoke(ctx, db.SessionRevokeParams{ID: req.SessionId, UserID: c.user.ID, Now: s.now(), Reason: string(api.AuditEventTypeSessionRevoked)})
		if err != nil || revoked == 0 {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypeSessionRevoked, &c.user.ID, &req.SessionId)
	})
	if err != nil {
		return nil, err
	}
	if revoked == 0 {
		return api.RevokeSession404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such session.")}, nil
	}
	return api.RevokeSession204Response{}, nil
}
