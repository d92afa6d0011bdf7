// Package token issues and verifies the API's JWTs: short-lived access tokens and rotating refresh
// tokens, each with its own secret and its own `typ`, HS256 only.
//
// Verification never trusts the token's header to choose how it is checked: the algorithm is
// pinned by the server (RFC 8725 §3.1), the type is compared exactly (RFC 8725 §3.11, RFC 9068),
// and iss, aud, exp and iat are all required.
package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
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
	Issuer        string
	Audience      string
	AccessTTL     time.Duration
	Leeway        time.Duration
	Now           func() time.Time
}

// Tokens signs and verifies.
type Tokens struct {
	cfg           Config
	accessHeader  jws.Headers
	refreshHeader jws.Headers
}

// New checks the configuration and returns a Tokens.
func New(cfg Config) (*Tokens, error) {
	if len(cfg.AccessSecret) < MinSecretBytes || len(cfg.RefreshSecret) < MinSecretBytes {
		return nil, fmt.Errorf("token secrets must be at least %d bytes", MinSecretBytes)
	}
	if bytes.Equal(cfg.AccessSecret, cfg.RefreshSecret) {
		return nil, errors.New("the access and refresh secrets must differ")
	}
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.AccessTTL <= 0 {
		return nil, errors.New("token issuer, audience and access TTL are required")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("token leeway must be within 0..%s", MaxLeeway)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tokens{cfg: cfg, accessHeader: jws.NewHeaders(), refreshHeader: jws.NewHeaders()}
	if err := t.accessHeader.Set(jws.TypeKey, TypeAccess); err != nil {
		return nil, err
	}
	if err := t.refreshHeader.Set(jws.TypeKey, TypeRefresh); err != nil {
		return nil, err
	}
	return t, nil
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
	c := refreshClaims{
		Iss: t.cfg.Issuer, Aud: audience{t.cfg.Audience},
		Sub: r.UserID, Sid: r.SessionID, Gen: r.Generation, Ver: r.Version,
		Iat: r.IssuedAt.Unix(), Exp: r.ExpiresAt.Unix(), Jti: refreshID(r.SessionID, r.Generation),
	}
	return t.sign(c, t.cfg.RefreshSecret, t.refreshHeader)
}

func refreshID(sid uuid.UUID, gen int32) string {
	h := sha256.Sum256(fmt.Appendf(sid[:], "/%d", gen))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func (t *Tokens) sign(claims any, key []byte, header jws.Headers) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b, err := jws.Sign(payload, jws.WithKey(jwa.HS256, key, jws.WithProtectedHeaders(header)))
	return string(b), err
}

// VerifyAccess checks an access token and returns its claims.
func (t *Tokens) VerifyAccess(tok string) (Access, error) {
	var c accessClaims
	if err := t.verify(tok, t.cfg.AccessSecret, TypeAccess, &c); err != nil {
		return Access{}, err
	}
	if err := t.checkTimes(c.Iss, c.Aud, c.Iat, c.Exp); err != nil {
		return Access{}, err
	}
	if c.Sub == uuid.Nil || c.Sid == uuid.Nil || c.Role == "" || c.Jti == "" {
		return Access{}, ErrInvalid
	}
	return Access{
		UserID: c.Sub, SessionID: c.Sid, Role: c.Role, BrandID: c.Brand, Version: c.Ver,
		IssuedAt: time.Unix(c.Iat, 0).UTC(), ExpiresAt: time.Unix(c.Exp, 0).UTC(), ID: c.Jti,
	}, nil
}

// VerifyRefresh checks a refresh token and returns its claims.
func (t *Tokens) VerifyRefresh(tok string) (Refresh, error) {
	var c refreshClaims
	if err := t.verify(tok, t.cfg.RefreshSecret, TypeRefresh, &c); err != nil {
		return Refresh{}, err
	}
	if err := t.checkTimes(c.Iss, c.Aud, c.Iat, c.Exp); err != nil {
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

// verify checks the signature with the one key and algorithm the server allows for this type,
// then the header's typ, then decodes the claims strictly.
func (t *Tokens) verify(tok string, key []byte, typ string, claims any) error {
	if tok == "" || len(tok) > 4096 || strings.Count(tok, ".") != 2 {
		return ErrInvalid
	}
	var msg jws.Message
	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.HS256, key), jws.WithMessage(&msg))
	if err != nil {
		return ErrInvalid
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return ErrInvalid
	}
	h := sigs[0].ProtectedHeaders()
	if h.Algorithm() != jwa.HS256 || !strings.EqualFold(h.Type(), typ) {
		return ErrInvalid
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(claims); err != nil {
		return ErrInvalid
	}
	return nil
}

func (t *Tokens) checkTimes(iss string, aud audience, iat, exp int64) error {
	if iss != t.cfg.Issuer || !aud.has(t.cfg.Audience) || iat == 0 || exp == 0 || exp <= iat {
		return ErrInvalid
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
