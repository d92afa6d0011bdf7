package server

import (
	"context"
	"net/http"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/identity"
)

// syncSessions is the strict middleware that makes the operations that change sessions (identity.ChangesSessions) wait for
// the session cache (sessioncache.Cache.Sync) before their answer is written. A successful refresh
// only pushes its session's expiry later, which needs no wait.
func (s *Server) syncSessions(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	if !identity.ChangesSessions(operationID) {
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
