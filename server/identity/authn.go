package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/sessioncache"
	"github.com/ecompointer/ecompointer/server/token"
)

// Refusal is why a request's credentials are refused: Code is a 401 problem code, Detail what the
// client is told. The middleware answers it with WWW-Authenticate; it is not a failure to log.
type Refusal struct {
	Code   api.ProblemCode
	Detail string
}

func (r *Refusal) Error() string { return string(r.Code) + ": " + r.Detail }

// Authenticator resolves access tokens to callers, per request.
type Authenticator struct {
	d      *kit.Deps
	tokens *token.Tokens
	// sessions answers from memory when it may, from the database otherwise; nil (the cache
	// off) asks the database every time.
	sessions *sessioncache.Cache
}

// NewAuthenticator returns the authenticator of the tokens that identity's handlers issue.
func NewAuthenticator(d *kit.Deps, tokens *token.Tokens, sessions *sessioncache.Cache) *Authenticator {
	return &Authenticator{d: d, tokens: tokens, sessions: sessions}
}

// Authenticate resolves raw, the request's bearer token ("" when it sent none), to its caller: a
// valid access token of a live session of an enabled user, issued since the user's tokens were
// last invalidated; or a live API key (told apart by its prefix, before anything is parsed) of an
// enabled member of its brand. A *Refusal says why it is not; any other error is unexpected.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*kit.Caller, error) {
	if raw == "" {
		return nil, &Refusal{api.ProblemCodeUnauthenticated, "This operation needs an access token: Authorization: Bearer <token>."}
	}
	if strings.HasPrefix(raw, APIKeyPrefix) {
		return a.authenticateKey(ctx, raw)
	}
	_, verify := observe.Start(ctx, "token.verify")
	claims, err := a.tokens.VerifyAccess(raw)
	verify.End()
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, &Refusal{api.ProblemCodeTokenExpired, "The access token expired; refresh it."}
	case err != nil:
		return nil, &Refusal{api.ProblemCodeInvalidToken, "The access token is not valid."}
	}
	user, err := a.sessions.Authenticate(ctx, a.d.Queries, claims.SessionID, claims.UserID, claims.Version, a.d.Now())
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return nil, &Refusal{api.ProblemCodeTokenRevoked, "The session of this token has ended."}
	}
	if err != nil {
		return nil, err
	}
	if user.Disabled || user.TokenVersion != claims.Version {
		return nil, &Refusal{api.ProblemCodeTokenRevoked, "This token has been revoked."}
	}
	return &kit.Caller{User: user, SessionID: claims.SessionID}, nil
}

// Reaches reports whether c may address brand, a path parameter not yet validated. Anyone but an
// ADMIN reaches only their own brand; an ADMIN reaches every brand that exists, and a brand that
// does not is refused like any other, rather than failing deep inside a write on its foreign key.
// A malformed id is left to validation (an ADMIN reaches it; nobody else does). Refused, the
// brand answers 404 exactly like a missing one, so a caller learns nothing of other tenants. An
// API key reaches its own brand only, whoever made it.
func Reaches(ctx context.Context, d *kit.Deps, c *kit.Caller, brand string) (bool, error) {
	id, err := uuid.Parse(brand)
	if c.APIKey != nil {
		return err == nil && id == c.APIKey.BrandID, nil
	}
	if c.User.Role != db.UserRoleADMIN {
		return err == nil && c.User.BrandID != nil && *c.User.BrandID == id, nil
	}
	if err != nil {
		return true, nil
	}
	_, err = d.Queries.BrandGet(ctx, id)
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
