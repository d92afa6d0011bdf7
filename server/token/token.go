// Package token issues and verifies the API's JWTs: short-lived access tokens and rotating refresh
// tokens, each with its own secret and its own `typ`, HS256 only.
//
// Verification never trusts the token's header to choose how it is checked: the algorithm is
// pinned by the server (RFC 8725 §3.1), the type is compared exactly (RFC 8725 §3.11, RFC 9068),
// and iss, aud, exp and iat are all required.
package token

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/ecompointer/ecompointer/server/b64url"
)

// Token types (the JWS `typ` header).
const (
	TypeAccess  = "at+jwt"
	TypeRefresh = "refresh+jwt"
)

// MinSecretBytes is the shortest secret accepted: HS256's key should be at least its output size.
const MinSecretBytes = 32

// MaxLeeway bounds the clock skew tolerated on exp and iat.
const MaxLeeway = 30 * time.Second

// Errors a verification returns; both are a 401 for the client.
var (
	ErrExpired = errors.New("token expired")
	ErrInvalid = errors.New("token invalid")
)

// Config holds the keys and the claims every token carries.
type Config struct {
	AccessSecret  []byte
	RefreshSecret []byte
	// AccessSecretPrevious and RefreshSecretPrevious (optional) are the secrets being rotated
	// away from: tokens they signed still verify, nothing new is signed with them. Each process
	// reads them once at start, so a token remembered as verified (verifiedTokens) stays right
	// for the process's whole life: removing a previous secret takes a restart, which forgets.
	AccessSecretPrevious  []byte
	RefreshSecretPrevious []byte
	Issuer                string
	Audience              string
	AccessTTL             time.Duration
	// RefreshTTL is the longest a refresh token lives. A token whose exp - iat is longer than
	// its type's TTL plus the leeway is refused even with a good signature: the server never
	// issues one, so it was forged (with a leaked key) to outlive what the operator configured.
	RefreshTTL time.Duration
	Leeway     time.Duration
	Now        func() time.Time
	// Remember is how many access tokens in use at once stay remembered as verified (zero:
	// VerifiedAccessTokens): one per live session. Clients present their tokens in no order, so
	// a store smaller than that evicts most tokens before they come back, and most requests
	// verify their token from scratch again.
	Remember int
}

// Tokens signs and verifies.
//
// jwx provides the HS256 signer and verifier; the compact serialization around them is done here
// because its shape is fixed (one protected header of two members, which is precomputed), which
// takes a token's signing from about 10 µs to 2 and its verification from 12 to 3: the JWT work
// was a fifth of the CPU of a refresh. It is also stricter than a general parser: the header must
// be exactly {"alg":"HS256","typ":...}, so no "crit", "jku" or "kid" can ever be acted upon.
type Tokens struct {
	cfg           Config
	verified      *verifiedTokens
	signer        jws.Signer
	verifier      jws.Verifier
	accessHeader  string // base64url of the protected header, precomputed
	refreshHeader string
	// remembered and checked count the access tokens presented: answered from verified, or
	// checked from their signature (whether they passed or not). Checks reports them.
	remembered, checked atomic.Uint64
}

// header is the only protected header the server issues and accepts.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

func encodeHeader(typ string) string {
	b, _ := json.Marshal(header{Alg: string(jwa.HS256), Typ: typ}) // two strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// New checks the configuration and returns a Tokens.
func New(cfg Config) (*Tokens, error) {
	if len(cfg.AccessSecret) < MinSecretBytes || len(cfg.RefreshSecret) < MinSecretBytes {
		return nil, fmt.Errorf("token secrets must be at least %d bytes", MinSecretBytes)
	}
	if bytes.Equal(cfg.AccessSecret, cfg.RefreshSecret) {
		return nil, errors.New("the access and refresh secrets must differ")
	}
	for _, prev := range [][]byte{cfg.AccessSecretPrevious, cfg.RefreshSecretPrevious} {
		if len(prev) > 0 && len(prev) < MinSecretBytes {
			return nil, fmt.Errorf("previous token secrets must be at least %d bytes", MinSecretBytes)
		}
	}
	// One type's key never verifies the other's tokens, in any generation of either.
	for _, a := range [][]byte{cfg.AccessSecret, cfg.AccessSecretPrevious} {
		for _, r := range [][]byte{cfg.RefreshSecret, cfg.RefreshSecretPrevious} {
			if len(a) > 0 && bytes.Equal(a, r) {
				return nil, errors.New("the access secrets (current and previous) must differ from the refresh secrets")
			}
		}
	}
	// A previous secret equal to the current one is the end of a rotation: nothing more to try.
	if bytes.Equal(cfg.AccessSecretPrevious, cfg.AccessSecret) {
		cfg.AccessSecretPrevious = nil
	}
	if bytes.Equal(cfg.RefreshSecretPrevious, cfg.RefreshSecret) {
		cfg.RefreshSecretPrevious = nil
	}
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.AccessTTL <= 0 || cfg.RefreshTTL <= 0 {
		return nil, errors.New("token issuer, audience, access and refresh TTL are required")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("token leeway must be within 0..%s", MaxLeeway)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signer, err := jws.NewSigner(jwa.HS256)
	if err != nil {
		return nil, err
	}
	verifier, err := jws.NewVerifier(jwa.HS256)
	if err != nil {
		return nil, err
	}
	dead := func() int64 { return cfg.Now().Add(-cfg.Leeway).Unix() }
	return &Tokens{
		cfg: cfg, signer: signer, verifier: verifier, verified: newVerifiedTokens(cmp.Or(cfg.Remember, VerifiedAccessTokens), dead),
		accessHeader: encodeHeader(TypeAccess), refreshHeader: encodeHeader(TypeRefresh),
	}, nil
}

// AccessTTL is how long an access token lives.
func (t *Tokens) AccessTTL() time.Duration { return t.cfg.AccessTTL }

// Access is what an access token says.
type Access struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Role      string
	BrandID   *uuid.UUID
	Version   int32
	IssuedAt  time.Time
	ExpiresAt time.Time
	ID        string
}

// Refresh is what a refresh token says.
type Refresh struct {
	UserID     uuid.UUID
	SessionID  uuid.UUID
	Generation int32
	Version    int32
	IssuedAt   time.Time
	ExpiresAt  time.Time
}

// accessClaims and refreshClaims are the wire form; field order is fixed, so the same claims
// always encode to the same bytes.
type accessClaims struct {
	Iss   string     `json:"iss"`
	Aud   audience   `json:"aud"`
	Sub   uuid.UUID  `json:"sub"`
	Sid   uuid.UUID  `json:"sid"`
	Role  string     `json:"role"`
	Brand *uuid.UUID `json:"brand,omitempty"`
	Ver   int32      `json:"ver"`
	Iat   int64      `json:"iat"`
	Exp   int64      `json:"exp"`
	Jti   string     `json:"jti"`
}

type refreshClaims struct {
	Iss string    `json:"iss"`
	Aud audience  `json:"aud"`
	Sub uuid.UUID `json:"sub"`
	Sid uuid.UUID `json:"sid"`
	Gen int32     `json:"gen"`
	Ver int32     `json:"ver"`
	Iat int64     `json:"iat"`
	Exp int64     `json:"exp"`
	Jti string    `json:"jti"`
}

// audience accepts both forms RFC 7519 §4.1.3 allows: one string or an array of strings.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) has(want string) bool {
	for _, v := range a {
		if v == want {
			return true
		}
	}
	return false
}

// SignAccess issues an access token for the session, valid from now for the access TTL.
func (t *Tokens) SignAccess(a Access) (string, Access, error) {
	now := t.cfg.Now()
	a.IssuedAt = now.Truncate(time.Second)
	a.ExpiresAt = a.IssuedAt.Add(t.cfg.AccessTTL)
	a.ID = uuid.New().String()
	c := accessClaims{
		Iss: t.cfg.Issuer, Aud: audience{t.cfg.Audience},
		Sub: a.UserID, Sid: a.SessionID, Role: a.Role, Brand: a.BrandID, Ver: a.Version,
		Iat: a.IssuedAt.Unix(), Exp: a.ExpiresAt.Unix(), Jti: a.ID,
	}
	s, err := t.sign(c, t.cfg.AccessSecret, t.accessHeader)
	return s, a, err
}

// SignRefresh issues the refresh token of one generation of a session. It is a pure function of
// its input (no clock, no randomness: the id is derived from session and generation), so the same
// generation can be issued again byte for byte, and a presented token checked against a stored
// hash.
func (t *Tokens) SignRefresh(r Refresh) (string, error) {
	return t.sign(t.refreshClaims(r), t.cfg.RefreshSecret, t.refreshHeader)
}

func (t *Tokens) refreshClaims(r Refresh) refreshClaims {
	return refreshClaims{
		Iss: t.cfg.Issuer, Aud: audience{t.cfg.Audience},
		Sub: r.UserID, Sid: r.SessionID, Gen: r.Generation, Ver: r.Version,
		Iat: r.IssuedAt.Unix(), Exp: r.ExpiresAt.Unix(), Jti: refreshID(r.SessionID, r.Generation),
	}
}

// ReissueRefresh signs r again and returns the spelling that matches: with the current secret,
// else with the previous one. A refresh token issued before a secret rotation (by this process
// before a restart, or by an instance not yet restarted) is re-issued byte for byte even though
// this process now signs with the new secret. ok is false when neither spelling matches.
func (t *Tokens) ReissueRefresh(r Refresh, matches func(string) bool) (tok string, ok bool, err error) {
	for _, key := range [][]byte{t.cfg.RefreshSecret, t.cfg.RefreshSecretPrevious} {
		if len(key) == 0 {
			continue
		}
		if tok, err = t.sign(t.refreshClaims(r), key, t.refreshHeader); err != nil {
			return "", false, err
		}
		if matches(tok) {
			return tok, true, nil
		}
	}
	return "", false, nil
}

func refreshID(sid uuid.UUID, gen int32) string {
	h := sha256.Sum256(fmt.Appendf(sid[:], "/%d", gen))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func (t *Tokens) sign(claims any, key []byte, headerSegment string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(headerSegment)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	buf = append(buf, headerSegment...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := t.signer.Sign(buf, key)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}

// VerifyAccess checks an access token and returns its claims.
func (t *Tokens) VerifyAccess(tok string) (Access, error) {
	c, seen := t.verified.get(tok)
	if seen {
		t.remembered.Add(1)
	} else {
		t.checked.Add(1)
		var err error
		if c, err = t.verifyAccessClaims(tok); err != nil {
			return Access{}, err
		}
	}
	// The time checks depend on when the token is presented: they run every time.
	if err := t.checkTimes(c.Iss, c.Aud, c.Iat, c.Exp, t.cfg.AccessTTL); err != nil {
		return Access{}, err
	}
	if c.Sub == uuid.Nil || c.Sid == uuid.Nil || c.Role == "" || c.Jti == "" {
		return Access{}, ErrInvalid
	}
	if !seen {
		t.verified.put(tok, c)
	}
	if c.Brand != nil {
		brand := *c.Brand // the remembered claims are shared: each caller gets its own copy
		c.Brand = &brand
	}
	return Access{
		UserID: c.Sub, SessionID: c.Sid, Role: c.Role, BrandID: c.Brand, Version: c.Ver,
		IssuedAt: time.Unix(c.Iat, 0).UTC(), ExpiresAt: time.Unix(c.Exp, 0).UTC(), ID: c.Jti,
	}, nil
}

// Checks counts the access tokens presented since start: remembered ones, whose signature was
// not checked again, and those checked from their signature. Checked tokens at nearly the rate of
// requests mean the store is smaller than the tokens in use (Config.Remember).
func (t *Tokens) Checks() (remembered, checked uint64) {
	return t.remembered.Load(), t.checked.Load()
}

// verifyAccessClaims is verify for an access token, on its own so that only a token not yet
// remembered puts its claims on the heap.
func (t *Tokens) verifyAccessClaims(tok string) (accessClaims, error) {
	var c accessClaims
	err := t.verify(tok, t.cfg.AccessSecret, t.cfg.AccessSecretPrevious, TypeAccess, &c)
	return c, err
}

// VerifyRefresh checks a refresh token and returns its claims.
func (t *Tokens) VerifyRefresh(tok string) (Refresh, error) {
	var c refreshClaims
	if err := t.verify(tok, t.cfg.RefreshSecret, t.cfg.RefreshSecretPrevious, TypeRefresh, &c); err != nil {
		return Refresh{}, err
	}
	if err := t.checkTimes(c.Iss, c.Aud, c.Iat, c.Exp, t.cfg.RefreshTTL); err != nil {
		return Refresh{}, err
	}
	if c.Sub == uuid.Nil || c.Sid == uuid.Nil || c.Gen < 1 || c.Jti != refreshID(c.Sid, c.Gen) {
		return Refresh{}, ErrInvalid
	}
	return Refresh{
		UserID: c.Sub, SessionID: c.Sid, Generation: c.Gen, Version: c.Ver,
		IssuedAt: time.Unix(c.Iat, 0).UTC(), ExpiresAt: time.Unix(c.Exp, 0).UTC(),
	}, nil
}

// verify checks, in this order: the compact form, the header (exactly alg HS256 and this token
// type: the algorithm is the server's choice, never the token's), the signature with the key of
// this type (or, during a rotation, its previous key), and then decodes the claims strictly.
func (t *Tokens) verify(tok string, key, previous []byte, typ string, claims any) error {
	if tok == "" || len(tok) > 4096 {
		return ErrInvalid
	}
	headerSeg, rest, ok := strings.Cut(tok, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sigSeg, ".") {
		return ErrInvalid
	}
	// Each token has exactly one spelling (b64url.Decode refuses every other): leniently decoded,
	// flipped unused bits or a line break give other strings that still verify, which defeats
	// anything keyed by the token's text (a deny list, a hash, a log search).
	var h header
	if rawHeader, err := b64url.Decode(headerSeg); err != nil || strictJSON(rawHeader, &h) != nil {
		return ErrInvalid
	}
	if h.Alg != string(jwa.HS256) || !strings.EqualFold(h.Typ, typ) {
		return ErrInvalid
	}
	sig, err := b64url.Decode(sigSeg)
	if err != nil {
		return ErrInvalid
	}
	signed := []byte(tok[:len(headerSeg)+1+len(payloadSeg)])
	if err := t.verifier.Verify(signed, sig, key); err != nil {
		if len(previous) == 0 || t.verifier.Verify(signed, sig, previous) != nil {
			return ErrInvalid
		}
	}
	payload, err := b64url.Decode(payloadSeg)
	if err != nil || strictJSON(payload, claims) != nil {
		return ErrInvalid
	}
	return nil
}

// strictJSON decodes one JSON object with no member the target does not know.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (t *Tokens) checkTimes(iss string, aud audience, iat, exp int64, ttl time.Duration) error {
	if iss != t.cfg.Issuer || !aud.has(t.cfg.Audience) || iat == 0 || exp == 0 || exp <= iat {
		return ErrInvalid
	}
	if time.Duration(exp-iat)*time.Second > ttl+t.cfg.Leeway {
		return ErrInvalid // a lifetime the server never issues
	}
	now := t.cfg.Now()
	if time.Unix(iat, 0).After(now.Add(t.cfg.Leeway)) {
		return ErrInvalid // issued in the future: not ours, or a clock far off
	}
	if !now.Before(time.Unix(exp, 0).Add(t.cfg.Leeway)) {
		return ErrExpired
	}
	return nil
}
