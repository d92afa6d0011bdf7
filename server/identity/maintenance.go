package identity

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/password"
)

// SessionRetention is how long a dead (expired or revoked) session is kept before it is deleted.
const SessionRetention = 30 * 24 * time.Hour

// Prune deletes the sessions dead for longer than SessionRetention and says how many. It also
// forgets login failures older than LoginFailureWindow (they no longer count anyway).
func Prune(ctx context.Context, q *db.Queries, now time.Time) (int64, error) {
	if _, err := q.LoginThrottlePrune(ctx, now.Add(-LoginFailureWindow)); err != nil {
		return 0, err
	}
	return q.SessionPrune(ctx, now.Add(-SessionRetention))
}

// NewUser is an account made outside the API: the first ADMIN, or a brand owner with a new brand.
type NewUser struct {
	Email     string
	Name      string
	Password  string
	Role      api.Role
	BrandName string // for a BRAND_OWNER; the user's name when empty
}

// CreateUser makes an account with the same rules as registration (email form, password policy,
// bcrypt cost). It is how the first ADMIN comes to exist: the API never grants ADMIN.
func CreateUser(ctx context.Context, d *kit.Deps, bcryptCost int, in NewUser) (api.User, error) {
	if addr, err := mail.ParseAddress(in.Email); err != nil || addr.Address != in.Email || addr.Name != "" {
		return api.User{}, fmt.Errorf("email %q is not a valid address", in.Email)
	}
	if n := len([]rune(in.Name)); n < 1 || n > 100 {
		return api.User{}, fmt.Errorf("name must be 1 to 100 characters")
	}
	if err := password.Check(in.Password); err != nil {
		return api.User{}, fmt.Errorf("password %w", err)
	}
	if in.Role != api.RoleADMIN && in.Role != api.RoleBRANDOWNER {
		return api.User{}, fmt.Errorf("role must be ADMIN or BRAND_OWNER (other roles join a brand by invitation)")
	}
	hasher, err := password.NewHasher(bcryptCost)
	if err != nil {
		return api.User{}, err
	}
	hash, err := hasher.Hash(ctx, in.Password)
	if err != nil {
		return api.User{}, err
	}
	user, err := kit.InTxV(ctx, d, func(q *db.Queries) (db.User, error) {
		var brandID *uuid.UUID
		if in.Role == api.RoleBRANDOWNER {
			name := in.BrandName
			if name == "" {
				name = in.Name
			}
			brand, err := createBrand(ctx, d, q, name)
			if err != nil {
				return db.User{}, err
			}
			brandID = &brand.ID
		}
		user, err := q.UserCreate(ctx, db.UserCreateParams{
			ID:           uuid.Must(uuid.NewV7()),
			Email:        strings.ToLower(in.Email),
			Name:         in.Name,
			PasswordHash: hash,
			Role:         db.UserRole(in.Role),
			BrandID:      brandID,
			Now:          d.Now(),
		})
		if err != nil {
			return user, err
		}
		return user, kit.Audit(ctx, d, q, api.AuditEventTypeRegister, &user.ID, nil)
	})
	if kit.IsConflict(err, "users_email_key") {
		return api.User{}, fmt.Errorf("an account with email %q exists", in.Email)
	}
	if err != nil {
		return api.User{}, err
	}
	return apiUser(user), nil
}
