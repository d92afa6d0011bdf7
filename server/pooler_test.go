package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestCheckSessionSettings: behind a transaction pooler the application role is the pooler
// login's default, not a start-up parameter, so the server checks it before serving. A pool that
// runs as the application role passes; one whose settings were dropped (WithTransactionPooler,
// with no role default in the database) is refused with the statement that mends it.
func TestCheckSessionSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := servertest.New(t)
	if err := server.CheckSessionSettings(ctx, env.Pool, servertest.AppRole, false); err != nil {
		t.Errorf("the application role's pool: %v", err)
	}
	if err := server.CheckSessionSettings(ctx, env.Pool, servertest.AppRole, true); err == nil || !strings.Contains(err.Error(), "nats_publish") {
		t.Errorf("a pool without the NATS flag passed as one with it: %v", err)
	}
	pooled, err := server.NewPool(ctx, env.OwnerURL, servertest.AppRole, server.WithTransactionPooler(pgx.QueryExecModeCacheDescribe))
	if err != nil {
		t.Fatal(err)
	}
	defer pooled.Close()
	err = server.CheckSessionSettings(ctx, pooled, servertest.AppRole, false)
	if err == nil || !strings.Contains(err.Error(), "ALTER ROLE") {
		t.Errorf("a pool running as the owner passed: %v", err)
	}
}
