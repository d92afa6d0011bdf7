package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// stockCheck is what the harness found after one run of an inventory scenario (or its limit).
type stockCheck struct {
	run      string // the scenario, or the limit
	conns    int
	released int // holds the run left, released before checking
	levels   int
	// oversold counts levels with reserved < 0 or reserved > on_hand; misheld, levels whose
	// reserved is not what live holds hold (inventory.HoldMismatches); mismatched, levels whose
	// movements do not sum to their quantities (LedgerMismatches). All three are zero, or the
	// harness fails.
	oversold, misheld, mismatched int
	err                           error
}

func (c stockCheck) ok() bool {
	return c.err == nil && c.oversold == 0 && c.misheld == 0 && c.mismatched == 0
}

// checkStock releases the holds a run left (clients stop between a reservation and its release;
// pgbench may stop between its two transactions) with the server's own sweeper, at a clock past
// every hold's expiry (ttlSeconds is at most a day), then checks the invariants. Releasing first
// also gives the next run the whole stock back.
func (h *harness) checkStock(ctx context.Context, run string, conns int) stockCheck {
	c := stockCheck{run: run, conns: conns}
	c.released, c.err = h.sweep(ctx)
	if c.err == nil {
		c.err = h.invariants(ctx, &c)
	}
	switch {
	case c.err != nil:
		h.logf("stock check after %s at %d connections: %v", run, conns, c.err)
	case !c.ok():
		h.logf("STOCK INVARIANTS BROKEN after %s at %d connections: %d oversold, %d levels not what live holds hold, %d ledgers not summing to their level",
			run, conns, c.oversold, c.misheld, c.mismatched)
	}
	h.checks = append(h.checks, c)
	return c
}

// sweep runs server.SweepReservations as the application role, as the server's sweeper runs.
func (h *harness) sweep(ctx context.Context) (int, error) {
	cfg, err := pgxpool.ParseConfig(h.dbURL)
	if err != nil {
		return 0, err
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["role"] = h.o.appRole
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	later := time.Now().Add(25 * time.Hour)
	return server.SweepReservations(ctx, pool, nil, func() time.Time { return later })
}

func (h *harness) invariants(ctx context.Context, c *stockCheck) error {
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := queryRow(ctx, conn, "stock_check.sql", &c.levels, &c.oversold); err != nil {
		return err
	}
	// The harness's login bypasses row-level security; the stock engine's invariant queries filter
	// by brand themselves.
	for b := 1; b <= h.fixture.Brands; b++ {
		rows, err := inventory.Mismatches(ctx, conn, uuid.MustParse(benchUUID(benchKindBrand, int64(b))))
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.Invariant == inventory.InvariantHolds {
				c.misheld++
			} else {
				c.mismatched++
			}
		}
	}
	return nil
}

// stockFailure is the harness's verdict on every check: an error naming the broken ones.
func stockFailure(checks []stockCheck) error {
	var errs []error
	for _, c := range checks {
		if !c.ok() {
			errs = append(errs, fmt.Errorf("%s at %d connections: %d oversold, %d misheld, %d ledger mismatches%s",
				c.run, c.conns, c.oversold, c.misheld, c.mismatched, errSuffix(c.err)))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("stock invariants broken: %w", errors.Join(errs...))
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return "; check failed: " + err.Error()
}
