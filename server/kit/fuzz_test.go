package kit

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// FuzzCursorOpen feeds the cursor parser any string a client may send as `cursor`: it never
// panics, a sealed cursor opens to its position, and whatever opens is exactly a cursor this
// server sealed for that list (no second spelling of one, no cursor of another list).
func FuzzCursorOpen(f *testing.F) {
	c := NewCursors([]byte("fuzz-secret-0123456789abcdef0123456789"))
	sealed, err := c.Seal("products", IDPosition{ID: uuid.MustParse("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6")})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{sealed, "", ".", "a.b", sealed + "x", strings.Replace(sealed, ".", "..", 1), "eyJpIjoiMCJ9.AAAA"} {
		f.Add("products", seed)
	}
	f.Add("members", sealed)
	// The signature's last character with its unused low bits set: the same bytes, spelt twice.
	last := strings.IndexByte(base64URL, sealed[len(sealed)-1])
	f.Add("products", sealed[:len(sealed)-1]+string(base64URL[last|3]))
	f.Fuzz(func(t *testing.T, list, cursor string) {
		var pos IDPosition
		if err := c.Open(list, cursor, &pos); err != nil {
			if err != ErrBadCursor { //nolint:errorlint // Open returns the sentinel itself
				t.Fatalf("open = %v, want ErrBadCursor", err)
			}
			return
		}
		again, err := c.Seal(list, pos)
		if err != nil {
			t.Fatal(err)
		}
		if again != cursor {
			t.Fatalf("cursor %q opened, but this server seals that position as %q", cursor, again)
		}
		var back IDPosition
		if err := c.Open(list, again, &back); err != nil || back != pos {
			t.Fatalf("round trip: %v, %v != %v", err, back, pos)
		}
	})
}

// FuzzIfMatch feeds If-Match parsing any header value: it never panics, "*" and absence mean no
// condition, and every version it returns is one that the header names as exactly the strong tag
// this server issues for it (RFC 9110 §8.8.3.2 strong comparison: `"+5"` or `"05"` is not `"5"`).
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"1"`, `"1", "2"`, `*`, ` * `, `W/"1"`, `"+1"`, `"01"`, `"-1"`, `""`, `"`, `"9223372036854775807"`, `"9223372036854775808"`, `,,,`, `"1",W/"2", "x"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		versions := IfMatch(&header)
		if strings.TrimSpace(header) == "*" {
			if versions != nil {
				t.Fatalf("%q: want no condition", header)
			}
			return
		}
		if versions == nil {
			t.Fatalf("%q: a header that is not * must be a condition", header)
		}
		tags := strings.Split(header, ",")
		for i := range tags {
			tags[i] = strings.TrimSpace(tags[i])
		}
		for _, v := range versions {
			if !slices.Contains(tags, *ETag(v)) {
				t.Fatalf("%q matched version %d, whose tag is %s", header, v, *ETag(v))
			}
		}
		// What the server issues, listed, parses back to the same versions.
		list := make([]string, len(versions))
		for i, v := range versions {
			list[i] = `"` + strconv.FormatInt(v, 10) + `"`
		}
		joined := strings.Join(list, ", ")
		if len(versions) > 0 && !slices.Equal(IfMatch(&joined), versions) {
			t.Fatalf("%q: round trip of %v gave %v", header, versions, IfMatch(&joined))
		}
	})
}
