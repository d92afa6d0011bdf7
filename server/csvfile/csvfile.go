// Package csvfile reads and writes the CSV files of imports and exports: RFC 4180, UTF-8, a byte
// order mark accepted. The reader is built for files from outside: it never holds more than one
// record, bounded by Limits, and a bad record (broken quoting, too many fields, a huge cell,
// invalid UTF-8, a NUL) becomes errors of that record instead of an error of the whole file, so
// an import can name every bad row at once.
package csvfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// bom is UTF-8's byte order mark, which spreadsheets write at the start of a file.
const bom = "\uFEFF"

// Limits bound one record.
type Limits struct {
	// MaxFields is the most fields a record may have.
	MaxFields int
	// MaxCell is the largest cell, in bytes.
	MaxCell int
	// MaxRecord is the largest record, in bytes (delimiters and quotes included).
	MaxRecord int
}

// DefaultLimits are the import's: 64 columns, 64 KiB a cell, 1 MiB a record.
var DefaultLimits = Limits{MaxFields: 64, MaxCell: 64 << 10, MaxRecord: 1 << 20}

// Whole is the column index of an error about the whole record.
const Whole = -1

// FieldError is what is wrong with one cell (Column: its index) or the whole record (Whole).
type FieldError struct {
	Column  int
	Message string
}

// Record is one record of the file.
type Record struct {
	// Line is the file's line the record starts on (the first line is 1).
	Line int
	// Fields are the record's cells, at most Limits.MaxFields, each at most Limits.MaxCell bytes.
	Fields []string
	// Errors say what is wrong with the record; its Fields are then not to be trusted.
	Errors []FieldError
}

// Reader reads records one at a time.
type Reader struct {
	r      *bufio.Reader
	limits Limits
	line   int
	first  bool
	cell   bytes.Buffer
	fields []string
}

// NewReader reads CSV from r within limits.
func NewReader(r io.Reader, limits Limits) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), limits: limits, line: 1, first: true}
}

// Next returns the next record, skipping empty lines; io.EOF after the last. Any other error is
// the underlying reader's.
func (r *Reader) Next() (Record, error) {
	if r.first {
		r.first = false
		if b, err := r.r.Peek(len(bom)); err == nil && string(b) == bom {
			_, _ = r.r.Discard(3)
		}
	}
	for {
		rec, blank, err := r.record()
		if err != nil {
			return Record{}, err
		}
		if !blank {
			return rec, nil
		}
	}
}

// record reads one record; blank reports an empty line (nothing but its line break).
func (r *Reader) record() (rec Record, blank bool, err error) {
	rec.Line = r.line
	r.fields = r.fields[:0]
	r.cell.Reset()
	var (
		size      int  // bytes of the record read so far
		quoted    bool // inside a quoted cell
		wasQuoted bool // the current cell started with a quote
		cellOver  bool // the current cell passed MaxCell (the rest is dropped)
		tooMany   bool // the record passed MaxFields
		tooLong   bool // the record passed MaxRecord
		any       bool // read at least one byte of this record
	)
	fail := func(col int, msg string) {
		for _, e := range rec.Errors {
			if e.Column == col && e.Message == msg {
				return
			}
		}
		if len(rec.Errors) < 10 {
			rec.Errors = append(rec.Errors, FieldError{Column: col, Message: msg})
		}
	}
	endCell := func() {
		col := len(r.fields)
		if col >= r.limits.MaxFields {
			if !tooMany {
				tooMany = true
				fail(Whole, fmt.Sprintf("has more than %d fields", r.limits.MaxFields))
			}
		} else {
			s := r.cell.String()
			switch {
			case !utf8.ValidString(s):
				fail(col, "is not valid UTF-8")
				s = strings.ToValidUTF8(s, "") // never longer than the bytes read
			case strings.IndexByte(s, 0) >= 0:
				fail(col, "must not contain a NUL character")
			}
			r.fields = append(r.fields, s)
		}
		r.cell.Reset()
		wasQuoted, cellOver = false, false
	}
	add := func(b byte) {
		if cellOver || tooLong {
			return
		}
		if r.cell.Len() >= r.limits.MaxCell {
			cellOver = true
			fail(len(r.fields), fmt.Sprintf("is over %d bytes", r.limits.MaxCell))
			return
		}
		r.cell.WriteByte(b)
	}
	for {
		b, err := r.r.ReadByte()
		if err == io.EOF {
			if !any {
				return rec, false, io.EOF
			}
			if quoted {
				fail(Whole, "has a quoted field that is never closed")
			}
			endCell()
			break
		}
		if err != nil {
			return rec, false, err
		}
		any = true
		size++
		if size > r.limits.MaxRecord && !tooLong {
			tooLong = true
			fail(Whole, fmt.Sprintf("is over %d bytes", r.limits.MaxRecord))
		}
		if quoted {
			switch b {
			case '"':
				next, err := r.r.Peek(1)
				if err == nil && next[0] == '"' {
					_, _ = r.r.ReadByte()
					size++
					add('"')
					continue
				}
				quoted = false
				if err == nil && next[0] != ',' && next[0] != '\n' && next[0] != '\r' {
					fail(len(r.fields), "has text after its closing quote")
				}
			case '\n':
				r.line++
				add(b)
			default:
				add(b)
			}
			continue
		}
		switch b {
		case ',':
			endCell()
		case '\n':
			r.line++
			if size == 1 {
				return rec, true, nil
			}
			endCell()
			goto done
		case '\r':
			if next, err := r.r.Peek(1); err == nil && next[0] == '\n' {
				continue // CRLF: the LF ends the record
			}
			add(b)
		case '"':
			if r.cell.Len() == 0 && !wasQuoted && !cellOver {
				quoted, wasQuoted = true, true
				continue
			}
			fail(len(r.fields), "has a quote inside an unquoted field")
			add(b)
		default:
			add(b)
		}
	}
done:
	if len(r.fields) == 1 && r.fields[0] == "" && len(rec.Errors) == 0 && !wasQuoted && size <= 2 {
		return rec, true, nil // "\r\n" alone
	}
	rec.Fields = append([]string(nil), r.fields...)
	return rec, false, nil
}

// triggers start a cell a spreadsheet would run as a formula (OWASP's CSV injection list).
const triggers = "=+-@\t\r"

// needsPrefix says whether s is written with a leading `'`: it starts with a trigger, or with
// `'` before what would need one (so that the import's unprefix is exact).
func needsPrefix(s string) bool {
	for len(s) > 0 {
		if strings.IndexByte(triggers, s[0]) >= 0 {
			return true
		}
		if s[0] != '\'' {
			return false
		}
		s = s[1:]
	}
	return false
}

// Neutralise is s as an export writes it: prefixed with `'` when a spreadsheet would take it for
// a formula.
func Neutralise(s string) string {
	if needsPrefix(s) {
		return "'" + s
	}
	return s
}

// Unneutralise is the cell an import reads back from s: Neutralise's inverse.
func Unneutralise(s string) string {
	if len(s) > 1 && s[0] == '\'' && needsPrefix(s[1:]) {
		return s[1:]
	}
	return s
}

// AppendRecord appends fields to b as one CRLF-terminated RFC 4180 record, each neutralised.
// A cell that starts with a byte order mark is quoted: at the start of a file the reader would
// take the mark for the file's own and drop it.
func AppendRecord(b []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		f = Neutralise(f)
		if f == "" || !strings.ContainsAny(f, ",\"\r\n") && !strings.HasPrefix(f, bom) {
			b = append(b, f...)
			continue
		}
		b = append(b, '"')
		b = append(b, strings.ReplaceAll(f, `"`, `""`)...)
		b = append(b, '"')
	}
	return append(b, '\r', '\n')
}

// ErrHeader is a header that cannot be read.
var ErrHeader = errors.New("csvfile: bad header")
