package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/schema"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/buildinfo"
	"github.com/ecompointer/ecompointer/server/gctune"
	"github.com/ecompointer/ecompointer/server/observe"
)

const usage = `usage: ecompointer <command> [flags]

commands:
  serve [--migrate=true]         serve the API on $PORT (applies pending migrations first)
        [--pprof-addr=127.0.0.1:6060]  and net/http/pprof on a loopback address (off by default)
  migrate up                     apply every pending migration
  migrate down [N]               revert the newest N migrations (default 1)
  migrate version                print the applied migration version
  migrate force N                record migration N as applied and clean, running nothing (after
                                 repairing a dirty database by hand; 0: none applied)
  version                        print the build: version, commit, Go version
  user create --email E --name N --role ADMIN|BRAND_OWNER [--brand-name B] --password-stdin
                                 create an account (the only way to make an ADMIN); the
                                 password is one line read from standard input
`

// run is the whole program; main only supplies the process's environment, so tests can run it
// with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// Before any configuration is read: `version` answers on a machine with none (an image check,
	// a support request).
	if len(args) == 2 && (args[1] == "version" || args[1] == "--version") {
		_, err := fmt.Fprintln(stdout, buildinfo.Get())
		return err
	}
	processEnv := getenv
	getenv, err := withDotEnv(getenv)
	if err != nil {
		return err
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(c, stderr)
	if len(args) < 2 {
		_, _ = io.WriteString(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		migrate := fs.Bool("migrate", true, "apply pending migrations before serving")
		pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this loopback address, like 127.0.0.1:6060 (off when empty)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		gctune.Apply(processEnv, log)
		if *pprofAddr != "" {
			_, stopPprof, err := startPprof(*pprofAddr, log)
			if err != nil {
				return err
			}
			defer stopPprof()
		}
		return serve(ctx, c, log, *migrate)
	case "migrate":
		return migrateCommand(ctx, c, rest, stdout)
	case "user":
		return userCommand(ctx, c, rest, stdin, stdout, stderr)
	case "help", "-h", "--help":
		_, _ = io.WriteString(stdout, usage)
		return nil
	default:
		_, _ = io.WriteString(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func migrateCommand(ctx context.Context, c config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("migrate needs up, down [N], version or force N")
	}
	switch args[0] {
	case "up":
		if err := migrateUp(ctx, c); err != nil {
			return err
		}
		return printVersion(c, stdout)
	case "down":
		steps := 1
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return fmt.Errorf("migrate down takes a positive number of steps, got %q", args[1])
			}
			steps = n
		}
		if err := reachable(ctx, c); err != nil {
			return err
		}
		if err := schema.Down(c.directURL, steps); err != nil {
			return err
		}
		return printVersion(c, stdout)
	case "version":
		if err := reachable(ctx, c); err != nil {
			return err
		}
		return printVersion(c, stdout)
	case "force":
		if len(args) != 2 {
			return errors.New("migrate force takes one version: the migration the database now matches (0: none)")
		}
		n, err := strconv.ParseUint(args[1], 10, 32)
		if err != nil {
			return fmt.Errorf("migrate force takes a migration version (a whole number), got %q", args[1])
		}
		if err := reachable(ctx, c); err != nil {
			return err
		}
		if err := schema.Force(c.databaseURL, uint(n)); err != nil {
			return err
		}
		return printVersion(c, stdout)
	default:
		return fmt.Errorf("unknown migrate command %q (up, down [N], version, force N)", args[0])
	}
}

func printVersion(c config, stdout io.Writer) error {
	version, dirty, ok, err := schema.Version(c.directURL)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		_, err = fmt.Fprintln(stdout, "no migration applied")
	case dirty:
		_, err = fmt.Fprintf(stdout, "version %d (dirty)\n%v\n", version, schema.Dirty(version))
	default:
		_, err = fmt.Fprintf(stdout, "version %d\n", version)
	}
	return err
}

func serve(ctx context.Context, c config, log *slog.Logger, migrate bool) error {
	stopTracing, err := startTracing(ctx, c, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	pool, err := openPool(ctx, c, migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The background work's own pool is direct: it also serves the session cache's LISTEN.
	jobsPool, err := openJobsPool(ctx, c)
	if err != nil {
		return err
	}
	defer jobsPool.Close()
	stopMetrics, err := startMetrics(c.metricsAddr, pool, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	for _, name := range c.generatedSecrets {
		log.Warn(name+" is not set: using a random secret, so tokens stop working when the process restarts (set it in .env)", "env", c.env)
	}

	handler, err := server.New(server.Config{
		Logger:             log,
		Pool:               pool,
		DirectPool:         jobsPool,
		JobsPool:           jobsPool,
		CORSAllowedOrigins: c.corsAllowedOrigins,
		Auth:               c.auth,
		DB:                 c.db,
		BrandPoolShare:     c.brandPoolShare,
		BrandPoolWait:      c.brandPoolWait,
		IdempotencyKeyTTL:  c.idempotencyKeyTTL,
		IdempotencyBounds:  c.idempotencyBounds,
		SessionCache:       c.sessionCache,
		Webhooks:           c.webhooks,
		NATS:               c.nats,
		RateLimitRedisURL:  c.rateLimitRedisURL,
	})
	if err != nil {
		return err
	}
	defer func() { _ = handler.Close() }()
	if sc := handler.SessionCache(); sc != nil {
		observe.SetSessionCache(func() bool { return sc.Stats().Trusted })
	}
	observe.SetAccessTokens(handler.Tokens().Checks)
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", c.port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", c.port, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Generous: a login queued behind a burst of bcrypt work (one hash per core, in arrival
		// order) can wait tens of seconds; this bounds a stuck client, not the server's own queue.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	b := buildinfo.Get()
	log.Info("serving", "addr", ln.Addr().String(), "env", c.env, "version", b.Version, "commit", b.ShortCommit(), "go", b.GoVersion,
		"docs", fmt.Sprintf("http://localhost:%d/api-docs", ln.Addr().(*net.TCPAddr).Port))

	pruneCtx, stopPruner := context.WithCancel(ctx)
	defer stopPruner()
	// Pending orders are swept as often as reservations (0 TTL: never).
	handler.RunWorkers(pruneCtx, server.Workers{
		SessionPrune: time.Hour, IdempotencyPrune: time.Hour, Sweep: c.reservationSweep, OrderPendingTTL: c.orderPendingTTL,
		EventRetention: c.eventRetention,
	})

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	drain(srv, handler, c.drainDelay, log)
	// Stop accepting, let in-flight requests finish (bounded), then close the pool (deferred).
	log.Info("shutting down", "timeout", c.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func userCommand(ctx context.Context, c config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("user needs a subcommand: create")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the account's email")
	name := fs.String("name", "", "the account's name")
	role := fs.String("role", "ADMIN", "ADMIN or BRAND_OWNER")
	brandName := fs.String("brand-name", "", "the new brand's name (BRAND_OWNER only; default the user's name)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || *name == "" || !*passwordStdin {
		return errors.New("user create needs --email, --name and --password-stdin")
	}
	// One line: the trailing newline (and a Windows carriage return) is not part of the password.
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	pool, err := openPool(ctx, c, true)
	if err != nil {
		return err
	}
	defer pool.Close()
	u, err := server.CreateUser(ctx, pool, c.auth.BcryptCost, server.NewUser{
		Email: *email, Name: *name, Password: pw, Role: api.Role(strings.ToUpper(*role)), BrandName: *brandName,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "created %s %s (%s)\n", u.Role, u.Email, u.Id)
	return err
}

// openPool connects the request pool, after applying pending migrations when migrate is set.
// Every connection runs as the application role, so row-level security applies whatever
// DATABASE_URL logs in as.
func openPool(ctx context.Context, c config, migrate bool) (*pgxpool.Pool, error) {
	if migrate {
		if err := migrateUp(ctx, c); err != nil {
			return nil, err
		}
	}
	opts := []server.PoolOption{server.WithTimeouts(c.db.StatementTimeout, c.db.LockTimeout)}
	if c.nats.URL != "" {
		opts = append(opts, server.WithNATSPublish())
	}
	if c.pooler != "none" {
		opts = append(opts, server.WithTransactionPooler(c.execMode))
	} else if c.execMode != pgx.QueryExecModeCacheStatement {
		opts = append(opts, server.WithExecMode(c.execMode))
	}
	pool, err := server.NewPool(ctx, c.databaseURL, c.appRole, opts...)
	if err != nil {
		return nil, describeConnectError(c.databaseURL, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22023" { // invalid_parameter_value: no such role
			return nil, fmt.Errorf("the application role %q does not exist: run `ecompointer migrate up` (or serve without --migrate=false)", c.appRole)
		}
		return nil, describeConnectError(c.databaseURL, err)
	}
	if err := server.CheckSessionSettings(pingCtx, pool, c.appRole, c.nats.URL != ""); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// openJobsPool connects the background work's own pool (server.NewJobsPool): river and its
// workers, straight to PostgreSQL (DATABASE_DIRECT_URL), DATABASE_JOBS_POOL_SIZE connections.
func openJobsPool(ctx context.Context, c config) (*pgxpool.Pool, error) {
	opts := []server.PoolOption{server.WithTimeouts(c.db.StatementTimeout, c.db.LockTimeout)}
	if c.nats.URL != "" {
		opts = append(opts, server.WithNATSPublish())
	}
	pool, err := server.NewJobsPool(ctx, c.directURL, c.appRole, c.jobsPoolSize, opts...)
	if err != nil {
		return nil, describeConnectError(c.directURL, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, describeConnectError(c.directURL, err)
	}
	return pool, nil
}

// migrateUp creates the database when it is missing (development only), applies every pending
// migration and makes sure the application role exists with its grants.
func migrateUp(ctx context.Context, c config) error {
	if err := prepareDatabase(ctx, c); err != nil {
		return err
	}
	return schema.Up(ctx, c.directURL, c.appRole)
}

// reachable checks the database answers, with the same clear message as start-up.
func reachable(ctx context.Context, c config) error {
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(connectCtx, c.directURL)
	if err != nil {
		return describeConnectError(c.directURL, err)
	}
	return conn.Close(ctx)
}

// prepareDatabase makes sure the database exists; in development it creates a missing one, so a
// fresh machine needs nothing but a running PostgreSQL.
func prepareDatabase(ctx context.Context, c config) error {
	err := reachable(ctx, c)
	var missing *missingDatabaseError
	if !errors.As(err, &missing) || c.production() {
		return err
	}
	u, _ := url.Parse(c.directURL)
	u.Path = "/postgres"
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(connectCtx, u.String())
	if err != nil {
		return describeConnectError(c.directURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	// DDL takes no bind parameters, so the identifier is quoted by pgx rather than generated by
	// sqlc; it comes from the operator's own DATABASE_URL.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{missing.name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database: another process won
			return fmt.Errorf("create database %q: %w", missing.name, err)
		}
	}
	return nil
}

type missingDatabaseError struct{ name string }

func (e *missingDatabaseError) Error() string {
	return fmt.Sprintf("database %q does not exist (in development `serve` and `migrate up` create it)", e.name)
}

// describeConnectError turns a connection failure into one line that names the server and says
// how to get one running, instead of a driver's stack of wrapped errors.
func describeConnectError(databaseURL string, err error) error {
	host := "the database server"
	if u, perr := url.Parse(databaseURL); perr == nil {
		host = u.Host
		if host == "" {
			host = "localhost:5432"
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000": // invalid_catalog_name
			name := ""
			if u, perr := url.Parse(databaseURL); perr == nil {
				name = strings.TrimPrefix(u.Path, "/")
			}
			return &missingDatabaseError{name: name}
		case "28000", "28P01": // invalid authorization, invalid password
			return fmt.Errorf("PostgreSQL at %s refused the login in DATABASE_URL: %s", host, pgErr.Message)
		}
		return fmt.Errorf("PostgreSQL at %s: %s", host, pgErr.Message)
	}
	return fmt.Errorf("cannot reach PostgreSQL at %s; start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL to a running server", host)
}
