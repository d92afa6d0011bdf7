package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/password"
)

// SessionRetention is how long a dead (expired or revoked) session is kept before it is deleted.
const SessionRetention = 30 * 24 * time.Hour

// PruneSessions deletes the sessions dead for longer than SessionRetention and says how many.
// It also forgets login failures older than LoginFailureWindow (they no longer count anyway).
func PruneSessions(ctx context.Context, pool *pgxpool.Pool, now time.Time) (int64, error) {
	q := db.New(pool)
	if _, err := q.LoginThrottlePrune(ctx, now.Add(-LoginFailureWindow)); err != nil {
		return 0, err
	}
	return q.SessionPrune(ctx, now.Add(-SessionRetention))
}

// RunPruner calls PruneSessions at once and then every interval until ctx ends.
func RunPruner(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := PruneSessions(ctx, pool, time.Now())
		observe.SweeperRun("sessions", err)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "pruning dead sessions failed", "error", err)
		case n > 0:
			log.InfoContext(ctx, "pruned dead sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
func CreateUser(ctx context.Context, pool *pgxpool.Pool, bcryptCost int, in NewUser) (api.User, error) {
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
	s := &Server{pool: pool, queries: db.New(pool), now: databaseClock(nil), deps: workerDeps(pool, slog.New(slog.DiscardHandler), nil)}
	var user db.User
	err = s.inTx(ctx, func(q *db.Queries) error {
		var brandID *uuid.UUID
		if in.Role == api.RoleBRANDOWNER {
			name := in.BrandName
			if name == "" {
				name = in.Name
			}
			brand, err := s.createBrand(ctx, q, name)
			if err != nil {
				return err
			}
			brandID = &brand.ID
		}
		user, err = q.UserCreate(ctx, db.UserCreateParams{
			ID:           uuid.Must(uuid.NewV7()),
			Email:        strings.ToLower(in.Email),
			Name:         in.Name,
			PasswordHash: hash,
			Role:         db.UserRole(in.Role),
			BrandID:      brandID,
			Now:          s.now(),
		})
		if err != nil {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypeRegister, &user.ID, nil)
	})
	if isConflict(err, "users_email_key") {
		return api.User{}, fmt.Errorf("an account with email %q exists", in.Email)
	}
	if err != nil {
		return api.User{}, err
	}
	return apiUser(user), nil
}

// WarnAboutDatabase logs what the database lacks for full speed: today, whether the product
// search may use its trigram indexes under row-level security (only a superuser can allow it;
// see schema/000004_rls_search.up.sql).
func WarnAboutDatabase(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	indexed, err := db.New(pool).SearchIsIndexed(ctx)
	if err != nil {
		log.WarnContext(ctx, "could not check the database's search setup", "error", err)
		return
	}
	if !indexed {
		log.WarnContext(ctx, "product search (q) cannot use its trigram indexes: run `ecompointer migrate up` once with a superuser DATABASE_URL to mark ILIKE leakproof; searches stay correct but scan the whole brand")
	}
}

// workerDeps are the dependencies of the background workers.
func workerDeps(pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) *kit.Deps {
	return &kit.Deps{Log: log, Pool: pool, Queries: db.New(pool), Now: databaseClock(now), TxAttempts: DefaultDBConfig().TxAttempts}
}

// SweepReservations releases every reservation that expired by now() once, and says how many.
// Tests call it with their clock; RunReservationSweeper calls it periodically.
func SweepReservations(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return inventory.Sweep(ctx, workerDeps(pool, log, now))
}

// RunReservationSweeper releases expired reservations every interval until ctx ends. Several
// instances may run it at once: each hold is released once.
func RunReservationSweeper(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) {
	inventory.RunSweeper(ctx, workerDeps(pool, log, nil), interval)
}

// RunIdempotencyPruner deletes expired Idempotency-Key answers every interval until ctx ends.
func RunIdempotencyPruner(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) {
	idempotency.RunPruner(ctx, workerDeps(pool, log, nil), interval)
}
