package idempotency_test

import (
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server/idempotency"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, raw, want string
		ok              bool
	}{
		{"token", "abc-123", "abc-123", true},
		{"sf-string", `"abc-123"`, "abc-123", true},
		{"sf-string with a space", `"a b"`, "a b", true},
		{"one character", "k", "k", true},
		{"255 characters", strings.Repeat("k", 255), strings.Repeat("k", 255), true},
		{"255 characters quoted", `"` + strings.Repeat("k", 255) + `"`, strings.Repeat("k", 255), true},
		{"empty sf-string", `""`, "", false},
		{"lone quote", `"`, "", false},
		{"unterminated", `"abc`, "", false},
		{"quote inside", `"a"b"`, "", false},
		{"backslash inside", `"a\b"`, "", false},
		{"256 characters", strings.Repeat("k", 256), "", false},
		{"256 characters quoted", `"` + strings.Repeat("k", 256) + `"`, "", false},
		{"space in a token", "a b", "", false},
		{"tab", "a\tb", "", false},
		{"NUL", "a\x00b", "", false},
		{"DEL", "a\x7fb", "", false},
		{"non-ASCII", "clé", "", false},
		{"empty", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := idempotency.ParseKey(c.raw)
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("ParseKey(%q) = %q, %v; want %q, ok %v", c.raw, got, err, c.want, c.ok)
			}
		})
	}
}
