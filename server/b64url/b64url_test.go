package b64url

import (
	"bytes"
	"testing"
)

func TestOneSpellingPerValue(t *testing.T) {
	t.Parallel()
	canonical := Encode([]byte{0xde, 0xad, 0xbe, 0xef})
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"canonical", canonical, true},
		{"empty", "", true},
		{"trailing bits set", canonical[:len(canonical)-1] + "x", false},
		{"line feed inside", canonical[:2] + "\n" + canonical[2:], false},
		{"carriage return at the end", canonical + "\r", false},
		{"padding", canonical + "=", false},
		{"standard alphabet", "+/+/", false},
		{"space", canonical + " ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("Decode(%q) error = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{"", "3q2-7w", "3q2-7x", "3q2\n-7w", "AA==", "____"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		// Whatever decodes is the canonical spelling of its value: nothing else decodes to it.
		if Encode(b) != s {
			t.Fatalf("Decode(%q) = %x, but its canonical spelling is %q", s, b, Encode(b))
		}
		if again, err := Decode(Encode(b)); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip of %x failed: %v", b, err)
		}
	})
}
