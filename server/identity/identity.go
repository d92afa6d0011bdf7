// Package identity is who may do what: accounts and their authentication (register, login,
// refresh rotation, logout), sessions, the login throttle, brands and their members, invitations
// and the platform administration. These call each other (a registration creates a brand, an
// accepted invitation an account and its session), so they are one package. It holds the only
// code allowed to change the users, brands, sessions, invitations, login_throttles and
// audit_events tables.
package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/password"
	"github.com/ecompointer/ecompointer/server/token"
)

// Config holds the authentication settings (.env.example documents each one).
type Config struct {
	AccessSecret  []byte
	RefreshSecret []byte
	// AccessSecretPrevious and RefreshSecretPrevious verify tokens (and list cursors) signed
	// before a secret rotation; nothing new is signed with them (JWT_*_SECRET_PREVIOUS).
	AccessSecretPrevious  []byte
	RefreshSecretPrevious []byte
	Issuer                string
	Audience              string
	AccessTTL             time.Duration
	RefreshTTL            time.Duration
	SessionMaxAge         time.Duration
	RefreshReuseGrace     time.Duration
	BcryptCost            int
	// LoginMaxFailures is how many failed logins of one email from one client address throttle
	// that address for that email; LoginAccountMaxFailures, how many from all addresses together
	// throttle the email everywhere. LoginLockout is the first delay (doubling, at most an hour).
	LoginMaxFailures        int
	LoginAccountMaxFailures int
	LoginLockout            time.Duration
	SessionsMaxPerUser      int
	// RateLimit is how many register/login/refresh requests one client IP may make per minute;
	// 0 turns the limit off.
	RateLimit      int
	TrustedProxies []netip.Prefix
}

// DefaultConfig returns the documented defaults, without secrets.
func DefaultConfig() Config {
	return Config{
		Issuer:                  "ecompointer",
		Audience:                "ecompointer-api",
		AccessTTL:               15 * time.Minute,
		RefreshTTL:              168 * time.Hour,
		SessionMaxAge:           720 * time.Hour,
		RefreshReuseGrace:       10 * time.Second,
		BcryptCost:              12,
		LoginMaxFailures:        5,
		LoginAccountMaxFailures: 100,
		LoginLockout:            time.Minute,
		SessionsMaxPerUser:      50,
		RateLimit:               30,
	}
}

// Handlers implements the identity operations of api.StrictServerInterface.
type Handlers struct {
	d      *kit.Deps
	auth   Config
	tokens *token.Tokens
	hasher *password.Hasher
	// throttleSecret keys the emails in login_throttles (see throttleKey).
	throttleSecret []byte
}

// New returns the identity handlers; tokens signs what they issue (the server verifies it with
// the same).
func New(d *kit.Deps, cfg Config, tokens *token.Tokens) (*Handlers, error) {
	if cfg.SessionsMaxPerUser < 1 || cfg.LoginMaxFailures < 1 || cfg.LoginAccountMaxFailures < cfg.LoginMaxFailures {
		return nil, errors.New("server: SessionsMaxPerUser and LoginMaxFailures must be at least 1, LoginAccountMaxFailures at least LoginMaxFailures")
	}
	hasher, err := password.NewHasher(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	throttleMAC := hmac.New(sha256.New, cfg.AccessSecret)
	throttleMAC.Write([]byte("ecompointer login throttle"))
	return &Handlers{d: d, auth: cfg, tokens: tokens, hasher: hasher, throttleSecret: throttleMAC.Sum(nil)}, nil
}

// apiUser is the API's view of a user.
func apiUser(u db.User) api.User {
	return api.User{
		Id:        u.ID,
		Email:     openapi_types.Email(u.Email),
		Name:      u.Name,
		Role:      api.Role(u.Role),
		BrandId:   u.BrandID,
		Disabled:  u.Disabled,
		CreatedAt: u.CreatedAt.UTC(),
	}
}

func apiSession(s db.Session, current uuid.UUID) api.Session {
	return api.Session{
		Id:         s.ID,
		CreatedAt:  s.CreatedAt.UTC(),
		LastUsedAt: s.LastUsedAt.UTC(),
		ExpiresAt:  s.ExpiresAt.UTC(),
		UserAgent:  s.UserAgent,
		Ip:         s.Ip,
		Current:    s.ID == current,
	}
}

func apiAuditEvent(e db.AuditEvent) api.AuditEvent {
	return api.AuditEvent{
		Id:            e.ID,
		Type:          api.AuditEventType(e.Type),
		UserId:        e.UserID,
		ActorId:       e.ActorID,
		ActorApiKeyId: e.ActorApiKeyID,
		ApiKeyId:      e.ApiKeyID,
		SessionId:     e.SessionID,
		Ip:            e.Ip,
		UserAgent:     e.UserAgent,
		CreatedAt:     e.CreatedAt.UTC(),
	}
}

// authenticated is every answer that carries tokens: never stored by a cache (RFC 6749 §5.1).
func authenticated(auth api.AuthResponse) api.AuthenticatedJSONResponse {
	return api.AuthenticatedJSONResponse{
		Body:    auth,
		Headers: api.AuthenticatedResponseHeaders{CacheControl: "no-store", Pragma: "no-cache"},
	}
}
