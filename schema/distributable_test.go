package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/server/servertest"
)

// globalTables are the tables that are not one brand's data; every other table is brand-scoped
// and must be distributable by brand_id (docs/citus.md says where each goes). A new table is
// brand-scoped unless it is named here, with the reason.
var globalTables = map[string]string{
	"brands":             "the tenant registry itself (reference table)",
	"users":              "a login finds its user by email before any brand is known (reference table)",
	"sessions":           "a refresh token is found by its hash before any brand is known (reference table)",
	"api_keys":           "a request's key is found by its digest before any brand is known (reference table)",
	"audit_events":       "identity events, some of them (a failed login) of no brand (local table)",
	"login_throttles":    "keyed by email and address, before any user or brand (local table)",
	"idempotency_keys":   "keyed by the caller (user) and operation (reference table)",
	"schema_migrations":  "golang-migrate's bookkeeping",
	"river_job":          "the job queue: river's tables stay on the coordinator (local tables)",
	"river_leader":       "the job queue (local table)",
	"river_migration":    "the job queue (local table)",
	"river_notification": "the job queue (local table)",
	"river_queue":        "the job queue (local table)",
}

// crossBrandQueries are the statements that touch brand-scoped tables without naming a brand:
// sweepers that work through every brand's rows (on Citus, multi-shard statements, run by a
// background worker, never on a request's path).
var crossBrandQueries = map[string]string{
	"EventPrune":           "the events retention sweeper",
	"WebhookDeliveryPrune": "the webhook deliveries retention sweeper",
	"OrdersDue":            "the order expiry sweeper's work list",
	"ReservationsDue":      "the reservation expiry sweeper's work list",
}

// TestSchemaIsDistributable: the schema stays distributable by brand_id (Citus, docs/citus.md).
// Every brand-scoped table has brand_id leading its primary key, in every unique constraint and in
// every foreign key to another brand-scoped table (with brand_id referencing brand_id); no global
// table references a brand-scoped one; and every query in queries/ that reads or writes a
// brand-scoped table names a brand (brand_id compared, or inserted).
func TestSchemaIsDistributable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, servertest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()

	rows, err := conn.Query(ctx, `
		SELECT c.relname, c.relkind::text,
		       coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
		                 FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
		                 WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS pk
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v')`)
	if err != nil {
		t.Fatal(err)
	}
	brandScoped := map[string]bool{}
	views := map[string]bool{}
	for rows.Next() {
		var name, kind string
		var pk []string
		if err := rows.Scan(&name, &kind, &pk); err != nil {
			t.Fatal(err)
		}
		if _, global := globalTables[name]; global {
			continue
		}
		brandScoped[name] = true
		if kind == "v" {
			views[name] = true // a view of brand-scoped tables: no key of its own
			continue
		}
		if len(pk) == 0 || pk[0] != "brand_id" {
			t.Errorf("%s: brand-scoped (not in globalTables) and its primary key (%s) does not lead with brand_id",
				name, strings.Join(pk, ", "))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range globalTables {
		if brandScoped[name] {
			t.Errorf("%s is both global and brand-scoped", name)
		}
	}

	t.Run("unique constraints", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT c.relname, ic.relname,
			       array(SELECT a.attname::text FROM unnest(i.indkey) AS k(attnum)
			             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)
			FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND i.indisunique`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var table, index string
			var cols []string
			if err := rows.Scan(&table, &index, &cols); err != nil {
				t.Fatal(err)
			}
			if brandScoped[table] && !slices.Contains(cols, "brand_id") {
				t.Errorf("%s: unique index %s (%s) lacks brand_id: a distributed table's uniqueness must include it",
					table, index, strings.Join(cols, ", "))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("foreign keys", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT con.conname, c.relname, fc.relname,
			       array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
			             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
			       array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
			             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
			FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class fc ON fc.oid = con.confrelid
			WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, table, ref string
			var cols, refCols []string
			if err := rows.Scan(&name, &table, &ref, &cols, &refCols); err != nil {
				t.Fatal(err)
			}
			switch {
			case !brandScoped[table] && brandScoped[ref]:
				t.Errorf("%s: global table %s references brand-scoped %s: a reference table cannot point into a distributed one", name, table, ref)
			case brandScoped[table] && brandScoped[ref]:
				i := slices.Index(cols, "brand_id")
				if i < 0 || refCols[i] != "brand_id" {
					t.Errorf("%s: %s (%s) → %s (%s) does not carry brand_id to brand_id: the rows could sit on different nodes",
						name, table, strings.Join(cols, ", "), ref, strings.Join(refCols, ", "))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("queries", func(t *testing.T) {
		queries := sqlcQueries(t, filepath.Join("..", "queries"))
		if len(queries) < 50 {
			t.Fatalf("found only %d queries in queries/: the parser no longer understands the files", len(queries))
		}
		for name := range crossBrandQueries {
			if _, ok := queries[name]; !ok {
				t.Errorf("crossBrandQueries names %s, which queries/ no longer has", name)
			}
		}
		for name, q := range queries {
			var touched []string
			for _, m := range tableRef.FindAllStringSubmatch(q.sql, -1) {
				if table := strings.ToLower(m[1]); brandScoped[table] && !slices.Contains(touched, table) {
					touched = append(touched, table)
				}
			}
			if len(touched) == 0 {
				continue
			}
			_, exempt := crossBrandQueries[name]
			switch names := brandPredicate.MatchString(q.sql); {
			case !names && !exempt:
				t.Errorf("%s (%s) touches brand-scoped %s without a brand_id condition: add one, or name it in crossBrandQueries with the reason",
					name, q.file, strings.Join(touched, ", "))
			case exempt && brandParameter.MatchString(q.sql):
				// A join on brand_id (a cross-brand sweeper's co-located join) still crosses
				// brands; a brand given as a parameter does not.
				t.Errorf("%s names a brand now: take it out of crossBrandQueries", name)
			}
		}
	})
}

var (
	// FROM/JOIN/UPDATE/INTO followed by a table name (queries/ never quote or schema-qualify them).
	tableRef = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_][a-z0-9_]*)`)
	// brand_id compared (=, IN, = ANY), or first in a row value or column list (a keyset, a
	// conflict target, an INSERT's columns).
	brandPredicate = regexp.MustCompile(`(?i)(\bbrand_id\s*(=|\bIN\b))|(=\s*(\w+\.)?brand_id\b)|(\(\s*(\w+\.)?brand_id\s*,)`)
	// brand_id compared with a parameter: the statement is one brand's.
	brandParameter = regexp.MustCompile(`(?i)\bbrand_id\s*=\s*(@|\$\d|sqlc\.)`)
	lineComment    = regexp.MustCompile(`--[^\n]*`)
	queryName      = regexp.MustCompile(`(?m)^-- name: (\w+) :\w+`)
)

type sqlcQuery struct{ file, sql string }

// sqlcQueries reads every `-- name:` statement under dir (queries/ and its subdirectories), without
// its comments.
func sqlcQueries(t *testing.T, dir string) map[string]sqlcQuery {
	t.Helper()
	out := map[string]sqlcQuery{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(data)
		locs := queryName.FindAllStringSubmatchIndex(text, -1)
		for i, loc := range locs {
			end := len(text)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			name := text[loc[2]:loc[3]]
			if prev, dup := out[name]; dup {
				t.Errorf("query %s in both %s and %s", name, prev.file, path)
			}
			out[name] = sqlcQuery{file: path, sql: lineComment.ReplaceAllString(text[loc[1]:end], "")}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
