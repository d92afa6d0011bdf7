package token

import (
	"strings"
	"sync"
)

// VerifiedAccessTokens is how many access tokens whose signature and claims verified are
// remembered (about 500 bytes each: at most about 4 MiB).
const VerifiedAccessTokens = 8192

// verifiedTokens remembers the claims of access tokens that verified, keyed by their exact text.
// A client presents the same access token on every request until it refreshes it, and the same
// text always verifies to the same claims under the same key (each token has exactly one
// spelling), so a token presented again costs a map lookup instead of base64, HMAC-SHA256 and a
// strict JSON decode: about a tenth of the server's CPU for a product read. Only what depends on
// when the token is presented (expiry, issue time) is checked again, every time; whether its
// session still lives is the caller's check, every time. Nothing is remembered of a token that
// failed, so a forger gains nothing by sending many.
//
// Two generations bound it without bookkeeping per entry: when the current one is full it becomes
// the previous one and the oldest is dropped; a token found in the previous generation moves to
// the current one.
type verifiedTokens struct {
	mu       sync.RWMutex
	limit    int // entries per generation
	current  map[string]accessClaims
	previous map[string]accessClaims
}

func newVerifiedTokens(size int) *verifiedTokens {
	limit := max(size/2, 1)
	return &verifiedTokens{limit: limit, current: make(map[string]accessClaims, limit)}
}

func (v *verifiedTokens) get(tok string) (accessClaims, bool) {
	v.mu.RLock()
	c, ok := v.current[tok]
	old := false
	if !ok {
		c, ok = v.previous[tok]
		old = ok
	}
	v.mu.RUnlock()
	if old {
		v.put(tok, c)
	}
	return c, ok
}

func (v *verifiedTokens) put(tok string, c accessClaims) {
	tok = strings.Clone(tok) // never keep the request's header alive
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.current) >= v.limit {
		v.previous, v.current = v.current, make(map[string]accessClaims, v.limit)
	}
	v.current[tok] = c
}
