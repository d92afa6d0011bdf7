package schema_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/schema"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestMigrationsRunAsAManagedLogin: every migration applies, reverts and applies again with the
// login managed PostgreSQL (RDS, Cloud SQL, Azure) gives: no superuser, no BYPASSRLS, no right to
// mark a function LEAKPROOF; CREATEROLE and the ownership of its database. The product search's
// index setup (schema/000021) is then complete; TestRareSearchUsesItsTrigramIndex
// (server/catalog) reads the plan it gives.
func TestMigrationsRunAsAManagedLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := servertest.EmptyDatabase(t)

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var super, bypass, createRole bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user`).
		Scan(&super, &bypass, &createRole); err != nil {
		t.Fatal(err)
	}
	if super || bypass || !createRole {
		t.Fatalf("the migrating login is superuser %v, bypassrls %v, createrole %v: want a managed service's login", super, bypass, createRole)
	}

	ups, err := fs.Glob(schema.FS, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	searchReady := func(when string) {
		t.Helper()
		indexed, err := db.New(conn).SearchIsIndexed(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !indexed {
			t.Errorf("%s: the product search's view and policy are missing", when)
		}
	}
	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up: %v", err)
	}
	searchReady("after up")
	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up again (nothing to do, roles ensured again): %v", err)
	}
	if err := schema.Down(url, len(ups)); err != nil {
		t.Fatalf("down all %d: %v", len(ups), err)
	}
	if _, _, ok, err := schema.Version(url); err != nil || ok {
		t.Fatalf("after down all: a version is still applied (ok %v, err %v)", ok, err)
	}
	var left []string
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p') AND c.relname <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("down all left relations behind: %s", strings.Join(left, ", "))
	}
	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	searchReady("after down and up")
}
