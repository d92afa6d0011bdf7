package server_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
