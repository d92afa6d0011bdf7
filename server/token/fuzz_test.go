package token_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/token"
)

// FuzzVerify feeds the JWS framing any bytes a client may send as a bearer or refresh token. It
// never panics; it fails only with ErrInvalid or ErrExpired; no string is both an access and a
// refresh token; and a token that verifies is exactly the one this server issued: a refresh token
// re-signs byte for byte from its claims, and every segment of an access token is the canonical
// base64url of its bytes (a second spelling of a token would dodge a revocation by hash or a
// replay check).
func FuzzVerify(f *testing.F) {
	clock := now
	tk := newTokens(f, &clock)
	brand := uuid.MustParse("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6")
	access, _, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "OWNER", BrandID: &brand, Version: 1})
	if err != nil {
		f.Fatal(err)
	}
	refresh, err := tk.SignRefresh(token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 3, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		access, refresh, "", "..", "a.b.c", access + ".", strings.Replace(access, ".", "..", 1),
		"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + strings.Split(access, ".")[1] + ".",
		strings.ToUpper(access), access[:len(access)-1], strings.Repeat("a", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		a, errA := tk.VerifyAccess(tok)
		r, errR := tk.VerifyRefresh(tok)
		for _, err := range []error{errA, errR} {
			if err != nil && !errors.Is(err, token.ErrInvalid) && !errors.Is(err, token.ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if errA == nil && errR == nil {
			t.Fatalf("%q is both an access and a refresh token", tok)
		}
		if errA == nil {
			if a.UserID == uuid.Nil || a.SessionID == uuid.Nil || a.ID == "" || !a.ExpiresAt.After(a.IssuedAt) {
				t.Fatalf("verified access token with incomplete claims %+v", a)
			}
			for _, seg := range strings.Split(tok, ".") {
				raw, err := base64.RawURLEncoding.DecodeString(seg)
				if err != nil || base64.RawURLEncoding.EncodeToString(raw) != seg {
					t.Fatalf("verified access token %q has a non-canonical segment %q", tok, seg)
				}
			}
		}
		if errR == nil {
			again, err := tk.SignRefresh(r)
			if err != nil || again != tok {
				t.Fatalf("verified refresh token %q re-signs as %q (%v)", tok, again, err)
			}
		}
	})
}
