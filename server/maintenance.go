package server

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/jobs"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/natspush"
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

// runSessionPruner calls PruneSessions at once and then every interval until ctx ends.
func runSessionPruner(ctx context.Context, d *kit.Deps, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := PruneSessions(ctx, d.Pool, d.Now())
		observe.SweeperRun("sessions", err)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Log.WarnContext(ctx, "pruning dead sessions failed", "error", err)
		case n > 0:
			d.Log.InfoContext(ctx, "pruned dead sessions", "count", n)
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
	return identity.CreateUser(ctx, toolDeps(pool, nil, nil), bcryptCost, in)
}

// toolDeps are the dependencies of a one-shot job outside a running server (a tool, a test; a nil log
// discards): the request defaults (DefaultDBConfig) through the same constructor, without the brand gate, which
// bounds one brand's share against concurrent requests and has none to bound here.
func toolDeps(pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) *kit.Deps {
	return newDeps(Config{Logger: log, Pool: pool, Now: now, DB: DefaultDBConfig(), BrandPoolShare: -1})
}

// SweepReservations releases every reservation that expired by now() once, and says how many.
// Tests and tools call it with their clock; Handler.RunWorkers sweeps periodically.
func SweepReservations(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) (int, error) {
	return inventory.Sweep(ctx, toolDeps(pool, log, now))
}

// SweepOrders cancels every order still pending orders.DefaultPendingTTL after it was placed
// (reason `expired`) once, and says how many. Tests call it with their clock; Handler.RunWorkers
// sweeps periodically.
func SweepOrders(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) (int, error) {
	return orders.Sweep(ctx, toolDeps(pool, log, now), orders.DefaultPendingTTL)
}

// Workers says how often the background workers run.
type Workers struct {
	// SessionPrune and IdempotencyPrune are the intervals of the session and Idempotency-Key
	// pruners.
	SessionPrune, IdempotencyPrune time.Duration
	// Sweep is the interval of the reservation and order sweepers.
	Sweep time.Duration
	// OrderPendingTTL is how long an order may stay pending before the sweeper cancels it
	// (reason `expired`); 0 disables the order sweeper.
	OrderPendingTTL time.Duration
	// EventRetention is how long events stay in the feed (EVENTS_RETENTION; 0 means
	// events.DefaultRetention); they are pruned every IdempotencyPrune interval.
	EventRetention time.Duration
}

// RunWorkers starts the background workers, which run until ctx ends. They share the handler's
// dependencies (DB_TX_ATTEMPTS, DB_COMMIT_TIMEOUT, the brand gate, the clock), so a sweep of one
// brand counts against that brand's share of the pool like its requests. Several instances may
// run them at once: each hold is released, each order expired, once.
func (h *Handler) RunWorkers(ctx context.Context, w Workers) {
	d := h.s.deps
	go runSessionPruner(ctx, d, w.SessionPrune)
	go idempotency.RunPruner(ctx, d, w.IdempotencyPrune)
	go inventory.RunSweeper(ctx, d, w.Sweep)
	go orders.RunSweeper(ctx, d, w.Sweep, w.OrderPendingTTL)
	go events.RunPruner(ctx, d, w.IdempotencyPrune, cmp.Or(w.EventRetention, events.DefaultRetention))
	h.jobsDone = make(chan struct{})
	go func() {
		defer close(h.jobsDone)
		if err := h.RunJobs(ctx); err != nil {
			d.Log.ErrorContext(ctx, "the job queue stopped", "error", err)
		}
	}()
}

// RunJobs works the one job queue of the instance (server/jobs) until ctx ends: webhook delivery
// (unless WEBHOOK_WORKERS=off), NATS publication (when EVENTS_NATS_URL is set) and CSV imports.
// Then it stops taking jobs and lets the jobs in flight finish before it returns. RunWorkers
// starts it; tests call it alone.
//
// The queue and its workers run on the background work's own pool (Config.JobsPool) when there
// is one: requests never wait for their connections, nor they for the requests'.
func (h *Handler) RunJobs(ctx context.Context) error {
	d := h.s.jobDeps
	var domains []jobs.Domain
	if dom, ok := h.s.webhookHandlers.On(d).Domain(); ok {
		domains = append(domains, dom)
	}
	if h.s.natsCfg.URL != "" {
		dom, closeConn, err := natspush.Domain(ctx, d, h.s.natsCfg)
		if err != nil {
			// The other domains still run: publications wait in the queue for an instance that
			// reaches NATS.
			d.Log.ErrorContext(ctx, "NATS publication stopped", "error", err)
		} else {
			defer closeConn()
			domains = append(domains, dom)
		}
	}
	domains = append(domains, h.s.importHandlers.Domain())
	return jobs.Run(ctx, d, domains...)
}

// RunNATS publishes the queued events to NATS JetStream (EVENTS_NATS_URL) until ctx ends.
// RunWorkers starts it when the URL is set; tests call it alone.
func (h *Handler) RunNATS(ctx context.Context) error {
	return natspush.Run(ctx, h.s.jobDeps, h.s.natsCfg)
}

// RunWebhooks works the webhook delivery queue (river) until ctx ends, then stops taking jobs and
// lets the attempts in flight finish before it returns. RunWorkers starts it; tests call it alone.
func (h *Handler) RunWebhooks(ctx context.Context) error {
	return h.s.webhookHandlers.On(h.s.jobDeps).Run(ctx)
}

// PruneEvents deletes the events older than retention once, and says how many. Tests call it with
// their clock; Handler.RunWorkers prunes periodically.
func PruneEvents(ctx context.Context, pool *pgxpool.Pool, now func() time.Time, retention time.Duration) (int64, error) {
	return events.Prune(ctx, toolDeps(pool, nil, now), retention)
}
