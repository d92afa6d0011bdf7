package kit

import (
	"context"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
)

// Caller is the authenticated user behind a request: through one of their sessions (an access
// token), or through an API key they made (APIKey set, SessionID nil), which acts for them within
// the key's permissions and brand.
type Caller struct {
	User      db.User
	SessionID uuid.UUID
	APIKey    *APIKey
}

// APIKey is the key a request authenticated with.
type APIKey struct {
	ID      uuid.UUID
	BrandID uuid.UUID
	// Permissions are the key's own; the middleware also asks the user's role.
	Permissions []string
}

// APIKeyID is the id of the key the caller authenticated with, or nil.
func (c *Caller) APIKeyID() *uuid.UUID {
	if c == nil || c.APIKey == nil {
		return nil
	}
	id := c.APIKey.ID
	return &id
}

type callerKey struct{}

// WithCaller stores the request's caller; the contract middleware does, once it has verified
// the token.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the request's caller. Operations whose spec requires a bearer token always
// have one: the contract middleware refuses the request before the handler otherwise.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// UserID is the caller's id, or nil without a caller.
func UserID(ctx context.Context) *uuid.UUID {
	if c := CallerFrom(ctx); c != nil {
		id := c.User.ID
		return &id
	}
	return nil
}
