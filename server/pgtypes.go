package server

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/ecompointer/ecompointer/gen/db"
)

// registerTypes teaches a connection's type map the Go types the generated queries bind and scan.
//
// uuid.UUID is every id of the API. pgx-google-uuid registers it, but pgx (v5.12) asks whether a
// scan target is a sql.Scanner before it tries that package's wrapper, and uuid.UUID is one: every
// uuid column was formatted by pgx as text (a string, boxed) and parsed back by uuid.UUID.Scan,
// two allocations and a parse per id, four per product row, 84 for a page of twenty. Binding
// boxed each id a second time in the wrapper. The codec below answers both directly: the 16
// bytes PostgreSQL sends in binary are the UUID's own, copied without a string in between.
//
// A nullable text or bigint column (*string, *int64: a description, a barcode, a weight) took pgx
// through its generic pointer-to-pointer plan, built by reflection for every query; the codecs
// below plan it directly (NULL is a nil pointer, anything else a new value, as before).
func registerTypes(tm *pgtype.Map) {
	pgxuuid.Register(tm) // uuid.NullUUID, and DecodeValue's uuid.UUID for scans into any
	tm.RegisterType(&pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}})
	tm.RegisterType(&pgtype.Type{Name: "text", OID: pgtype.TextOID, Codec: textCodec{}})
	tm.RegisterType(&pgtype.Type{Name: "varchar", OID: pgtype.VarcharOID, Codec: textCodec{}})
	tm.RegisterType(&pgtype.Type{Name: "int8", OID: pgtype.Int8OID, Codec: int8Codec{}})
	tm.RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: newTimestamptzCodec()})
	for _, oid := range []uint32{pgtype.TextArrayOID, pgtype.VarcharArrayOID} {
		// pgx's own array codec, wrapped: what the direct plan does not handle, it still does.
		if t, ok := tm.TypeForOID(oid); ok {
			if inner, ok := t.Codec.(*pgtype.ArrayCodec); ok {
				tm.RegisterType(&pgtype.Type{Name: t.Name, OID: oid, Codec: &textArrayCodec{ArrayCodec: inner}})
			}
		}
	}
}

// registerEnums registers the application's enum types (queries/types.sql's EnumTypes, which
// leaves river's river_job_state out) on a connection's type map, each with its own enumCodec.
// PostgreSQL numbers an enum when its migration creates it, so the OIDs come from the database
// at connect time; a database not yet migrated has none, and nothing is registered.
//
// Unregistered, an enum column (a product's status, an order's) reached sqlc's generated
// Scan method through pgx's plan for a sql.Scanner: the label as a new string, boxed into an
// interface, two allocations per value, now none. With the tags' plan below, a page of twenty
// products (BenchmarkProductList, 21 rows read) went from 590 allocations to 507, and twenty
// rows of a status and three tags (BenchmarkScanEnumAndTags) from 172 to 73.
func registerEnums(tm *pgtype.Map, enums []db.EnumTypesRow) {
	for _, e := range enums {
		if e.Oid.Valid {
			tm.RegisterType(&pgtype.Type{Name: e.Name, OID: e.Oid.Uint32, Codec: newEnumCodec()})
		}
	}
}

// enumCodec is pgx's EnumCodec with a direct plan for a pointer to any type whose kind is string
// (*string, and sqlc's enum types such as *db.ProductStatus, whose Scan methods only convert the
// label): the value is set to the label's one string on this connection, allocated the first
// time the label is read. A type map belongs to one connection, used by one goroutine at a time,
// which is what lets pgx's own EnumCodec keep its cache without a lock, and this one too. A
// target that scans itself as text (pgtype.TextScanner) keeps pgx's plan, as does everything
// else (a sql.Scanner such as db.NullProductStatus, *[]byte, *any, binding).
type enumCodec struct {
	*pgtype.EnumCodec
	labels enumLabels
	// plans are the direct plans made, by target type: pgx (v5.12) plans every column of every
	// query it runs, and a plan made anew was an allocation a query.
	plans map[reflect.Type]pgtype.ScanPlan
}

func newEnumCodec() enumCodec {
	return enumCodec{EnumCodec: &pgtype.EnumCodec{}, labels: enumLabels{}, plans: map[reflect.Type]pgtype.ScanPlan{}}
}

func (c enumCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if format == pgtype.TextFormatCode || format == pgtype.BinaryFormatCode { // both carry the label as text
		switch target.(type) {
		case pgtype.TextScanner:
		default:
			if t := reflect.TypeOf(target); t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String {
				plan, ok := c.plans[t]
				if !ok {
					plan = scanEnumLabel{labels: c.labels, target: t}
					c.plans[t] = plan
				}
				return plan
			}
		}
	}
	return c.EnumCodec.PlanScan(m, oid, format, target)
}

// enumLabels holds one string per label an enum's column has shown the connection: a handful.
type enumLabels map[string]string

func (l enumLabels) intern(src []byte) string {
	if s, ok := l[string(src)]; ok { // the conversion in a map index allocates nothing
		return s
	}
	s := string(src)
	l[s] = s
	return s
}

// scanEnumLabel sets a pointer to a string kind (*string included) through reflection, which
// allocates nothing.
type scanEnumLabel struct {
	labels enumLabels
	target reflect.Type
}

func (p scanEnumLabel) Scan(src []byte, dst any) error {
	if src == nil {
		return fmt.Errorf("cannot scan NULL into %T", dst)
	}
	v := reflect.ValueOf(dst)
	if v.Type() != p.target {
		return pgtype.ErrScanTargetTypeChanged
	}
	v.Elem().SetString(p.labels.intern(src))
	return nil
}

// textArrayCodec is pgx's codec for text[] (or varchar[]) with a direct plan for *[]string in
// the binary format, the one pgx asks arrays in: a product's tags. pgx's plan goes through its
// generic FlatArray: the array's dimensions, the slice, and a string per element (four
// allocations for a product's two tags). The direct plan reads a one-dimensional array without
// NULLs into the slice and one string holding every element: two, whatever the number of tags.
// An empty array is an empty slice, not nil, as pgx scans it ("tags": [], not null). Anything
// else (NULL, several dimensions, NULL elements, anything unexpected) goes to pgx's own plan for
// *[]string, made when the direct one is, so the answer is pgx's to the letter.
//
// pgx (v5.12) plans every column of every query it runs: the direct plan, and pgx's own within it
// (four allocations), are made once, on the codec's first plan for *[]string. A type map, and so
// the codec, belongs to one connection.
type textArrayCodec struct {
	*pgtype.ArrayCodec
	direct pgtype.ScanPlan // nil until planned
}

func (c *textArrayCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*[]string); ok && format == pgtype.BinaryFormatCode {
		if c.direct != nil {
			return c.direct
		}
		if fallback := c.pgxStringsPlan(m, oid, format, target); fallback != nil {
			c.direct = scanTextArray{elementOID: c.ElementType.OID, pgx: fallback}
			return c.direct
		}
	}
	// For *[]string in text, this is nil, and pgx wraps the target as it always has.
	return c.ArrayCodec.PlanScan(m, oid, format, target)
}

// pgxStringsPlan is the plan pgx makes for *[]string when the codec returns none: its first
// wrapping that fits (pgtype.Map's TryWrapScanPlanFuncs; the ones before it do not take a pointer
// to a slice of strings) around the array codec's plan for the wrapped target.
func (c *textArrayCodec) pgxStringsPlan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	wrapper, next, ok := pgtype.TryWrapPtrSliceScanPlan(target)
	if !ok {
		return nil
	}
	inner := c.ArrayCodec.PlanScan(m, oid, format, next)
	if inner == nil {
		return nil
	}
	wrapper.SetNext(inner)
	return wrapper
}

type scanTextArray struct {
	elementOID uint32
	pgx        pgtype.ScanPlan
}

func (p scanTextArray) Scan(src []byte, dst any) error {
	list, ok := p.parse(src)
	if !ok {
		return p.pgx.Scan(src, dst)
	}
	*dst.(*[]string) = list
	return nil
}

// parse reads PostgreSQL's binary array (array_send: dimensions, a NULL flag, the element type,
// each dimension's length and lower bound, then each element's length and bytes) when it has
// one dimension and no NULL; ok is false for anything else, which parse leaves to pgx. The lower
// bound is ignored, as pgx ignores it: '[2:3]={a,b}' is []string{"a", "b"}.
func (p scanTextArray) parse(src []byte) (list []string, ok bool) {
	const header = 12 // dimensions, NULL flag, element type
	if len(src) < header || binary.BigEndian.Uint32(src[4:]) != 0 || binary.BigEndian.Uint32(src[8:]) != p.elementOID {
		return nil, false
	}
	switch dims := binary.BigEndian.Uint32(src); {
	case dims == 0 && len(src) == header:
		return []string{}, true // pgx's empty slice, not nil
	case dims != 1 || len(src) < header+8:
		return nil, false
	}
	// Lengths are read unsigned: a NULL's -1, or any negative length, is too long for src.
	n := binary.BigEndian.Uint32(src[header:])
	body := src[header+8:]
	if n > uint32(len(body)/4) {
		return nil, false
	}
	rest := body
	for range n {
		if len(rest) < 4 {
			return nil, false
		}
		size := binary.BigEndian.Uint32(rest)
		if size > uint32(len(rest)-4) {
			return nil, false
		}
		rest = rest[4+size:]
	}
	if len(rest) != 0 {
		return nil, false
	}
	// One string for every element, length words included (four bytes each): the elements are
	// substrings of it.
	all := string(body)
	list = make([]string, n)
	at := 0
	for i := range list {
		size := int(binary.BigEndian.Uint32(body[at:]))
		at += 4
		list[i] = all[at : at+size]
		at += size
	}
	return list, true
}

// The plans are values without state: made once, not per query.
var (
	uuidPointerBinary pgtype.ScanPlan = scanUUIDPointer{scanUUIDBinary{}}
	uuidPointerText   pgtype.ScanPlan = scanUUIDPointer{scanUUIDText{}}
)

// timestamptzCodec is pgx's timestamptz codec with a direct plan for *time.Time: pgx's own
// decoding (its plan for a pgtype.TimestamptzScanner), into the caller's time through timeTarget,
// where pgx reached the same decoding only through its reflection-built builtin-type wrapper.
type timestamptzCodec struct {
	*pgtype.TimestamptzCodec
	// binary and text are the plans for *time.Time, made once: pgx's depend on nothing but the
	// codec's ScanLocation, set before registration.
	binary, text pgtype.ScanPlan
}

func newTimestamptzCodec() timestamptzCodec {
	c := timestamptzCodec{TimestamptzCodec: &pgtype.TimestamptzCodec{}}
	if inner := c.TimestamptzCodec.PlanScan(nil, pgtype.TimestamptzOID, pgtype.BinaryFormatCode, (*timeTarget)(nil)); inner != nil {
		c.binary = scanTime{inner}
	}
	if inner := c.TimestamptzCodec.PlanScan(nil, pgtype.TimestamptzOID, pgtype.TextFormatCode, (*timeTarget)(nil)); inner != nil {
		c.text = scanTime{inner}
	}
	return c
}

func (c timestamptzCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*time.Time); ok {
		switch {
		case format == pgtype.BinaryFormatCode && c.binary != nil:
			return c.binary
		case format == pgtype.TextFormatCode && c.text != nil:
			return c.text
		}
	}
	return c.TimestamptzCodec.PlanScan(m, oid, format, target)
}

type scanTime struct{ inner pgtype.ScanPlan }

func (p scanTime) Scan(src []byte, dst any) error {
	return p.inner.Scan(src, (*timeTarget)(dst.(*time.Time)))
}

// timeTarget is a *time.Time as a pgtype.TimestamptzScanner, refusing what pgx's own wrapper
// refuses, in its words.
type timeTarget time.Time

func (t *timeTarget) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		return errors.New("cannot scan NULL into *time.Time")
	}
	switch v.InfinityModifier {
	case pgtype.Finite:
		*t = timeTarget(v.Time)
		return nil
	case pgtype.Infinity:
		return errors.New("cannot scan Infinity into *time.Time")
	case pgtype.NegativeInfinity:
		return errors.New("cannot scan -Infinity into *time.Time")
	}
	return errors.New("invalid InfinityModifier")
}

// textCodec is pgx's text codec with a direct plan for *string (both formats carry the text).
type textCodec struct{ pgtype.TextCodec }

func (c textCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(**string); ok {
		return scanTextPointer{}
	}
	return c.TextCodec.PlanScan(m, oid, format, target)
}

type scanTextPointer struct{}

func (scanTextPointer) Scan(src []byte, dst any) error {
	ptr := dst.(**string)
	if src == nil {
		*ptr = nil
		return nil
	}
	s := string(src)
	*ptr = &s
	return nil
}

// int8Codec is pgx's bigint codec with a direct plan for *int64.
type int8Codec struct{ pgtype.Int8Codec }

func (c int8Codec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(**int64); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return scanInt8Pointer{}
		case pgtype.TextFormatCode:
			return scanInt8TextPointer{}
		}
	}
	return c.Int8Codec.PlanScan(m, oid, format, target)
}

type scanInt8Pointer struct{}

func (scanInt8Pointer) Scan(src []byte, dst any) error {
	ptr := dst.(**int64)
	if src == nil {
		*ptr = nil
		return nil
	}
	if len(src) != 8 {
		return errors.New("invalid length for int8: " + strconv.Itoa(len(src)))
	}
	n := int64(binary.BigEndian.Uint64(src))
	*ptr = &n
	return nil
}

type scanInt8TextPointer struct{}

func (scanInt8TextPointer) Scan(src []byte, dst any) error {
	ptr := dst.(**int64)
	if src == nil {
		*ptr = nil
		return nil
	}
	n, err := strconv.ParseInt(string(src), 10, 64)
	if err != nil {
		return err
	}
	*ptr = &n
	return nil
}

// uuidCodec is pgx-google-uuid's codec with direct plans for uuid.UUID and *uuid.UUID (a nullable
// column); anything else it hands to the codec it wraps.
type uuidCodec struct{ pgxuuid.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return encodeUUIDBinary{}
		case pgtype.TextFormatCode:
			return encodeUUIDText{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	switch target.(type) {
	case *uuid.UUID:
		switch format {
		case pgtype.BinaryFormatCode:
			return scanUUIDBinary{}
		case pgtype.TextFormatCode:
			return scanUUIDText{}
		}
	case **uuid.UUID:
		switch format {
		case pgtype.BinaryFormatCode:
			return uuidPointerBinary
		case pgtype.TextFormatCode:
			return uuidPointerText
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID)
	return append(buf, id[:]...), nil
}

type encodeUUIDText struct{}

// Encode writes the canonical 8-4-4-4-12 form, as uuid.UUID.String does, without its string.
func (encodeUUIDText) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID)
	buf = hex.AppendEncode(buf, id[0:4])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, id[4:6])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, id[6:8])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, id[8:10])
	buf = append(buf, '-')
	return hex.AppendEncode(buf, id[10:16]), nil
}

var errNullUUID = errors.New("cannot scan NULL into *uuid.UUID")

type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, dst any) error {
	if src == nil {
		return errNullUUID
	}
	if len(src) != len(uuid.UUID{}) {
		return errors.New("invalid length for uuid: " + strconv.Itoa(len(src)))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}

type scanUUIDText struct{}

func (scanUUIDText) Scan(src []byte, dst any) error {
	if src == nil {
		return errNullUUID
	}
	id, err := uuid.ParseBytes(src)
	if err != nil {
		return err
	}
	*dst.(*uuid.UUID) = id
	return nil
}

// scanUUIDPointer scans a nullable uuid column: NULL is a nil pointer.
type scanUUIDPointer struct{ next pgtype.ScanPlan }

func (p scanUUIDPointer) Scan(src []byte, dst any) error {
	ptr := dst.(**uuid.UUID)
	if src == nil {
		*ptr = nil
		return nil
	}
	id := new(uuid.UUID)
	if err := p.next.Scan(src, id); err != nil {
		return err
	}
	*ptr = id
	return nil
}
