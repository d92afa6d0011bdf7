package identity_test

import (
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func TestPruneDeletesLongDeadSessions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("prune")
	env.Register(t, email)
	gone := env.Login(t, email, servertest.Password)
	if r, err := env.Client.LogoutWithResponse(ctx, servertest.Bearer(gone.AccessToken)); err != nil || r.StatusCode() != 204 {
		t.Fatalf("logout = %v", err)
	}

	// Revoked 29 days ago: kept.
	if n, err := identity.Prune(ctx, db.New(env.Pool), env.Clock.Now().Add(29*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune at 29 days = %d, %v", n, err)
	}
	// Revoked 31 days ago: deleted; the live session (its refresh token valid for 7 days) expired
	// 24 days ago: kept until its 30 days are up.
	if n, err := identity.Prune(ctx, db.New(env.Pool), env.Clock.Now().Add(31*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune at 31 days = %d, %v; want 1", n, err)
	}
	if n, err := identity.Prune(ctx, db.New(env.Pool), env.Clock.Now().Add(38*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune at 38 days = %d, %v; want 1", n, err)
	}
}
