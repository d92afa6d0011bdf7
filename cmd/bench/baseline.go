package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/baseline"
	"github.com/ecompointer/ecompointer/server/gctune"
)

// baselineServer is `bench baseline-server`: baseline.New served on a loopback address, a
// process of its own like the real server, so that its CPU and memory are measured the same way
// and it never competes with the load generator inside one runtime. It reads the variables the
// real server reads for what it needs: DATABASE_URL, DATABASE_APP_ROLE and the JWT secrets (and,
// as the real server, GOGC and GOMEMLIMIT).
func baselineServer(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", baseline.Session, fmt.Sprintf("what to run before the fixed answer: one of %v", baseline.Modes))
	addr := fs.String("addr", "127.0.0.1:0", "the loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	auth := server.DefaultAuthConfig()
	auth.AccessSecret = []byte(getenv("JWT_ACCESS_SECRET"))
	auth.RefreshSecret = []byte(getenv("JWT_REFRESH_SECRET"))
	// The seeded access tokens live ACCESS_TOKEN_TTL (the harness sets it, as for the real
	// server): a token living longer than the configured TTL is refused as forged.
	if ttl, err := time.ParseDuration(getenv("ACCESS_TOKEN_TTL")); err == nil {
		auth.AccessTTL = ttl
	}
	// Nothing here hashes a password; the minimum cost keeps start-up instant.
	auth.BcryptCost = 4
	auth.RateLimit = 0

	// As the real server: the same pool, statements run as the application role.
	pool, err := server.NewPool(ctx, getenv("DATABASE_URL"), cmp.Or(getenv("DATABASE_APP_ROLE"), defaultAppRole))
	if err != nil {
		return err
	}
	defer pool.Close()

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The real server's collector settings, so that a ratio to a baseline compares code, not GOGC.
	gctune.Apply(getenv, log)
	handler, err := baseline.New(server.Config{Logger: log, Pool: pool, Auth: auth}, *mode)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
