package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestScanJSON covers what the pre-check refuses and what it lets through, each case named by
// the attack or the rule it stands for.
func TestScanJSON(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObj := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	cases := []struct {
		name  string
		body  string
		want  string // "" ok, "syntax", "deep", or the field of a bad text error
		field string
	}{
		{"object", `{"a":[1,2,{"b":null}],"c":"d","e":true,"f":false,"g":-1.5e3}`, "", ""},
		{"empty containers", `{"a":{},"b":[],"c":[[],{}]}`, "", ""},
		{"scalar", ` "x" `, "", ""},
		{"surrogate pair escape", `{"a":"\ud83d\ude00"}`, "", ""},
		{"replacement character escape", `{"a":"\ufffd","\ufffd":"�"}`, "", ""},
		{"utf-8 text", `{"名前":"café ☕"}`, "", ""},
		{"depth at the limit", deep(MaxJSONDepth), "", ""},
		{"objects at the limit", deepObj(MaxJSONDepth), "", ""},
		{"depth over the limit", deep(MaxJSONDepth + 1), "deep", ""},
		{"objects over the limit", deepObj(MaxJSONDepth + 1), "deep", ""},
		{"a megabyte of [", strings.Repeat("[", 1<<20), "deep", ""},
		{"duplicate key", `{"a":1,"b":2,"a":3}`, "syntax", ""},
		{"duplicate key by escape", `{"a":1,"\u0061":2}`, "syntax", ""},
		{"same key in sibling objects", `[{"a":1},{"a":2}]`, "", ""},
		{"trailing data", `{"a":1}{"b":2}`, "syntax", ""},
		{"trailing comma", `[1,2,]`, "syntax", ""},
		{"leading zero", `01`, "syntax", ""},
		{"bare minus", `-`, "syntax", ""},
		{"fraction without digits", `1.`, "syntax", ""},
		{"unterminated string", `"abc`, "syntax", ""},
		{"control character", "\"a\x01b\"", "syntax", ""},
		{"bad escape", `"\x"`, "syntax", ""},
		{"short unicode escape", `"\u12"`, "syntax", ""},
		{"unclosed", `{"a":[1`, "syntax", ""},
		{"mismatched", `{"a":1]`, "syntax", ""},
		{"key not a string", `{a:1}`, "syntax", ""},
		{"empty", ``, "syntax", ""},
		{"NUL escape in a value", `{"name":"a\u0000b"}`, "text", "name"},
		{"NUL escape in a nested value", `{"items":[{"sku":"a"},{"sku":"b"},{"sku":"c"},{"sku":"\u0000"}]}`, "text", "items[3].sku"},
		{"NUL escape in a key", `{"attributes":{"co\u0000lor":"red"}}`, "text", "attributes.co\x00lor"},
		{"invalid UTF-8 in a value", "{\"name\":\"\xff\"}", "text", "name"},
		{"invalid UTF-8 in an array", "{\"tags\":[\"ok\",\"\xc3\"]}", "text", "tags[1]"},
		{"lone surrogate escape", `{"name":"\ud800"}`, "text", "name"},
		{"reversed surrogates", `{"name":"\udc00\ud800"}`, "text", "name"},
		{"top-level NUL string", `"\u0000"`, "text", "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := scanJSON([]byte(c.body))
			var syntax *jsonSyntaxError
			var text *badTextError
			switch c.want {
			case "":
				if err != nil {
					t.Fatalf("scanJSON = %v, want nil", err)
				}
				if !json.Valid([]byte(c.body)) {
					t.Fatal("the scanner accepts what encoding/json refuses")
				}
			case "deep":
				if !isTooDeep(err) || !strings.Contains(err.Error(), "32 levels") {
					t.Fatalf("scanJSON = %v, want the nesting limit", err)
				}
			case "syntax":
				if !errors.As(err, &syntax) || isTooDeep(err) {
					t.Fatalf("scanJSON = %v, want a syntax error", err)
				}
			case "text":
				if !errors.As(err, &text) || text.field != c.field {
					t.Fatalf("scanJSON = %v, want a text error for %q", err, c.field)
				}
			}
		})
	}
}

// TestDeepJSONCostsOnlyTheBytesRead is the 3.2-million-`[` attack on the decoder itself: refused,
// quickly, allocating a bounded amount whatever the size (the recursive pre-check overflowed the
// stack at this size, and took hundreds of MB at 1 MiB).
//
// Not parallel: AllocsPerRun and MemStats measure the whole process.
func TestDeepJSONCostsOnlyTheBytesRead(t *testing.T) {
	body := bytes.Repeat([]byte("["), 3_200_000)
	start := time.Now()
	_, err := decodeStrictJSON(body)
	if !isTooDeep(err) {
		t.Fatalf("decodeStrictJSON = %v, want the nesting limit", err)
	}
	if d := time.Since(start); d > 5*time.Second { // a guard, not a speed claim: the allocations below are the proof
		t.Errorf("refusing took %v", d)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(10, func() { _, _ = decodeStrictJSON(body) })
	runtime.ReadMemStats(&after)
	if allocs > 200 {
		t.Errorf("refusing allocates %v times per body", allocs)
	}
	if perRun := (after.TotalAlloc - before.TotalAlloc) / 11; perRun > 64<<10 {
		t.Errorf("refusing allocates %d bytes per body", perRun)
	}

	// A well-formed body allocates in proportion to its size: a wide, shallow body of 1 MiB costs
	// a small multiple of it, not a multiple per level.
	wide := []byte("[" + strings.Repeat(`{"a":"b"},`, 100_000) + `{"a":"b"}]`)
	runtime.ReadMemStats(&before)
	if _, err := decodeStrictJSON(wide); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(100*len(wide)) {
		t.Errorf("a %d-byte body allocated %d bytes", len(wide), got)
	}
}

// FuzzDecodeStrictJSON checks the pre-check against encoding/json on any input: it never panics,
// it accepts only what encoding/json accepts and nothing holding a NUL or invalid UTF-8 (and, for text without NUL or invalid UTF-8, without
// duplicate keys and within the depth limit, everything encoding/json accepts), what it accepts
// re-encodes and decodes to the same value, and it refuses any nesting over the limit.
func FuzzDecodeStrictJSON(f *testing.F) {
	for _, seed := range []string{
		`{"sku":"A-1","name":"Widget","priceAmount":1999,"currency":"EUR","attributes":{"color":"red"},"tags":["x"]}`,
		`{"items":[{"sku":"a","name":"b","priceAmount":1}]}`,
		`[[[[[[[[[[]]]]]]]]]]`, strings.Repeat("[", 40), strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33),
		`{"a":1,"a":2}`, `{"a":"\u0000"}`, "\"\xff\"", `"\ud800"`, `"\ud83d\ude00"`, `1.0`, `-0.5e-10`, `{"a":1} x`,
		`null`, `true`, `"\/\b\f\n\r\t\\\""`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		value, err := decodeStrictJSON(data)
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted %q, which encoding/json refuses", data)
			}
			if depth(data) > MaxJSONDepth {
				t.Fatalf("accepted %q, nested %d deep", data, depth(data))
			}
			if bad := unstorable(value); bad != "" {
				t.Fatalf("accepted %q holding %q", data, bad)
			}
			again, err := json.Marshal(value)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeStrictJSON(again)
			if err != nil {
				t.Fatalf("re-encoded %q refused: %v", again, err)
			}
			if a, b := mustMarshal(t, value), mustMarshal(t, back); !bytes.Equal(a, b) {
				t.Fatalf("round trip changed %s into %s", a, b)
			}
			return
		}
		var syntax *jsonSyntaxError
		var text *badTextError
		switch {
		case errors.As(err, &text):
			if utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) {
				t.Fatalf("text error %v on valid UTF-8 without escapes: %q", err, data)
			}
		case errors.As(err, &syntax):
			if isTooDeep(err) && depth(data) <= MaxJSONDepth {
				t.Fatalf("%q refused as too deep at depth %d", data, depth(data))
			}
			if json.Valid(data) && !isTooDeep(err) && !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("%q refused (%v), encoding/json accepts it", data, err)
			}
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}

// depth is the deepest nesting of brackets outside strings, for the fuzz target's oracle.
func depth(data []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			deepest = max(deepest, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return deepest
}

// unstorable finds a string or key PostgreSQL could not store in a decoded value.
func unstorable(v any) string {
	bad := func(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }
	switch v := v.(type) {
	case string:
		if bad(v) {
			return v
		}
	case map[string]any:
		for k, item := range v {
			if bad(k) {
				return k
			}
			if s := unstorable(item); s != "" {
				return s
			}
		}
	case []any:
		for _, item := range v {
			if s := unstorable(item); s != "" {
				return s
			}
		}
	}
	return ""
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
