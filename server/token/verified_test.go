package token

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
)

// clockedTokens are Tokens whose clock reads *now, remembering remember tokens (zero: the default).
func clockedTokens(t *testing.T, now *time.Time, remember int) *Tokens {
	t.Helper()
	tokens, err := New(Config{
		AccessSecret:  []byte("access-secret-0123456789abcdef0123456789"),
		RefreshSecret: []byte("refresh-secret-0123456789abcdef012345678"),
		Issuer:        "ecompointer", Audience: "ecompointer-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: 168 * time.Hour, Leeway: 30 * time.Second,
		Now: func() time.Time { return *now }, Remember: remember,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// TestVerifiedTokensAreCheckedAgain proves what the remembered tokens may not skip: a token
// verified once still expires, is still refused before its issue time, still never passes as
// another type, and a tampered copy of it is not remembered as it.
func TestVerifiedTokensAreCheckedAgain(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tokens := clockedTokens(t, &now, 0)
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

// TestVerifiedTokensAreBounded proves the memory of verified tokens stays within two generations,
// that expired tokens make room before live ones are dropped, and that the newest stay.
func TestVerifiedTokensAreBounded(t *testing.T) {
	t.Parallel()
	live := accessClaims{Exp: 1000}
	expired := accessClaims{Exp: 10}
	dead := func() int64 { return 100 }
	t.Run("live tokens turn the generations", func(t *testing.T) {
		t.Parallel()
		v := newVerifiedTokens(4, dead)
		for i := range 100 {
			v.put(fmt.Sprint(i), live)
		}
		if n := len(v.current) + len(v.previous); n > 8 {
			t.Fatalf("%d tokens remembered, want at most 8", n)
		}
		if _, ok := v.get("99"); !ok {
			t.Error("the newest token was dropped")
		}
		if _, ok := v.get("0"); ok {
			t.Error("the oldest token was kept")
		}
	})
	t.Run("expired tokens go first", func(t *testing.T) {
		t.Parallel()
		v := newVerifiedTokens(4, dead)
		v.put("live", live)
		for i := range 3 {
			v.put(fmt.Sprint("expired", i), expired)
		}
		v.put("new", live) // the generation is full: the three expired ones make room
		if len(v.previous) != 0 {
			t.Errorf("the generation turned (%d moved to the previous one) with three expired tokens to drop", len(v.previous))
		}
		if _, ok := v.current["expired0"]; ok {
			t.Error("an expired token was kept")
		}
		for _, tok := range []string{"live", "new"} {
			if _, ok := v.current[tok]; !ok {
				t.Errorf("%s was dropped", tok)
			}
		}
	})
	t.Run("a generation mostly live turns", func(t *testing.T) {
		t.Parallel()
		v := newVerifiedTokens(4, dead)
		v.put("expired", expired)
		for i := range 3 {
			v.put(fmt.Sprint("live", i), live)
		}
		v.put("new", live) // one expired of four: not enough room, the generation turns
		if _, ok := v.previous["live0"]; !ok || len(v.previous) != 3 {
			t.Errorf("previous generation %v, want the three live tokens", v.previous)
		}
		if _, ok := v.current["new"]; !ok || len(v.current) != 1 {
			t.Errorf("current generation %v, want the new token alone", v.current)
		}
	})
}

// TestVerifiedTokensServeTheirSize proves a store sized to the tokens in use remembers them
// all, however the clients pick them: 10,000 sessions' tokens presented at random. The server's
// store was once two generations of 4,096 whatever the sessions: at 10,000 it kept about 4,000,
// and most requests verified their token from scratch again.
func TestVerifiedTokensServeTheirSize(t *testing.T) {
	t.Parallel()
	const sessions = 10_000
	for _, tc := range []struct {
		name     string
		remember int
		all      bool
	}{
		{"sized to the sessions", sessions, true},
		{"a store for a quarter of them", sessions / 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			tokens := clockedTokens(t, &now, tc.remember)
			var err error
			toks := make([]string, sessions)
			for i := range toks {
				if toks[i], _, err = tokens.SignAccess(Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "STAFF"}); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 5 * sessions {
				if _, err := tokens.VerifyAccess(toks[rng.IntN(sessions)]); err != nil {
					t.Fatal(err)
				}
			}
			for _, tok := range toks { // each at least once
				if _, err := tokens.VerifyAccess(tok); err != nil {
					t.Fatal(err)
				}
			}
			remembered := 0
			for _, tok := range toks {
				if _, ok := tokens.verified.get(tok); ok {
					remembered++
				}
			}
			if tc.all && remembered != sessions {
				t.Errorf("%d of %d tokens remembered, want all", remembered, sessions)
			}
			if !tc.all && remembered >= sessions {
				t.Errorf("a store for a quarter remembered all %d tokens: the sized case proves nothing", sessions)
			}
			t.Logf("%d of %d tokens remembered", remembered, sessions)
		})
	}
}

// TestVerifiedTokensMemory reports the heap 50,000 remembered tokens take (a full generation at
// the session cache's default size, which the server gives the store): the README's figure. It
// fails past 40 MiB.
func TestVerifiedTokensMemory(t *testing.T) {
	const size = 50_000
	v := newVerifiedTokens(size, func() int64 { return 0 })
	brand := uuid.New()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range size {
		// A real token's length: header, claims with a brand, signature.
		tok := fmt.Sprintf("%0330d", i)
		v.put(tok, accessClaims{
			Iss: "ecompointer", Aud: audience{"ecompointer-api"}, Sub: uuid.New(), Sid: uuid.New(), Role: "BRAND_OWNER",
			Brand: &brand, Ver: 1, Iat: 1, Exp: 2, Jti: uuid.NewString(),
		})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("%d verified tokens: %.1f MiB of heap", len(v.current), heap)
	if heap > 40 {
		t.Errorf("%.1f MiB for %d verified tokens, want at most 40", heap, size)
	}
	runtime.KeepAlive(v)
}
