// Command cluster proves that several instances of the server behave as one: it starts three
// instances against one fresh PostgreSQL database behind HAProxy (deploy/haproxy/haproxy.cfg), on
// loopback, and checks that a logout and a role change on one instance are refused by the others
// at once, that the login throttle and the per-IP rate limit (Redis) are shared, that 1,000
// concurrent 1-unit reservations spread over the instances sell exactly the stock, and so do 1,000
// concurrent single-unit orders through the proxy (numbered 1001-1300, no gap), that the
// reservation sweepers of the three release each expired hold once and their pending-order
// sweepers cancel each expired order once, that the webhook workers of the three deliver the
// order.created event of each of 1,000 concurrent orders exactly once, that the metrics pass promtool (required), and that a
// rolling restart under steady load through the proxy drops nothing. It exits non-zero when a
// proof fails.
//
//	go run ./cmd/cluster --server bin/ecompointer            # CLUSTER_QUICK=1: CI's short run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	binary := fs.String("server", "bin/ecompointer", "the server binary")
	proxyConfig := fs.String("haproxy-config", "deploy/haproxy/haproxy.cfg", "HAProxy's configuration")
	quick := fs.Bool("quick", os.Getenv("CLUSTER_QUICK") != "", "short load phases (CI)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	started := time.Now()
	c, err := startCluster(ctx, *binary, *proxyConfig)
	if c != nil {
		defer c.close()
	}
	if err != nil {
		return err
	}
	fmt.Printf("three instances %v behind HAProxy at %s, one database %s, rate limit in Redis\n", c.instanceURLs(), c.proxy, c.dbName)
	if c.poolURL != "" {
		fmt.Printf("request pools through PgBouncer (transaction pooling), LISTEN on direct connections\n")
	}

	var failed []string
	check := func(name string, err error) {
		if err != nil {
			failed = append(failed, name)
			fmt.Printf("FAIL %-34s %v\n", name, err)
			return
		}
		fmt.Printf("ok   %s\n", name)
	}
	if dir := os.Getenv("CLUSTER_FAILOVER_DIR"); dir != "" {
		// `make failover`: the database is a pg_auto_failover formation; this run is the drill.
		check("failover loses no acknowledged order", c.proveFailover(ctx, dir, *quick))
		fmt.Printf("done in %s\n", time.Since(started).Round(time.Second))
		if len(failed) > 0 {
			return fmt.Errorf("the failover drill failed (instance logs in %s)", c.dir)
		}
		return ctx.Err()
	}
	for _, p := range []struct {
		name string
		// pooled: the proof takes a path a transaction pooler changes (a LISTEN that must stay
		// direct, the role's session settings, transaction-scoped brand settings and advisory
		// locks, river's queue). Quick through PgBouncer (CI), only these run: the others (Redis,
		// HAProxy, the same statements as a proof that runs) prove nothing more there.
		pooled bool
		prove  func(context.Context) error
	}{
		{"logout and role change everywhere", true, c.proveRevocation},
		{"login throttle shared", false, c.proveThrottle},
		{"per-IP rate limit shared", false, c.proveRateLimit},
		{"1,000 reservations sell the stock", false, c.proveReservations},
		{"sweepers release each hold once", false, c.proveSweepers},
		{"1,000 orders sell the stock", true, c.proveOrders},
		{"order sweepers expire each once", true, c.proveOrderSweepers},
		{"1,000 order webhooks, each once", true, c.proveWebhooks},
		{"metrics pass promtool", false, c.lintMetrics},
		{"rolling restart drops nothing", false, func(ctx context.Context) error { return c.rollingRestart(ctx, *quick) }},
	} {
		if *quick && c.poolURL != "" && !p.pooled {
			fmt.Printf("skip %s (nothing a pooler changes; CLUSTER_QUICK)\n", p.name)
			continue
		}
		began := time.Now()
		err := p.prove(ctx)
		if err == nil {
			fmt.Printf("ok   %s (%s)\n", p.name, time.Since(began).Round(100*time.Millisecond))
			continue
		}
		check(p.name, err)
	}
	fmt.Printf("done in %s\n", time.Since(started).Round(time.Second))
	if len(failed) > 0 {
		return fmt.Errorf("%d proofs failed: %v (instance logs in %s)", len(failed), failed, c.dir)
	}
	return errors.Join(ctx.Err())
}
