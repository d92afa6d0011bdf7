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
	url, conn := databaseAt(t, 27)
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
	err := conn.QueryRow(ctx, `
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

// TestHoldsMigrateAsAManagedLogin: 000011 copies each reservation's expiry onto its allocations
// and sums the live ones into level_hold_expiries. The tables' owner is under the brands'
// policies (FORCE ROW LEVEL SECURITY), so as a managed login those copies saw no brand's rows: a
// database at 000010 with a live reservation failed the upgrade (the allocation's expiry stayed
// NULL under a NOT NULL) and stayed dirty. A superuser, as every earlier test migrated, reads
// every row and never showed it.
func TestHoldsMigrateAsAManagedLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, conn := databaseAt(t, 10)
	const (
		brand, product, location = "0190f3a0-0000-7000-8000-0000000000b2", "0190f3a0-0000-7000-8000-0000000000c2", "0190f3a0-0000-7000-8000-0000000000d2"
		reservation              = "0190f3a0-0000-7000-8000-0000000000e2"
	)
	for _, stmt := range []string{
		`INSERT INTO brands (id, name, slug, created_at, updated_at) VALUES ('` + brand + `', 'Holds', 'holds', now(), now())`,
		`BEGIN`,
		`SELECT set_config('app.brand_id', '` + brand + `', true)`,
		`INSERT INTO products (brand_id, id, sku, name, price_amount, currency, created_at, updated_at)
		 VALUES ('` + brand + `', '` + product + `', 'H-1', 'Held lamp', 100, 'USD', now(), now())`,
		`INSERT INTO locations (brand_id, id, code, name, created_at, updated_at)
		 VALUES ('` + brand + `', '` + location + `', 'WH', 'Warehouse', now(), now())`,
		`INSERT INTO stock_levels (brand_id, product_id, location_id, on_hand, reserved, updated_at)
		 VALUES ('` + brand + `', '` + product + `', '` + location + `', 10, 3, now())`,
		`INSERT INTO reservations (brand_id, id, expires_at, created_at, updated_at)
		 VALUES ('` + brand + `', '` + reservation + `', '2030-01-01T00:00:00.5Z', now(), now())`,
		`INSERT INTO reservation_allocations (brand_id, reservation_id, line_no, product_id, location_id, quantity)
		 VALUES ('` + brand + `', '` + reservation + `', 0, '` + product + `', '` + location + `', 3)`,
		`COMMIT`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("at 000010, %s: %v", stmt, err)
		}
	}

	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up from 000010 with a live hold: %v", err)
	}
	var expires string
	var live bool
	var held int64
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.brand_id', $1, true)`, brand); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT expires_at::text, live FROM reservation_allocations WHERE reservation_id = $1`, reservation).Scan(&expires, &live); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT quantity FROM level_hold_expiries WHERE product_id = $1 AND expires_at = '2030-01-01T00:00:01Z'`, product).Scan(&held)
	})
	if err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
	if !strings.HasPrefix(expires, "2030-01-01") || !live || held != 3 {
		t.Errorf("after the upgrade the allocation expires %s (live %v), and its level's expiries hold %d: want 2030-01-01, true, 3", expires, live, held)
	}
}

// databaseAt is a new database migrated as a managed login up to the newest version and back down
// to version (as an earlier release left it), and a connection to it as that login.
func databaseAt(t *testing.T, version uint) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := servertest.EmptyDatabase(t)
	if err := schema.Up(ctx, url, servertest.AppRole); err != nil {
		t.Fatalf("up: %v", err)
	}
	versions, err := schema.Versions()
	if err != nil {
		t.Fatal(err)
	}
	newer := 0
	for _, v := range versions {
		if v > version {
			newer++
		}
	}
	if err := schema.Down(url, newer); err != nil {
		t.Fatalf("down to %d: %v", version, err)
	}
	if v, _, _, err := schema.Version(url); err != nil || v != version {
		t.Fatalf("at version %d (%v), want %d", v, err, version)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return url, conn
}
