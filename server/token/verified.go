package token

import (
	"strings"
	"sync"
)

// VerifiedAccessTokens is how many access tokens in use at once stay remembered when
// Config.Remember is not set (the server sets it to SESSION_CACHE_SIZE).
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
// Two generations of limit tokens each bound it without bookkeeping per entry. When the current
// one is full, the tokens in it that have expired for good are dropped first: that keeps the
// memory to the tokens in use, since every client's token is replaced each access TTL. If that
// frees less than half of it, the current generation becomes the previous one and the oldest is
// dropped; a token found in the previous generation moves to the current one. So every token of
// up to limit in use at once stays remembered however clients pick them, and at most 2 × limit
// are held (about 550 bytes each).
type verifiedTokens struct {
	mu       sync.RWMutex
	limit    int          // entries per generation
	dead     func() int64 // the Unix time before which an expiry is past every leeway
	current  map[string]accessClaims
	previous map[string]accessClaims
}

func newVerifiedTokens(size int, dead func() int64) *verifiedTokens {
	return &verifiedTokens{limit: max(size, 1), dead: dead, current: make(map[string]accessClaims)}
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
		v.turn()
	}
	v.current[tok] = c
}

// turn makes room in the full current generation. A scan that keeps the generation is followed
// by at least half a generation of puts before the next one, so it costs a constant per put.
func (v *verifiedTokens) turn() {
	dead := v.dead() // an expired token can never verify again
	for tok, c := range v.current {
		if c.Exp < dead {
			delete(v.current, tok)
		}
	}
	if len(v.current) <= v.limit/2 {
		return
	}
	v.previous, v.current = v.current, make(map[string]accessClaims) // grown with use, not sized to limit
}
