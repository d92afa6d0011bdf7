package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
)

// An API key is APIKeyPrefix + base64url(32 random bytes). The prefix tells a key from a JWT
// before anything is parsed (a JWT starts with "eyJ") and lets secret scanners recognise a leaked
// one. Only its SHA-256 is stored (hashToken, as for refresh tokens): 256 random bits need no
// salt, stretching or key, and a keyed hash would tie every key to a secret whose rotation (or a
// development server's random one) would kill them all.
const (
	APIKeyPrefix     = "ecp_live_"
	apiKeySecretSize = 32
	// apiKeyLength is the whole key's length: the prefix and 43 base64url characters.
	apiKeyLength = len(APIKeyPrefix) + (apiKeySecretSize*8+5)/6
	// apiKeyHintSize is how many of the secret's characters a key's hint shows: 24 of its 256
	// bits, enough to tell a brand's keys apart.
	apiKeyHintSize = 4
	// apiKeyTouchEvery bounds how often a key's last_used_at is written: at most once per this
	// interval per key, not once per request.
	apiKeyTouchEvery = time.Minute
)

// keyManagement is the permission that manages keys; no key holds it, so a leaked key cannot
// make itself a successor that outlives its revocation.
const keyManagement = "apikeys:manage"

// keyPermissions is every permission a key may be given: those of the brand roles, less key
// management.
var keyPermissions = func() map[string]bool {
	out := map[string]bool{}
	for _, perms := range rolePermissions {
		for _, p := range perms {
			out[p] = p != keyManagement
		}
	}
	return out
}()

func newAPIKey() (string, error) {
	secret := make([]byte, apiKeySecretSize)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(secret), nil
}

// apiKeyDigest is the stored form of raw, or false when raw is not in a key's form (the prefix
// already checked): such a key was never issued, and is refused without a query.
func apiKeyDigest(raw string) ([]byte, bool) {
	if len(raw) != apiKeyLength {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(raw[len(APIKeyPrefix):]); err != nil {
		return nil, false
	}
	return hashToken(raw), true
}

func apiAPIKey(k db.ApiKey) api.ApiKey {
	return api.ApiKey{
		Id:          k.ID,
		BrandId:     k.BrandID,
		Name:        k.Name,
		Hint:        k.Hint,
		Permissions: k.Permissions,
		CreatedBy:   k.CreatedBy,
		CreatedAt:   k.CreatedAt.UTC(),
		ExpiresAt:   utc(k.ExpiresAt),
		LastUsedAt:  utc(k.LastUsedAt),
		RevokedAt:   utc(k.RevokedAt),
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CallerCan reports whether c may use perm (an operation's x-permission): its role grants it and,
// when it came with an API key, so does the key. A key thus never does more than the user it acts
// for may do now, whatever it was given when it was made.
func CallerCan(c *kit.Caller, perm string) bool {
	return Can(c.User.Role, perm) && (c.APIKey == nil || slices.Contains(c.APIKey.Permissions, perm))
}

// KeyRefused says why c may not call an operation, or nil: an API key is accepted only on its
// brand's operations (brandScoped: the path names a brand), never on /auth/*, /admin/* or /brands,
// which act on a person's account or on the platform.
func KeyRefused(c *kit.Caller, brandScoped bool) *Refusal {
	if c.APIKey == nil || brandScoped {
		return nil
	}
	return &Refusal{api.ProblemCodeApiKeyNotAccepted, "API keys work only on their brand's /brands/{brandId}/... operations; this one needs an access token."}
}

// authenticateKey resolves an API key (raw has the prefix) to the caller it acts as.
func (a *Authenticator) authenticateKey(ctx context.Context, raw string) (*kit.Caller, error) {
	digest, ok := apiKeyDigest(raw)
	if !ok {
		return nil, &Refusal{api.ProblemCodeInvalidApiKey, "This is not an API key this server issued."}
	}
	now := a.d.Now()
	// The key is found by its digest: a forged key's digest is one its sender cannot steer, so the
	// index lookup tells them nothing of any real key, and no secret is compared byte by byte.
	k, user, err := a.sessions.AuthenticateKey(ctx, a.d.Queries, digest, now)
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return nil, &Refusal{api.ProblemCodeInvalidApiKey, "This is not an API key this server issued."}
	}
	if err != nil {
		return nil, err
	}
	switch {
	case k.RevokedAt != nil:
		return nil, &Refusal{api.ProblemCodeApiKeyRevoked, "This API key was revoked."}
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return nil, &Refusal{api.ProblemCodeApiKeyExpired, "This API key expired."}
	case user.Disabled || (user.Role != db.UserRoleADMIN && (user.BrandID == nil || *user.BrandID != k.BrandID)):
		return nil, &Refusal{api.ProblemCodeApiKeyRevoked, "The user this API key acts for is no longer an enabled member of its brand."}
	}
	a.touch(ctx, k, digest, now)
	return &kit.Caller{User: user, APIKey: &kit.APIKey{ID: k.ID, BrandID: k.BrandID, Permissions: k.Permissions}}, nil
}

// touch records that k was used at now, at most once per apiKeyTouchEvery: the conditional
// UPDATE lets one instance's write through per interval, and the cache remembers it so that this
// instance does not even try again before the interval is over. A failure costs only the record,
// never the request.
func (a *Authenticator) touch(ctx context.Context, k db.ApiKey, digest []byte, now time.Time) {
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < apiKeyTouchEvery {
		return
	}
	err := a.d.Queries.APIKeyTouch(ctx, db.APIKeyTouchParams{ID: k.ID, Now: now, StaleBefore: now.Add(-apiKeyTouchEvery)})
	if err != nil {
		a.d.Log.WarnContext(ctx, "api key: last use not recorded", "api_key_id", k.ID, "error", err)
		return
	}
	a.sessions.KeyUsed(digest, now)
}

// CreateApiKey makes a key for the brand and answers its secret, this once.
func (h *Handlers) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	c := kit.CallerFrom(ctx)
	body := req.Body
	now := h.d.Now()
	if body.ExpiresAt != nil && !body.ExpiresAt.After(now) {
		return nil, problem.RefuseField("expiresAt", "must be in the future")
	}
	var refused []api.FieldError
	for i, p := range body.Permissions {
		msg := ""
		switch {
		case p == keyManagement:
			msg = p + " cannot be given to an API key"
		case !keyPermissions[p] || !CallerCan(c, p):
			msg = p + " is not a brand permission you hold"
		}
		if msg != "" {
			refused = append(refused, api.FieldError{Field: fmt.Sprintf("permissions[%d]", i), Message: msg})
		}
	}
	if len(refused) > 0 {
		return nil, permissionsRefused(refused)
	}
	raw, err := newAPIKey()
	if err != nil {
		return nil, err
	}
	perms := slices.Clone(body.Permissions)
	slices.Sort(perms)
	id := uuid.Must(uuid.NewV7())
	k, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.ApiKey, error) {
		k, err := q.APIKeyCreate(ctx, db.APIKeyCreateParams{
			ID:          id,
			BrandID:     req.BrandId,
			Name:        body.Name,
			SecretHash:  hashToken(raw),
			Hint:        raw[:len(APIKeyPrefix)+apiKeyHintSize],
			Permissions: perms,
			CreatedBy:   c.User.ID,
			Now:         now,
			ExpiresAt:   body.ExpiresAt,
		})
		if err != nil {
			return k, err
		}
		return k, kit.AuditKey(ctx, h.d, q, api.AuditEventTypeApiKeyCreated, &c.User.ID, &c.SessionID, &id)
	})
	if err != nil {
		return nil, err
	}
	return api.CreateApiKey201JSONResponse{
		Body:    api.CreatedApiKey{ApiKey: apiAPIKey(k), Key: raw},
		Headers: api.CreateApiKey201ResponseHeaders{CacheControl: "no-store"},
	}, nil
}

// permissionsRefused is the 422 naming each permission a key may not be given.
func permissionsRefused(fields []api.FieldError) *problem.Error {
	details := make([]string, 0, len(fields))
	for _, f := range fields {
		details = append(details, f.Field+": "+f.Message)
	}
	return &problem.Error{
		Code:   api.ProblemCodePermissionNotHeld,
		Detail: strings.Join(details, "; "),
		Extend: func(p *api.Problem) {
			count := int32(len(fields)) //nolint:gosec // at most the request's 32 permissions
			p.Errors, p.ErrorCount = &fields, &count
		},
	}
}

// ListApiKeys pages through the brand's keys, newest first, revoked and expired ones included.
func (h *Handlers) ListApiKeys(ctx context.Context, req api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	p := req.Params
	page, err := paging.ByID(h.d.Cursors, "api-keys/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(before *uuid.UUID, limit int32) ([]db.ApiKey, error) {
			return kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.ApiKey, error) {
				return q.APIKeyList(ctx, db.APIKeyListParams{BrandID: req.BrandId, BeforeID: before, RowLimit: limit})
			})
		},
		func(k db.ApiKey) uuid.UUID { return k.ID },
		paging.Infallible(apiAPIKey))
	if err != nil {
		return nil, err
	}
	return api.ListApiKeys200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// RevokeApiKey makes a key unusable. Its row stays, so the audit log keeps naming it. The answer
// waits for this instance's session cache (changesSessions); the trigger of schema/000014 tells
// every other instance.
func (h *Handlers) RevokeApiKey(ctx context.Context, req api.RevokeApiKeyRequestObject) (api.RevokeApiKeyResponseObject, error) {
	c := kit.CallerFrom(ctx)
	now := h.d.Now()
	_, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (struct{}, error) {
		k, err := q.APIKeyRevoke(ctx, db.APIKeyRevokeParams{BrandID: req.BrandId, ID: req.KeyId, Now: now})
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			// Revoked before (nothing happens now), or not this brand's.
			exists, err := q.APIKeyExists(ctx, db.APIKeyExistsParams{BrandID: req.BrandId, ID: req.KeyId})
			if err == nil && !exists {
				err = kit.ErrNotFound
			}
			return struct{}{}, err
		}
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, kit.AuditKey(ctx, h.d, q, api.AuditEventTypeApiKeyRevoked, &k.CreatedBy, &c.SessionID, &k.ID)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such API key.")
	}
	if err != nil {
		return nil, err
	}
	return api.RevokeApiKey204Response{}, nil
}
