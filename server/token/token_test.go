package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/token"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newTokens(t testing.TB, clock *time.Time) *token.Tokens {
	t.Helper()
	tk, err := token.New(token.Config{
		AccessSecret:  []byte("access-secret-0123456789abcdef0123456789"),
		RefreshSecret: []byte("refresh-secret-0123456789abcdef012345678"),
		Issuer:        "ecompointer",
		Audience:      "ecompointer-api",
		AccessTTL:     15 * time.Minute,
		RefreshTTL:    168 * time.Hour,
		Leeway:        30 * time.Second,
		Now:           func() time.Time { return *clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestConfigIsChecked(t *testing.T) {
	t.Parallel()
	long := []byte(strings.Repeat("k", 32))
	cases := map[string]token.Config{
		"short access secret":  {AccessSecret: []byte("short"), RefreshSecret: long, Issuer: "i", Audience: "a", AccessTTL: time.Minute},
		"short refresh secret": {AccessSecret: long, RefreshSecret: []byte("x"), Issuer: "i", Audience: "a", AccessTTL: time.Minute},
		"equal secrets":        {AccessSecret: long, RefreshSecret: long, Issuer: "i", Audience: "a", AccessTTL: time.Minute},
		"leeway over 30s":      {AccessSecret: long, RefreshSecret: []byte(strings.Repeat("r", 32)), Issuer: "i", Audience: "a", AccessTTL: time.Minute, RefreshTTL: time.Hour, Leeway: time.Minute},
		"no refresh TTL":       {AccessSecret: long, RefreshSecret: []byte(strings.Repeat("r", 32)), Issuer: "i", Audience: "a", AccessTTL: time.Minute},
	}
	for name, cfg := range cases {
		if _, err := token.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRefreshTokensArePure(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	r := token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 3, Version: 2, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	a, err := tk.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(5 * time.Second)
	b, err := tk.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the same refresh claims signed twice differ")
	}
	got, err := tk.VerifyRefresh(a)
	if err != nil || got.Generation != 3 || got.SessionID != r.SessionID || got.Version != 2 {
		t.Fatalf("verify = %+v %v", got, err)
	}
	r.Generation = 4
	c, _ := tk.SignRefresh(r)
	if c == a {
		t.Error("another generation gives the same token")
	}
}

func TestTypesNeverCross(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	access, _, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "STAFF", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := tk.SignRefresh(token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 1, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.VerifyAccess(refresh); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("a refresh token verified as access: %v", err)
	}
	if _, err := tk.VerifyRefresh(access); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("an access token verified as refresh: %v", err)
	}
	if _, err := tk.VerifyAccess(access); err != nil {
		t.Errorf("access: %v", err)
	}
}

func TestExpiryAndLeeway(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	access, claims, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "STAFF", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !claims.ExpiresAt.Equal(now.Add(15 * time.Minute)) {
		t.Errorf("exp = %s", claims.ExpiresAt)
	}
	clock = now.Add(15*time.Minute + 29*time.Second)
	if _, err := tk.VerifyAccess(access); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	clock = now.Add(15*time.Minute + 30*time.Second)
	if _, err := tk.VerifyAccess(access); !errors.Is(err, token.ErrExpired) {
		t.Errorf("past leeway: %v", err)
	}
}

// TestOneSpellingPerSignature: the two unused low bits of the signature's last base64url
// character must be zero; a lenient decoder reads the same signature from the flipped string,
// giving one token several spellings that all verify.
func TestOneSpellingPerSignature(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	access, _, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "STAFF", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := tk.SignRefresh(token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 1, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, bits := range []int{1, 2, 3} {
		flip := func(tok string) string {
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			return tok[:len(tok)-1] + string(alphabet[last^bits])
		}
		if _, err := tk.VerifyAccess(flip(access)); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("access token, low bits ^%d: %v, want ErrInvalid", bits, err)
		}
		if _, err := tk.VerifyRefresh(flip(refresh)); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("refresh token, low bits ^%d: %v, want ErrInvalid", bits, err)
		}
	}
	// Go's base64 decoder skips CR and LF anywhere: a refresh token sent as a JSON string with an
	// escaped line break inside would otherwise verify as a second spelling (found by FuzzVerify).
	for _, brk := range []string{"\n", "\r", "\r\n"} {
		mid := len(refresh) - 5
		if _, err := tk.VerifyRefresh(refresh[:mid] + brk + refresh[mid:]); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("refresh token with %q inside the signature: %v, want ErrInvalid", brk, err)
		}
		if _, err := tk.VerifyAccess(access[:10] + brk + access[10:]); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("access token with %q inside the header: %v, want ErrInvalid", brk, err)
		}
	}
}

// TestLifetimeIsBounded: a token the server would never issue, living longer than its type's TTL
// plus the leeway, is refused even though its signature is good.
func TestLifetimeIsBounded(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		ok       bool
	}{
		{"refresh TTL", 168 * time.Hour, true},
		{"refresh TTL + leeway", 168*time.Hour + 30*time.Second, true},
		{"refresh TTL + leeway + 1 s", 168*time.Hour + 31*time.Second, false},
		{"ten years", 10 * 365 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tk.SignRefresh(token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 1, Version: 1, IssuedAt: now, ExpiresAt: now.Add(tc.lifetime)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tk.VerifyRefresh(tok)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, token.ErrInvalid)) {
				t.Errorf("verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func BenchmarkSignAccess(b *testing.B) {
	clock := now
	tk := newTokens(b, &clock)
	a := token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "BRAND_OWNER", Version: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tk.SignAccess(a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	clock := now
	tk := newTokens(b, &clock)
	brand := uuid.New()
	s, _, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "BRAND_OWNER", BrandID: &brand, Version: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.VerifyAccess(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRefresh(b *testing.B) {
	clock := now
	tk := newTokens(b, &clock)
	r := token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 1, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.SignRefresh(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeaderIsExactlyTheServers: only {"alg":"HS256","typ":...} passes, whatever else the token
// says about how it wants to be checked.
func TestHeaderIsExactlyTheServers(t *testing.T) {
	t.Parallel()
	clock := now
	tk := newTokens(t, &clock)
	good, _, err := tk.SignAccess(token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "STAFF", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	secret := []byte("access-secret-0123456789abcdef0123456789")
	resign := func(header string) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(header))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	if _, err := tk.VerifyAccess(resign(`{"alg":"HS256","typ":"at+jwt"}`)); err != nil {
		t.Fatalf("the helper's own re-signing is refused: %v", err)
	}
	for name, tok := range map[string]string{
		"a kid":             resign(`{"alg":"HS256","typ":"at+jwt","kid":"1"}`),
		"crit":              resign(`{"alg":"HS256","typ":"at+jwt","crit":["exp"]}`),
		"lowercase alg":     resign(`{"alg":"hs256","typ":"at+jwt"}`),
		"no alg":            resign(`{"typ":"at+jwt"}`),
		"header not object": resign(`"HS256"`),
		"padded signature":  good + "=",
		"four parts":        good + ".x",
		"empty signature":   parts[0] + "." + parts[1] + ".",
	} {
		if _, err := tk.VerifyAccess(tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
