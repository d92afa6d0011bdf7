package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/orders"
)

// SessionRetention is how long a dead (expired or revoked) session is kept before it is deleted.
const SessionRetention = identity.SessionRetention

// PruneSessions deletes the sessions dead for longer than SessionRetention and says how many.
// It also forgets login failures older than identity.LoginFailureWindow (they no longer count
// anyway).
func PruneSessions(ctx context.Context, pool *pgxpool.Pool, now time.Time) (int64, error) {
	return identity.Prune(ctx, db.New(pool), now)
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
type NewUser = identity.NewUser

// CreateUser makes an account with the same rules as registration (email form, password policy,
// bcrypt cost). It is how the first ADMIN comes to exist: the API never grants ADMIN.
func CreateUser(ctx context.Context, pool *pgxpool.Pool, bcryptCost int, in NewUser) (api.User, error) {
	return identity.CreateUser(ctx, workerDeps(pool, slog.New(slog.DiscardHandler), nil), bcryptCost, in)
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

// SweepOrders cancels every order still pending orders.DefaultPendingTTL after it was placed
// (reason `expired`) once, and says how many. Tests call it with their clock.
func SweepOrders(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return orders.Sweep(ctx, workerDeps(pool, log, now), orders.DefaultPendingTTL)
}

// RunOrderSweeper cancels the orders pending longer than ttl every interval until ctx ends; a ttl
// of 0 disables it. Several instances may run it at once: each order is expired once.
func RunOrderSweeper(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval, ttl time.Duration) {
	orders.RunSweeper(ctx, workerDeps(pool, log, nil), interval, ttl)
}

// RunIdempotencyPruner deletes expired Idempotency-Key answers every interval until ctx ends.
func RunIdempotencyPruner(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) {
	idempotency.RunPruner(ctx, workerDeps(pool, log, nil), interval)
}
