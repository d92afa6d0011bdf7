package token

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestVerifiedTokensAreCheckedAgain proves what the remembered tokens may not skip: a token
// verified once still expires, is still refused before its issue time, still never passes as
// another type, and a tampered copy of it is not remembered as it.
func TestVerifiedTokensAreCheckedAgain(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tokens, err := New(Config{
		AccessSecret:  []byte("access-secret-0123456789abcdef0123456789"),
		RefreshSecret: []byte("refresh-secret-0123456789abcdef012345678"),
		Issuer:        "ecompointer", Audience: "ecompointer-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: 168 * time.Hour, Leeway: 30 * time.Second,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tokens.SignAccess(Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "BRAND_OWNER"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tokens.VerifyAccess(tok); err != nil {
			t.Fatalf("a fresh token: %v", err)
		}
	}
	if _, seen := tokens.verified.get(tok); !seen {
		t.Fatal("a verified token was not remembered: this test proves nothing")
	}
	tampered := tok[:len(tok)-2] + "AA"
	if _, err := tokens.VerifyAccess(tampered); err == nil {
		t.Error("a token with another signature verified")
	}
	if _, err := tokens.VerifyRefresh(tok); err == nil {
		t.Error("a remembered access token passed as a refresh token")
	}
	now = now.Add(-time.Hour)
	if _, err := tokens.VerifyAccess(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("before its issue time: %v, want ErrInvalid", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := tokens.VerifyAccess(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("after its expiry: %v, want ErrExpired", err)
	}
}

// TestVerifiedTokensAreBounded proves the memory of verified tokens stays within its size.
func TestVerifiedTokensAreBounded(t *testing.T) {
	t.Parallel()
	v := newVerifiedTokens(4)
	for i := range 100 {
		v.put(fmt.Sprint(i), accessClaims{})
	}
	if n := len(v.current) + len(v.previous); n > 4 {
		t.Fatalf("%d tokens remembered, want at most 4", n)
	}
	if _, ok := v.get("99"); !ok {
		t.Error("the newest token was dropped")
	}
	if _, ok := v.get("0"); ok {
		t.Error("the oldest token was kept")
	}
}
