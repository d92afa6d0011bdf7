package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const usage = `usage: bench [run] [flags]            the load harness (what make bench runs)
       bench baseline-server --mode M --addr A
                                      serve baseline.New (the harness starts these itself)

run flags, each with an environment variable (the flag wins):
  --server PATH       BENCH_SERVER        the ecompointer binary (bin/ecompointer)
  --duration D        BENCH_DURATION      how long each run starts requests (15s; 1s quick)
  --conns N,N,...     BENCH_CONNS         connections (16,64,256; 16,64 quick)
  --users N           BENCH_USERS         seeded users, each with a live session (10000; 1000 quick)
  --products N        BENCH_PRODUCTS      seeded products in each of the 2 brands (100000; 5000
                                          quick)
  --scenarios REGEXP  BENCH_SCENARIOS     only the scenarios whose name matches
  --limits=false      BENCH_LIMITS=0      skip the limits (baselines, pgbench, bcrypt)
  --out DIR           BENCH_OUT           where <date>.md is written (bench/results; quick:
                                          bench/tmp, ignored by git); --out= prints only
  --previous FILE     BENCH_PREVIOUS      the earlier run each scenario's row is shown beside
                                          (the newest full run's file in --out; none: none)
  --profile-dir DIR   BENCH_PROFILE_DIR   save CPU profiles of the server, one per scenario...
  --profile-conns N   BENCH_PROFILE_CONNS ...at this many connections (64)
  --database-url URL  BENCH_DATABASE_URL  a PostgreSQL where this login may create databases
                                          (default TEST_DATABASE_URL, else the local one)
  --queries DIR       BENCH_QUERIES       sqlc's queries, the pgbench scripts' source (queries)
  --pgbench PATH      BENCH_PGBENCH       (pgbench)
  --quick             BENCH_QUICK=1       1 s runs at 16 and 64 connections, 1,000 users, 5,000
                                          products a brand, 100,000 movements: keeps the
                                          harness working
also read: BCRYPT_COST (12), DATABASE_APP_ROLE (ecompointer_app); GOGC, GOMEMLIMIT, GOMAXPROCS
and GODEBUG are handed to the servers.
`

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultAppRole     = "ecompointer_app"
)

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "run", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "run":
		o, err := parseOptions(rest, getenv, stderr)
		if err != nil {
			return err
		}
		return bench(ctx, o, stdout, stderr)
	case "baseline-server":
		return baselineServer(ctx, rest, getenv, stderr)
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	default:
		_, _ = io.WriteString(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// parseOptions reads the run's options: the environment gives the defaults, flags override.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var errs []error
	envBool := func(key string) bool {
		v := strings.ToLower(strings.TrimSpace(getenv(key)))
		return v == "1" || v == "true" || v == "yes"
	}
	envInt := func(key string, def int) int {
		v := strings.TrimSpace(getenv(key))
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s must be a whole number, got %q", key, v))
			return def
		}
		return n
	}
	quick := envBool("BENCH_QUICK")
	for _, a := range args { // --quick changes the other defaults, so it is read first
		if a == "--quick" || a == "-quick" || a == "--quick=true" {
			quick = true
		}
	}
	// Quick runs keep the harness working (CI); their figures are not worth keeping, so their
	// table goes to the ignored bench/tmp.
	duration, users, products, pause, out := 15*time.Second, 10000, 100000, time.Second, "bench/results"
	conns, movements := "16,64,256", 0
	if quick {
		// Quick keeps every scenario and limit working in CI: half the connection levels, a
		// tenth of the ledger (its seed and every vacuum after it were a third of the run).
		duration, users, products, pause, out = time.Second, 1000, 5000, 200*time.Millisecond, "bench/tmp"
		conns, movements = "16,64", benchMovements/10
	}
	if v := strings.TrimSpace(getenv("BENCH_DURATION")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("BENCH_DURATION must be a duration like 15s, got %q", v))
		} else {
			duration = d
		}
	}
	limits := !strings.EqualFold(strings.TrimSpace(getenv("BENCH_LIMITS")), "0") && !strings.EqualFold(strings.TrimSpace(getenv("BENCH_LIMITS")), "false")
	o := options{
		quick:      quick,
		pause:      pause,
		brands:     2,
		appRole:    cmp.Or(strings.TrimSpace(getenv("DATABASE_APP_ROLE")), defaultAppRole),
		bcryptCost: envInt("BCRYPT_COST", 12),
		now:        time.Now,
		movements:  movements,
	}
	conns = cmp.Or(getenv("BENCH_CONNS"), conns)
	only := getenv("BENCH_SCENARIOS")

	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { _, _ = io.WriteString(stderr, usage) }
	fs.BoolVar(&o.quick, "quick", quick, "short runs, small seed")
	fs.StringVar(&o.server, "server", cmp.Or(getenv("BENCH_SERVER"), "bin/ecompointer"), "the ecompointer binary")
	fs.DurationVar(&o.duration, "duration", duration, "how long each run starts requests")
	fs.StringVar(&conns, "conns", conns, "connections, comma-separated")
	fs.IntVar(&o.users, "users", envInt("BENCH_USERS", users), "seeded users")
	fs.IntVar(&o.products, "products", envInt("BENCH_PRODUCTS", products), "seeded products per brand")
	fs.StringVar(&only, "scenarios", only, "a regular expression: only the scenarios whose name matches")
	fs.BoolVar(&o.limits, "limits", limits, "measure the limits")
	fs.StringVar(&o.out, "out", cmp.Or(getenv("BENCH_OUT"), out), "where the results file goes")
	fs.StringVar(&o.previous, "previous", getenv("BENCH_PREVIOUS"), "the earlier run's results file to compare with (none: none)")
	fs.StringVar(&o.profileDir, "profile-dir", getenv("BENCH_PROFILE_DIR"), "save CPU profiles of the server here")
	fs.IntVar(&o.profileConn, "profile-conns", envInt("BENCH_PROFILE_CONNS", 64), "profile the runs at this many connections")
	fs.StringVar(&o.databaseURL, "database-url", cmp.Or(getenv("BENCH_DATABASE_URL"), getenv("TEST_DATABASE_URL"), defaultDatabaseURL), "a PostgreSQL where this login may create databases")
	fs.StringVar(&o.queries, "queries", cmp.Or(getenv("BENCH_QUERIES"), "queries"), "sqlc's queries directory")
	fs.StringVar(&o.pgbench, "pgbench", cmp.Or(getenv("BENCH_PGBENCH"), "pgbench"), "the pgbench binary")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	for _, part := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > 4096 {
			errs = append(errs, fmt.Errorf("connections must be numbers from 1 to 4096, got %q", part))
			continue
		}
		o.conns = append(o.conns, n)
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			errs = append(errs, fmt.Errorf("scenarios: %w", err))
		}
		o.only = re
	}
	if o.duration <= 0 || o.users < 1 || o.products < 1 {
		errs = append(errs, errors.New("duration, users and products must be positive"))
	}
	self, err := os.Executable()
	if err != nil {
		errs = append(errs, fmt.Errorf("find this program: %w", err))
	}
	o.self = []string{self}
	for _, key := range []string{"PATH", "HOME", "TMPDIR", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"} {
		if v := getenv(key); v != "" {
			o.passEnv = append(o.passEnv, key+"="+v)
		}
	}
	return o, errors.Join(errs...)
}
