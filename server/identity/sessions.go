package identity

import (
	"context"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// ListSessions answers the caller's live sessions, most recently used first.
func (h *Handlers) ListSessions(ctx context.Context, _ api.ListSessionsRequestObject) (api.ListSessionsResponseObject, error) {
	c := kit.CallerFrom(ctx)
	rows, err := h.d.Queries.SessionListLive(ctx, db.SessionListLiveParams{
		UserID:   c.User.ID,
		Now:      h.d.Now(),
		RowLimit: int32(h.auth.SessionsMaxPerUser), //nolint:gosec // bounded by configuration
	})
	if err != nil {
		return nil, err
	}
	items := make([]api.Session, 0, len(rows))
	for _, row := range rows {
		items = append(items, apiSession(row, c.SessionID))
	}
	return api.ListSessions200JSONResponse{Items: items}, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session is a 404, exactly like
// one that does not exist.
func (h *Handlers) RevokeSession(ctx context.Context, req api.RevokeSessionRequestObject) (api.RevokeSessionResponseObject, error) {
	c := kit.CallerFrom(ctx)
	var revoked int64
	err := h.d.InTx(ctx, func(q *db.Queries) error {
		var err error
		revoked, err = q.SessionRevoke(ctx, db.SessionRevokeParams{ID: req.SessionId, UserID: c.User.ID, Now: h.d.Now(), Reason: string(api.AuditEventTypeSessionRevoked)})
		if err != nil || revoked == 0 {
			return err
		}
		return kit.Audit(ctx, h.d, q, api.AuditEventTypeSessionRevoked, &c.User.ID, &req.SessionId)
	})
	if err != nil {
		return nil, err
	}
	if revoked == 0 {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such session.")
	}
	return api.RevokeSession204Response{}, nil
}

// changesSessions lists the operations that may end sessions or change a user (a revocation, a
// password, a role): the server makes their answer wait until this instance's session cache has
// seen the change, so a client that is told "done" never meets this instance's cache from before
// it. Other instances see it within the cache's promise (100 ms).
var changesSessions = map[string]bool{ // the generated code's operation names
	"Login":           true, // may evict the user's least recently used sessions
	"Refresh":         true, // a reused refresh token revokes its session
	"Logout":          true,
	"LogoutAll":       true,
	"RevokeSession":   true,
	"ChangePassword":  true,
	"AdminUpdateUser": true,
	"UpdateMember":    true,
	"RemoveMember":    true,
	"RevokeApiKey":    true,
}

// ChangesSessions reports whether the operation (the generated code's name) may end sessions or
// change a user, so that its answer must wait for the session cache.
func ChangesSessions(operationID string) bool { return changesSessions[operationID] }
