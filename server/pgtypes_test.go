package server_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestUUIDCodec round-trips ids (and nullable text and bigint, and times) through the pool's connections as the generated queries bind and
// scan them (binary, with a prepared statement) and as the simple protocol does (text): the
// direct uuid plans must read and write exactly what pgx-google-uuid's did.
func TestUUIDCodec(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	id := uuid.MustParse("0193a6c4-7e1f-7b2a-9c3d-4e5f60718293")
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			var (
				got, asText uuid.UUID
				null, some  *uuid.UUID
				list        []uuid.UUID
				nullable    uuid.NullUUID
				isNull      bool
			)
			err := env.Pool.QueryRow(t.Context(),
				`SELECT $1::uuid, $1::uuid::text::uuid, NULL::uuid, $1::uuid, ARRAY[$1::uuid, $2::uuid], NULL::uuid, $3::uuid IS NULL`,
				mode, id, uuid.Nil, (*uuid.UUID)(nil),
			).Scan(&got, &asText, &null, &some, &list, &nullable, &isNull)
			if err != nil {
				t.Fatal(err)
			}
			if got != id || asText != id {
				t.Errorf("scanned %s and %s, want %s", got, asText, id)
			}
			if null != nil {
				t.Errorf("NULL scanned into *uuid.UUID as %s, want nil", null)
			}
			if some == nil || *some != id {
				t.Errorf("scanned into *uuid.UUID as %v, want %s", some, id)
			}
			if len(list) != 2 || list[0] != id || list[1] != uuid.Nil {
				t.Errorf("array scanned as %v", list)
			}
			if nullable.Valid {
				t.Errorf("NULL scanned into uuid.NullUUID as valid %s", nullable.UUID)
			}
			if !isNull {
				t.Error("a nil *uuid.UUID was not bound as NULL")
			}
			var text string
			if err := env.Pool.QueryRow(t.Context(), `SELECT $1::uuid::text`, mode, id).Scan(&text); err != nil {
				t.Fatal(err)
			}
			if text != id.String() {
				t.Errorf("bound as %q, want %q", text, id.String())
			}
			var (
				noText, someText, someVarchar *string
				noInt, someInt                *int64
			)
			err = env.Pool.QueryRow(t.Context(), `SELECT NULL::text, 'brass ✓'::text, 'oak'::varchar, NULL::int8, -9007199254740993::int8`, mode).
				Scan(&noText, &someText, &someVarchar, &noInt, &someInt)
			if err != nil {
				t.Fatal(err)
			}
			if noText != nil || someText == nil || *someText != "brass ✓" || someVarchar == nil || *someVarchar != "oak" {
				t.Errorf("nullable text scanned as %v %v %v", noText, someText, someVarchar)
			}
			if noInt != nil || someInt == nil || *someInt != -9007199254740993 {
				t.Errorf("nullable bigint scanned as %v %v", noInt, someInt)
			}
			var at time.Time
			if err := env.Pool.QueryRow(t.Context(), `SELECT '2026-11-25T10:00:00.123456Z'::timestamptz`, mode).Scan(&at); err != nil {
				t.Fatal(err)
			}
			if want := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC); !at.Equal(want) {
				t.Errorf("timestamptz scanned as %s, want %s", at, want)
			}
			for _, bad := range []string{`SELECT NULL::timestamptz`, `SELECT 'infinity'::timestamptz`} {
				if err := env.Pool.QueryRow(t.Context(), bad, mode).Scan(&at); err == nil {
					t.Errorf("%s scanned into time.Time without an error", bad)
				}
			}
			var into uuid.UUID
			if err := env.Pool.QueryRow(t.Context(), `SELECT NULL::uuid`, mode).Scan(&into); err == nil {
				t.Error("NULL scanned into uuid.UUID without an error")
			}
		})
	}
}

// scanCase is a query on literals and the kind of value its one column is scanned into.
type scanCase struct {
	name   string
	sql    string
	args   []any
	target func() any // a new pointer to scan into
	// want, when set, is what the column must scan as (pgx's answer, pinned where the API
	// depends on it); fails says the scan must fail.
	want  any
	fails bool
}

// execModes are the ways a test scans: as the generated queries run (a cached prepared
// statement: pgx asks arrays in binary, enums in text), with every result in binary, and as the
// simple protocol runs (everything in text; a transaction pooler's exec modes are among these).
var execModes = []struct {
	name string
	args []any
}{
	{"cache statement", []any{pgx.QueryExecModeCacheStatement}},
	{"binary results", []any{pgx.QueryExecModeCacheStatement, pgx.QueryResultFormats{pgx.BinaryFormatCode}}},
	{"simple protocol", []any{pgx.QueryExecModeSimpleProtocol}},
}

// compareScans scans each case through the pool's connections and through a plain pgx connection
// to the same database (pgx's own types only, none of registerTypes'), in every exec mode: the
// values must be deeply equal, nil-ness included, and a scan fails on one exactly when it fails
// on the other.
func compareScans(t *testing.T, cases []scanCase) {
	t.Helper()
	env := servertest.New(t)
	plain, err := pgx.Connect(t.Context(), env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close(context.Background()) })
	for _, mode := range execModes {
		t.Run(mode.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					args := append(append([]any{}, mode.args...), c.args...)
					got, want := c.target(), c.target()
					gotErr := env.Pool.QueryRow(t.Context(), c.sql, args...).Scan(got)
					wantErr := plain.QueryRow(t.Context(), c.sql, args...).Scan(want)
					if (gotErr != nil) != (wantErr != nil) {
						t.Fatalf("scan error %v, pgx's own %v", gotErr, wantErr)
					}
					if (gotErr != nil) != c.fails {
						t.Fatalf("scan error %v, want an error: %t", gotErr, c.fails)
					}
					if gotErr != nil {
						return
					}
					g, w := reflect.ValueOf(got).Elem().Interface(), reflect.ValueOf(want).Elem().Interface()
					if !reflect.DeepEqual(g, w) {
						t.Errorf("scanned %#v, pgx's own %#v", g, w)
					}
					if c.want != nil && !reflect.DeepEqual(g, c.want) {
						t.Errorf("scanned %#v, want %#v", g, c.want)
					}
				})
			}
		})
	}
}

func newTarget[T any]() func() any { return func() any { return new(T) } }

// TestEnumCodec: enum labels scan into sqlc's enum types, strings, pointers and sqlc's nullable
// wrappers exactly as pgx scanned them before the enums were registered, and NULL into a value
// that cannot hold it still fails.
func TestEnumCodec(t *testing.T) {
	t.Parallel()
	compareScans(t, []scanCase{
		{name: "product status", sql: `SELECT 'active'::product_status`, target: newTarget[db.ProductStatus](), want: db.ProductStatusActive},
		{name: "order status", sql: `SELECT 'partially_fulfilled'::order_status`, target: newTarget[db.OrderStatus](), want: db.OrderStatusPartiallyFulfilled},
		{name: "bound label", sql: `SELECT $1::product_status`, args: []any{db.ProductStatusArchived}, target: newTarget[db.ProductStatus](), want: db.ProductStatusArchived},
		{name: "bound string", sql: `SELECT $1::user_role`, args: []any{"BRAND_OWNER"}, target: newTarget[db.UserRole](), want: db.UserRoleBRANDOWNER},
		{name: "string", sql: `SELECT 'draft'::product_status`, target: newTarget[string](), want: "draft"},
		{name: "pointer", sql: `SELECT 'cancelled'::purchase_order_status`, target: newTarget[*db.PurchaseOrderStatus]()},
		{name: "NULL pointer", sql: `SELECT NULL::purchase_order_status`, target: newTarget[*db.PurchaseOrderStatus](), want: (*db.PurchaseOrderStatus)(nil)},
		{name: "nullable", sql: `SELECT 'draft'::product_status`, target: newTarget[db.NullProductStatus](),
			want: db.NullProductStatus{ProductStatus: db.ProductStatusDraft, Valid: true}},
		{name: "nullable NULL", sql: `SELECT NULL::product_status`, target: newTarget[db.NullProductStatus](), want: db.NullProductStatus{}},
		{name: "bound NULL", sql: `SELECT $1::product_status`, args: []any{db.NullProductStatus{}}, target: newTarget[db.NullProductStatus](), want: db.NullProductStatus{}},
		{name: "NULL into a label", sql: `SELECT NULL::product_status`, target: newTarget[db.ProductStatus](), fails: true},
		{name: "NULL into a string", sql: `SELECT NULL::order_status`, target: newTarget[string](), fails: true},
		{name: "river's own", sql: `SELECT 'available'::river_job_state`, target: newTarget[db.RiverJobState](), want: db.RiverJobStateAvailable},
		{name: "bytes", sql: `SELECT 'restock'::return_disposition`, target: newTarget[[]byte](), want: []byte("restock")},
		{name: "text scanner", sql: `SELECT 'receipt'::movement_kind`, target: newTarget[pgtype.Text](), want: pgtype.Text{String: "receipt", Valid: true}},
		{name: "text scanner NULL", sql: `SELECT NULL::movement_kind`, target: newTarget[pgtype.Text](), want: pgtype.Text{}},
	})
}

// TestTextArrayCodec: text[] and varchar[] scan into []string exactly as pgx's generic array
// plan scanned them: an empty array is an empty slice and NULL is nil (the API answers "tags": []
// and null), and what the direct plan leaves to pgx (several dimensions, NULL elements, text)
// comes out as it always has.
func TestTextArrayCodec(t *testing.T) {
	t.Parallel()
	strs := newTarget[[]string]()
	compareScans(t, []scanCase{
		{name: "empty", sql: `SELECT '{}'::text[]`, target: strs, want: []string{}},
		{name: "NULL", sql: `SELECT NULL::text[]`, target: strs, want: []string(nil)},
		{name: "two", sql: `SELECT ARRAY['a', 'b']`, target: strs, want: []string{"a", "b"}},
		{name: "empty strings", sql: `SELECT ARRAY['', 'x', '']`, target: strs, want: []string{"", "x", ""}},
		{name: "one empty string", sql: `SELECT ARRAY['']`, target: strs, want: []string{""}},
		{name: "non-ASCII", sql: `SELECT ARRAY['brass ✓', '日本語', 'é']`, target: strs, want: []string{"brass ✓", "日本語", "é"}},
		{name: "quoting", sql: `SELECT ARRAY['a,b', '"q"', 'back\slash', 'NULL', '{x}', ' ']`, target: strs,
			want: []string{"a,b", `"q"`, `back\slash`, "NULL", "{x}", " "}},
		{name: "lower bound", sql: `SELECT '[2:3]={a,b}'::text[]`, target: strs},
		{name: "two dimensions", sql: `SELECT '{{a,b},{c,d}}'::text[]`, target: strs},
		{name: "NULL element", sql: `SELECT ARRAY['a', NULL]`, target: strs, fails: true},
		{name: "only NULL", sql: `SELECT ARRAY[NULL::text]`, target: strs, fails: true},
		{name: "many", sql: `SELECT array_agg(g::text ORDER BY g) FROM generate_series(1, 1000) g`, target: strs},
		{name: "bound", sql: `SELECT $1::text[]`, args: []any{[]string{"x", "", "z"}}, target: strs, want: []string{"x", "", "z"}},
		{name: "bound empty", sql: `SELECT $1::text[]`, args: []any{[]string{}}, target: strs, want: []string{}},
		{name: "bound nil", sql: `SELECT $1::text[]`, args: []any{[]string(nil)}, target: strs, want: []string(nil)},
		{name: "varchar", sql: `SELECT ARRAY['oak', 'ash']::varchar[]`, target: strs, want: []string{"oak", "ash"}},
		{name: "varchar empty", sql: `SELECT '{}'::varchar[]`, target: strs, want: []string{}},
		{name: "varchar NULL", sql: `SELECT NULL::varchar[]`, target: strs, want: []string(nil)},
		{name: "pointer", sql: `SELECT ARRAY['a']`, target: newTarget[*[]string]()},
		{name: "NULL pointer", sql: `SELECT NULL::text[]`, target: newTarget[*[]string](), want: (*[]string)(nil)},
		{name: "nullable elements", sql: `SELECT ARRAY['a', NULL]`, target: newTarget[[]*string]()},
		{name: "flat array", sql: `SELECT '{{a,b},{c,d}}'::text[]`, target: newTarget[pgtype.FlatArray[string]]()},
		{name: "array", sql: `SELECT '[2:3]={a,b}'::text[]`, target: newTarget[pgtype.Array[string]]()},
		{name: "any", sql: `SELECT ARRAY['a', NULL]`, target: newTarget[any]()},
	})
}

// TestPoolTypeRegistration: a pool connection knows the application's enums by the OIDs this
// database gave them (river's river_job_state excepted), and its direct plans allocate what
// server/pgtypes.go says: nothing for a label seen before, two for a list of tags (the slice and
// one string for every tag), nothing to plan either again. Not parallel: testing.AllocsPerRun counts the whole process's
// allocations.
func TestPoolTypeRegistration(t *testing.T) {
	env := servertest.New(t)
	conn, err := env.Pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tm := conn.Conn().TypeMap()
	oidOf := func(name string) uint32 {
		t.Helper()
		var oid uint32
		if err := conn.QueryRow(t.Context(), `SELECT $1::regtype::oid`, name).Scan(&oid); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return oid
	}
	for _, name := range []string{"user_role", "product_status", "reservation_status", "movement_kind", "order_status",
		"order_action", "return_status", "return_reason", "return_disposition", "purchase_order_status"} {
		typ, ok := tm.TypeForName(name)
		if !ok {
			t.Errorf("%s is not registered", name)
			continue
		}
		if want := oidOf(name); typ.OID != want {
			t.Errorf("%s registered as OID %d, want %d", name, typ.OID, want)
		}
		if got, ok := tm.TypeForOID(typ.OID); !ok || got != typ {
			t.Errorf("%s is not registered under its OID %d", name, typ.OID)
		}
	}
	if typ, ok := tm.TypeForName("river_job_state"); ok {
		t.Errorf("river's river_job_state is registered (%T)", typ.Codec)
	}
	if _, ok := tm.TypeForOID(oidOf("river_job_state")); ok {
		t.Error("river's river_job_state is registered by OID")
	}

	statusOID := oidOf("product_status")
	for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
		var status db.ProductStatus
		plan := tm.PlanScan(statusOID, format, &status)
		label := []byte("archived")
		if err := plan.Scan(label, &status); err != nil || status != db.ProductStatusArchived {
			t.Fatalf("format %d: scanned %q, %v", format, status, err)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = plan.Scan(label, &status) }); n != 0 {
			t.Errorf("format %d: scanning a label seen before allocates %v times, want 0", format, n)
		}
	}

	src, err := tm.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, []string{"bench", "brass", "✓"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	plan := tm.PlanScan(pgtype.TextArrayOID, pgtype.BinaryFormatCode, &tags)
	if err := plan.Scan(src, &tags); err != nil || !reflect.DeepEqual(tags, []string{"bench", "brass", "✓"}) {
		t.Fatalf("scanned %q, %v", tags, err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = plan.Scan(src, &tags) }); n != 2 {
		t.Errorf("scanning three tags allocates %v times, want 2", n)
	}

	// pgx plans every column of every query: planning again must cost nothing.
	var status db.ProductStatus
	for what, plan := range map[string]func(){
		"tags":   func() { tm.PlanScan(pgtype.TextArrayOID, pgtype.BinaryFormatCode, &tags) },
		"status": func() { tm.PlanScan(statusOID, pgtype.TextFormatCode, &status) },
	} {
		if n := testing.AllocsPerRun(1000, plan); n != 0 {
			t.Errorf("planning a scan of the %s again allocates %v times, want 0", what, n)
		}
	}
}

// TestPoolOnEmptyDatabase: a database whose migrations have not run yet has no enum types to
// register, and the pool connects to it all the same.
func TestPoolOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := servertest.EmptyDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// The application role does not exist before the migrations: run as the login itself.
	pool, err := server.NewPool(t.Context(), dbURL, u.User.Username())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var tags []string
	if err := pool.QueryRow(t.Context(), `SELECT ARRAY['a']`).Scan(&tags); err != nil {
		t.Fatalf("a pool on a database without migrations: %v", err)
	}
	if !reflect.DeepEqual(tags, []string{"a"}) {
		t.Errorf("scanned %q", tags)
	}
}

// BenchmarkScanEnumAndTags scans twenty rows of a product's status and three tags through a pool
// connection ("registered") and through a plain pgx connection ("pgx": pgx's own types only).
func BenchmarkScanEnumAndTags(b *testing.B) {
	env := servertest.New(b)
	pooled, err := env.Pool.Acquire(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer pooled.Release()
	plain, err := pgx.Connect(b.Context(), env.OwnerURL)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = plain.Close(context.Background()) }()
	for _, c := range []struct {
		name string
		conn *pgx.Conn
	}{{"registered", pooled.Conn()}, {"pgx", plain}} {
		b.Run(c.name, func(b *testing.B) {
			var (
				status db.ProductStatus
				tags   []string
			)
			b.ReportAllocs()
			for b.Loop() {
				rows, err := c.conn.Query(b.Context(),
					`SELECT 'active'::product_status, ARRAY['bench', 'brass', 'black']::text[] FROM generate_series(1, 20)`)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					if err := rows.Scan(&status, &tags); err != nil {
						b.Fatal(err)
					}
				}
				if rows.Err() != nil {
					b.Fatal(rows.Err())
				}
			}
		})
	}
}
