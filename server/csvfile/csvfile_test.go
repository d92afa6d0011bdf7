package csvfile_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server/csvfile"
)

func readAll(t testing.TB, in string, l csvfile.Limits) []csvfile.Record {
	t.Helper()
	r := csvfile.NewReader(strings.NewReader(in), l)
	var out []csvfile.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, rec)
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	l := csvfile.Limits{MaxFields: 4, MaxCell: 8, MaxRecord: 32}
	cases := []struct {
		name   string
		in     string
		fields [][]string
		errs   [][]csvfile.FieldError
		lines  []int
	}{
		{"plain, BOM, CRLF", "\xEF\xBB\xBFa,b\r\nc,d\r\n", [][]string{{"a", "b"}, {"c", "d"}}, [][]csvfile.FieldError{nil, nil}, []int{1, 2}},
		{"quoted with comma, quote and newline", "\"a,\"\"b\nc\",d\ne,f", [][]string{{"a,\"b\nc", "d"}, {"e", "f"}}, [][]csvfile.FieldError{nil, nil}, []int{1, 3}},
		{"empty lines skipped", "a\n\n\r\nb\n", [][]string{{"a"}, {"b"}}, [][]csvfile.FieldError{nil, nil}, []int{1, 4}},
		{"too many fields", "a,b,c,d,e\nx\n", [][]string{{"a", "b", "c", "d"}, {"x"}}, [][]csvfile.FieldError{{{Column: csvfile.Whole, Message: "has more than 4 fields"}}, nil}, []int{1, 2}},
		{"cell too large", "123456789,b\n", [][]string{{"12345678", "b"}}, [][]csvfile.FieldError{{{Column: 0, Message: "is over 8 bytes"}}}, []int{1}},
		{"bare quote", "a\"b,c\n", [][]string{{"a\"b", "c"}}, [][]csvfile.FieldError{{{Column: 0, Message: "has a quote inside an unquoted field"}}}, []int{1}},
		{"text after closing quote", "\"a\"b,c\n", [][]string{{"ab", "c"}}, [][]csvfile.FieldError{{{Column: 0, Message: "has text after its closing quote"}}}, []int{1}},
		{"unterminated quote", "a,\"b\nc\n", [][]string{{"a", "b\nc\n"}}, [][]csvfile.FieldError{{{Column: csvfile.Whole, Message: "has a quoted field that is never closed"}}}, []int{1}},
		{"invalid UTF-8 and NUL", "\xff,a\x00\n", [][]string{{"", "a\x00"}}, [][]csvfile.FieldError{{{Column: 0, Message: "is not valid UTF-8"}, {Column: 1, Message: "must not contain a NUL character"}}}, []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, c.in, l)
			if len(got) != len(c.fields) {
				t.Fatalf("got %d records %+v, want %d", len(got), got, len(c.fields))
			}
			for i, rec := range got {
				if !slices.Equal(rec.Fields, c.fields[i]) || !slices.Equal(rec.Errors, c.errs[i]) || rec.Line != c.lines[i] {
					t.Errorf("record %d = %q %+v line %d, want %q %+v line %d", i, rec.Fields, rec.Errors, rec.Line, c.fields[i], c.errs[i], c.lines[i])
				}
			}
		})
	}
}

// A hostile record costs at most its limits, however large it is.
func TestReaderBoundsHostileRecords(t *testing.T) {
	t.Parallel()
	l := csvfile.DefaultLimits
	for name, in := range map[string]string{
		"10 MB cell":     strings.Repeat("x", 10<<20) + "\nok\n",
		"1M columns":     strings.Repeat(",", 1<<20) + "\nok\n",
		"10 MB in quote": "\"" + strings.Repeat("y", 10<<20),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, in, l)
			if len(got[0].Errors) == 0 {
				t.Errorf("no error for the hostile record")
			}
			for _, f := range got[0].Fields {
				if len(f) > l.MaxCell {
					t.Errorf("a cell of %d bytes was kept", len(f))
				}
			}
			if len(got[0].Fields) > l.MaxFields {
				t.Errorf("%d fields kept", len(got[0].Fields))
			}
			if strings.HasSuffix(in, "ok\n") && (len(got) != 2 || got[1].Fields[0] != "ok") {
				t.Errorf("the record after the hostile one was not read: %d records", len(got))
			}
		})
	}
}

func TestNeutralise(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"=1+1", "+1", "-ABC", "@SUM(A1)", "\tx", "'=x", "''=x", "'plain", "plain", "", "'"} {
		n := csvfile.Neutralise(s)
		if n != "" && strings.ContainsRune("=+-@\t\r", rune(n[0])) {
			t.Errorf("Neutralise(%q) = %q starts with a trigger", s, n)
		}
		if back := csvfile.Unneutralise(n); back != s {
			t.Errorf("Unneutralise(Neutralise(%q)) = %q", s, back)
		}
	}
	if got := csvfile.Unneutralise("'Twas"); got != "'Twas" {
		t.Errorf("a leading apostrophe of plain text was dropped: %q", got)
	}
}

// FuzzReader: any bytes read as records within the limits, without a panic; a record read
// without errors writes back (AppendRecord) to bytes that read as the same record.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"a,b\r\nc,d\n", "\"a\"\"b\",c", "\xEF\xBB\xBFx", "\"unterminated", "a\"b", "\xff\x00", "=1,+2,-3,@4", "x\n\xEF\xBB\xBF\r\n"} {
		f.Add([]byte(s))
	}
	l := csvfile.Limits{MaxFields: 8, MaxCell: 64, MaxRecord: 256}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := csvfile.NewReader(bytes.NewReader(in), l)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if len(rec.Fields) > l.MaxFields {
				t.Fatalf("%d fields", len(rec.Fields))
			}
			for _, c := range rec.Fields {
				if len(c) > l.MaxCell {
					t.Fatalf("cell of %d bytes", len(c))
				}
			}
			if len(rec.Errors) > 0 || (len(rec.Fields) == 1 && rec.Fields[0] == "") {
				continue
			}
			fields := make([]string, len(rec.Fields))
			for i, c := range rec.Fields {
				fields[i] = csvfile.Unneutralise(c)
			}
			out := csvfile.AppendRecord(nil, fields...)
			again := csvfile.NewReader(bytes.NewReader(out), csvfile.Limits{MaxFields: 8, MaxCell: 1 << 10, MaxRecord: 1 << 12})
			back, err := again.Next()
			if err != nil {
				t.Fatalf("re-read %q: %v", out, err)
			}
			for i := range back.Fields {
				back.Fields[i] = csvfile.Unneutralise(back.Fields[i])
			}
			if !slices.Equal(back.Fields, fields) || len(back.Errors) > 0 {
				t.Fatalf("%q wrote %q, read back as %q %+v", fields, out, back.Fields, back.Errors)
			}
		}
	})
}
