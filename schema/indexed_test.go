package schema_test

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/server/servertest"
)

var deleteFrom = regexp.MustCompile(`(?i)\bDELETE\s+FROM\s+([a-z_]+)`)

// TestForeignKeysToDeletedRowsAreIndexed: every foreign key referencing a table whose rows are
// deleted (queries/ has a DELETE FROM it, or an ON DELETE CASCADE reaches it) has an index whose
// leading columns are exactly the key's. Each deleted row makes PostgreSQL find its referencing
// rows: without the index, a scan of the whole referencing table per row. Rows of the other tables
// (users, locations, orders, reservations ...) end by status, never by a delete.
func TestForeignKeysToDeletedRowsAreIndexed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var deleted []string
	for _, q := range sqlcQueries(t, filepath.Join("..", "queries")) {
		for _, m := range deleteFrom.FindAllStringSubmatch(q.sql, -1) {
			if !slices.Contains(deleted, m[1]) {
				deleted = append(deleted, m[1])
			}
		}
	}
	if !slices.Contains(deleted, "products") {
		t.Fatalf("found no DELETE FROM products in queries/ (%v): the parser no longer understands the files", deleted)
	}
	conn, err := pgx.Connect(ctx, servertest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `
WITH RECURSIVE deleted(rel) AS (
  SELECT oid FROM pg_class WHERE relname = ANY($1) AND relkind = 'r' AND relnamespace = 'public'::regnamespace
  UNION
  SELECT c.conrelid FROM pg_constraint c JOIN deleted d ON c.confrelid = d.rel
  WHERE c.contype = 'f' AND c.confdeltype = 'c'
)
SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.confrelid IN (SELECT rel FROM deleted)
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = c.conrelid
      AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey
      AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] <@ c.conkey)
ORDER BY 1, 2`, deleted)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, referenced, def string
		if err := rows.Scan(&table, &referenced, &def); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s: %s has no index: each delete from %s scans all of %s", table, def, referenced, table)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
