package server

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
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
