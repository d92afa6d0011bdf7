package server

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// textArrayPlans are the direct plan for *[]string on a map as a pool connection has it, and
// the plan pgx makes on a map of its own types only.
func textArrayPlans(t testing.TB, oid uint32) (direct scanTextArray, own pgtype.ScanPlan) {
	t.Helper()
	m := pgtype.NewMap()
	registerTypes(m)
	plan, ok := m.PlanScan(oid, pgtype.BinaryFormatCode, new([]string)).(scanTextArray)
	if !ok {
		t.Fatalf("OID %d: no direct plan for *[]string", oid)
	}
	return plan, pgtype.NewMap().PlanScan(oid, pgtype.BinaryFormatCode, new([]string))
}

// TestTextArrayFallbackIsPgxPlan: what the direct plan leaves to pgx goes to the very plan pgx
// makes for *[]string (its wrapping of the target, chosen by pgtype.Map.PlanScan, may change with
// a pgx upgrade; this says so).
func TestTextArrayFallbackIsPgxPlan(t *testing.T) {
	t.Parallel()
	for _, oid := range []uint32{pgtype.TextArrayOID, pgtype.VarcharArrayOID} {
		direct, own := textArrayPlans(t, oid)
		if got, want := fmt.Sprintf("%T", direct.pgx), fmt.Sprintf("%T", own); got != want {
			t.Errorf("OID %d: falls back to %s, pgx plans %s", oid, got, want)
		}
	}
}

// FuzzTextArrayScan: whatever bytes arrive as a binary text[], the direct plan scans what pgx's
// own plan scans (nil-ness included) and fails exactly when it fails.
func FuzzTextArrayScan(f *testing.F) {
	m := pgtype.NewMap()
	for _, v := range []any{
		[]string{}, []string{"a", "b"}, []string{""}, []string{"brass ✓", "日本語"}, []string{"a", "", "NULL"},
		[]*string{new("a"), nil},
		pgtype.Array[string]{Elements: []string{"a", "b", "c", "d"}, Dims: []pgtype.ArrayDimension{{Length: 2, LowerBound: 1}, {Length: 2, LowerBound: 1}}, Valid: true},
		pgtype.Array[string]{Elements: []string{"a", "b"}, Dims: []pgtype.ArrayDimension{{Length: 2, LowerBound: 2}}, Valid: true},
	} {
		src, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 0, 0, 0, 0, 1}) // one dimension, no elements
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 'a'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0})
	direct, own := textArrayPlans(f, pgtype.TextArrayOID)
	f.Fuzz(func(t *testing.T, src []byte) {
		var got, want []string
		gotErr, wantErr := direct.Scan(src, &got), own.Scan(src, &want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("% x: error %v, pgx's own %v", src, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("% x: scanned %#v, pgx's own %#v", src, got, want)
		}
	})
}
