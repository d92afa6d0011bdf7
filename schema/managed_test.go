package schema_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/schema"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestMigrationsRunAsAManagedLogin: every migration applies, reverts and applies again with the
// login managed PostgreSQL (RDS, Cloud SQL, Azure) gives: no superuser, no BYPASSRLS, no right to
// mark a function LEAKPROOF; CREATEROLE and the ownership of its database. The product search's
// view (schema/000028) is then the application role's only, read-only, way to its table;
// TestSearchPlansByItsTerm (server/catalog) reads the plans it gives.
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
	// The product search (schema/000028): its view, owned by the migrating login, is the
	// application role's only way to its table, and only to read.
	searchReady := func(when string) {
		t.Helper()
		var owner string
		var view, viewWrite, table bool
		err := conn.QueryRow(ctx, `
			SELECT pg_get_userbyid(c.relowner)::text,
			       has_table_privilege($1::text, 'product_search', 'SELECT'),
			       has_table_privilege($1::text, 'product_search', 'INSERT, UPDATE, DELETE, TRUNCATE'),
			       has_table_privilege($1::text, 'product_search_terms', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
			FROM pg_class c WHERE c.oid = 'product_search'::regclass`, servertest.AppRole).Scan(&owner, &view, &viewWrite, &table)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !view || viewWrite || table {
			t.Errorf("%s: the application role reads the search view %v, writes it %v, has a right on its table %v: want true, false, false",
				when, view, viewWrite, table)
		}
		var me string
		if err := conn.QueryRow(ctx, `SELECT current_user::text`).Scan(&me); err != nil {
			t.Fatal(err)
		}
		if owner != me {
			t.Errorf("%s: the search view is owned by %s, want the migrating login %s", when, owner, me)
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

// TestSearchUpgradesFromItsRole: a database at 000027 whose search view the previous release gave
// to the search role (product_search_ensure, at every start) migrates to 000028 as a managed
// login: the view is then the migrating login's, over product_search_terms, which holds the
// products that were there; the search role's policy and its right on products are gone, and the
// login is left no member of that role (a member would see every brand's products).
func TestSearchUpgradesFromItsRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := servertest.EmptyDatabase(t)
	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up: %v", err)
	}
	if err := schema.Down(url, 1); err != nil {
		t.Fatalf("down to 000027: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	searchRole := servertest.AppRole + "_search"
	brand, product := "0190f3a0-0000-7000-8000-0000000000b1", "0190f3a0-0000-7000-8000-0000000000c1"
	for _, stmt := range []string{
		// What the previous release's start did.
		`SELECT product_search_ensure('` + servertest.AppRole + `')`,
		`INSERT INTO brands (id, name, slug, created_at, updated_at) VALUES ('` + brand + `', 'Upgrade', 'upgrade', now(), now())`,
		`BEGIN`,
		`SELECT set_config('app.brand_id', '` + brand + `', true)`,
		`INSERT INTO products (brand_id, id, sku, name, price_amount, currency, created_at, updated_at)
		 VALUES ('` + brand + `', '` + product + `', 'UP-1', 'Upgraded lamp', 100, 'USD', now(), now())`,
		`COMMIT`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("at 000027, %s: %v", stmt, err)
		}
	}
	var owner string
	if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'product_search'::regclass`).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != searchRole {
		t.Fatalf("at 000027 the search view is owned by %s, want %s: this test no longer starts where the previous release left", owner, searchRole)
	}

	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up to 000028: %v", err)
	}
	var me, name string
	var policies int
	var roleReads, member bool
	err = conn.QueryRow(ctx, `
		SELECT current_user::text, pg_get_userbyid(c.relowner)::text,
		       (SELECT count(*)::int FROM pg_policies WHERE tablename = 'products' AND policyname = 'product_search_reads'),
		       has_table_privilege($1::text, 'products', 'SELECT'),
		       pg_has_role(current_user, $1::text, 'MEMBER')
		FROM pg_class c WHERE c.oid = 'product_search'::regclass`, searchRole).Scan(&me, &owner, &policies, &roleReads, &member)
	if err != nil {
		t.Fatal(err)
	}
	if owner != me || policies != 0 || roleReads || member {
		t.Errorf("after the upgrade: view owned by %s (want %s), %d search policies, the search role reads products %v, the login is its member %v",
			owner, me, policies, roleReads, member)
	}
	if err := conn.QueryRow(ctx, `SELECT name FROM product_search_terms WHERE brand_id = $1 AND id = $2`, brand, product).Scan(&name); err != nil || name != "Upgraded lamp" {
		t.Errorf("the product's search row after the upgrade: %q, %v", name, err)
	}
}
