package server

import (
	"context"
	"net/http"

	"github.com/ecompointer/ecompointer/gen/api"
)

// changesSessions lists the operations that may end sessions or change a user (a revocation, a
// password, a role): their answer waits until this instance's session cache has seen the change,
// so a client that is told "done" never meets this instance's cache from before it. Other
// instances see it within the cache's promise (100 ms).
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
}

// syncSessions is the strict middleware that makes the operations in changesSessions wait for
// the session cache (sessioncache.Cache.Sync) before their answer is written. A successful refresh
// only pushes its session's expiry later, which needs no wait.
func (s *Server) syncSessions(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	if !changesSessions[operationID] {
		return f
	}
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, request any) (any, error) {
		resp, err := f(ctx, w, r, request)
		if _, refreshed := resp.(api.Refresh200JSONResponse); !refreshed {
			s.sessions.Sync(ctx)
		}
		return resp, err
	}
}
