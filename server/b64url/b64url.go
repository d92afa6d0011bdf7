// Package b64url decodes the unpadded base64url (RFC 4648 §5) of tokens and cursors with exactly
// one accepted spelling per value.
package b64url

import (
	"encoding/base64"
	"errors"
)

// ErrNotCanonical says s is not the one spelling this package encodes.
var ErrNotCanonical = errors.New("not canonical unpadded base64url")

// Decode decodes s, refusing every spelling but the canonical one: characters outside the
// alphabet (Go's decoder silently skips CR and LF anywhere), padding, and non-zero unused bits in
// the last character. Leniently decoded, one token or cursor has several strings, which defeats
// anything keyed by its text (a deny list, a hash, a log search).
func Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return nil, ErrNotCanonical
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrNotCanonical
	}
	return b, nil
}

// Encode is the canonical spelling of b.
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
