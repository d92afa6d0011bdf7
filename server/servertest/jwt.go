package servertest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"testing"
)

// DecodeClaims returns a JWT's claims without checking anything.
func DecodeClaims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// SignJWT builds a compact JWS from any header and claims, signed with alg ("HS256", "HS512",
// or "none" for no signature), so tests can forge exactly the token an attacker would.
func SignJWT(t testing.TB, header, claims map[string]any, alg, secret string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var newHash func() hash.Hash
	switch alg {
	case "none":
		return input + "."
	case "HS256":
		newHash = sha256.New
	case "HS512":
		newHash = sha512.New
	default:
		t.Fatalf("SignJWT: unsupported alg %q", alg)
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
