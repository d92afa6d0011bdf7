package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/password"
)

// The statements that manage the bench database itself.
//
//go:embed admin/*.sql
var adminSQL embed.FS

// options is one harness run; run() fills it from flags and the environment.
type options struct {
	server      string   // the ecompointer binary
	self        []string // the command that runs this program (for `baseline-server`)
	selfEnv     []string // more environment for it (tests)
	passEnv     []string // variables handed to the servers as they are (PATH, GOGC, ...)
	queries     string   // the directory of sqlc's queries
	out         string   // where the results file goes; empty: printed only
	previous    string   // the results file to compare with; empty: the newest full run's in out; "none": none
	databaseURL string   // a server where this login may create databases
	database    string   // the bench database's name; empty: made up (tests name it)
	appRole     string
	pgbench     string // the pgbench binary
	duration    time.Duration
	pause       time.Duration // between runs, so one run's leftovers do not land in the next
	conns       []int
	users       int
	brands      int
	products    int // per brand
	bcryptCost  int
	quick       bool
	only        *regexp.Regexp // scenarios to run; nil: all
	limits      bool
	profileDir  string // when set, CPU profiles of the server at profileConns go here
	profileConn int
	now         func() time.Time
	// movements and expiredHolds size the movements scenarios' ledger and the expired_holds
	// scenario's holds (0: benchMovements, expiredHolds); the harness's own test makes them tiny.
	movements    int
	expiredHolds int
	// maxConns, when set, caps the connections of the scenarios that name their own (the
	// harness's own test: every run at its few connections).
	maxConns int
}

// capped is conns with none above maxConns, when that is set.
func (o options) capped(conns []int) []int {
	if o.maxConns < 1 {
		return conns
	}
	out := make([]int, len(conns))
	for i, n := range conns {
		out[i] = min(n, o.maxConns)
	}
	return out
}

// movementsOr is how many movements the movements scenarios seed.
func (o options) movementsOr() int { return cmp.Or(o.movements, benchMovements) }

// expiredHoldsOr is how many expired holds the expired_holds scenario finds before each run.
func (o options) expiredHoldsOr() int { return cmp.Or(o.expiredHolds, expiredHolds) }

// harness is one run's state.
type harness struct {
	o        options
	stdout   io.Writer
	stderr   io.Writer
	tmp      string
	dbURL    string
	dbName   string
	access   string // the servers' JWT secrets: random per run, shared by every server of it
	refresh  string
	fixture  *Fixture
	scripts  map[string]string // rendered pgbench scripts by name
	pgServer string            // PostgreSQL's version
	checks   []stockCheck      // after every run of an inventory scenario or its limit
	// movementsSeeded: the movements scenarios' ledger is in (seeded once, by the first).
	movementsSeeded bool
	// valuationSeeded: the valuation scenario's levels and costs are in (seeded once).
	valuationSeeded bool
	exports         []traceExport // what each tracing variant's server exported in all
	receiver        *receiver     // the webhook scenario's endpoint, once it has run (webhooks.go)
}

func (h *harness) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(h.stderr, "bench: "+format+"\n", args...)
}

// bench runs the whole harness: database, seed, scenarios, limits, report. Whatever happens, the
// servers it started are stopped and its database dropped before it returns.
func bench(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	h := &harness{o: o, stdout: stdout, stderr: stderr}
	defer func() {
		if h.receiver != nil {
			h.receiver.close()
		}
	}()
	selected := selectScenarios(o.only)
	if len(selected) == 0 {
		return fmt.Errorf("no scenario matches %q", o.only)
	}
	if maxConns := slices.Max(o.conns); o.users < maxConns {
		return fmt.Errorf("%d users for %d connections: refresh clients each own sessions, so seed at least as many users as connections", o.users, maxConns)
	}
	if _, err := os.Stat(o.server); err != nil {
		return fmt.Errorf("the server binary: %w (make bench builds it)", err)
	}
	// The servers run in a directory of their own (no .env of the developer's is read there).
	if o.server, err = filepath.Abs(o.server); err != nil {
		return err
	}
	h.o.server = o.server
	if o.limits {
		if err := h.renderScripts(selected); err != nil {
			return err
		}
		if _, err := exec.LookPath(o.pgbench); err != nil {
			return fmt.Errorf("pgbench: %w (Debian: apt-get install postgresql-client)", err)
		}
	}
	h.access, h.refresh = randomSecret(), randomSecret()

	h.tmp, err = os.MkdirTemp("", "ecompointer-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			_ = os.RemoveAll(h.tmp)
		} else {
			h.logf("server logs kept in %s", h.tmp)
		}
	}()

	// Cleanup must run even when ctx is cancelled (Ctrl-C): it gets a context of its own.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	name := o.database
	if name == "" {
		name = fmt.Sprintf("ecompointer_bench_%s_%s", o.now().UTC().Format("20060102_150405"), randomSecret()[:8])
	}
	if err := h.admin(ctx, "create_database.sql", name); err != nil {
		return fmt.Errorf("create the bench database: %w", err)
	}
	defer func() {
		c, cancel := cleanupCtx()
		defer cancel()
		if derr := h.admin(c, "drop_database.sql", name); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop database %s: %w", name, derr))
		}
	}()
	h.dbName = name
	h.dbURL, err = withDatabase(o.databaseURL, name)
	if err != nil {
		return err
	}

	started := time.Now()
	if err := h.prepare(ctx); err != nil {
		return err
	}
	h.logf("seeded %d users with live sessions and %d products in each of %d brands in %s",
		len(h.fixture.Users), h.fixture.Products, h.fixture.Brands, time.Since(started).Round(100*time.Millisecond))

	rep := report{when: o.now(), o: o}
	rep.runs, rep.pairs, err = h.runScenarios(ctx, selected)
	if err != nil {
		return err
	}
	if o.limits {
		rep.limits, err = h.measureLimits(ctx, selected)
		if err != nil {
			return err
		}
	}
	rep.machine = describeMachine(h.pgServer)
	rep.scenarios = selected
	rep.checks = h.checks
	rep.exports = h.exports
	rep.prev = h.previous(o)
	md := rep.markdown()
	if _, err := io.WriteString(h.stdout, md); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		suffix := ""
		if o.quick {
			suffix = "-quick"
		}
		path := resultsPath(o.out, o.now().UTC(), suffix)
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return err
		}
		h.logf("wrote %s (took %s)", path, time.Since(started).Round(time.Second))
	}
	// An oversell or a ledger that does not sum fails the harness (and CI), after the table.
	return stockFailure(h.checks)
}

// resultsPath is where a run's table goes: <date>.md, or, when a full run of that day is kept
// there already, <date>T<hhmm>.md beside it (a later name in the order findPrevious reads). A quick
// run's table (suffix -quick) replaces the last one: it is not kept.
func resultsPath(dir string, now time.Time, suffix string) string {
	path := filepath.Join(dir, now.Format("2006-01-02")+suffix+".md")
	if suffix != "" {
		return path
	}
	if _, err := os.Stat(path); err == nil {
		path = filepath.Join(dir, now.Format("2006-01-02T1504")+".md")
	}
	return path
}

// previous reads the run to compare with (findPrevious), or says why there is none: a results
// file it cannot read costs the comparison, never the run's own table.
func (h *harness) previous(o options) *previousRun {
	if o.previous == "" && (o.quick || o.out == "") {
		return nil // quick figures are not comparable; a printed-only run keeps no history
	}
	path, err := findPrevious(o.out, o.previous)
	if errors.Is(err, errNoPrevious) {
		return nil
	}
	var prev *previousRun
	if err == nil {
		prev, err = readPrevious(path)
	}
	if err != nil {
		h.logf("no comparison with the previous run: %v", err)
		return nil
	}
	return prev
}

func selectScenarios(only *regexp.Regexp) []Scenario {
	var out []Scenario
	for _, s := range scenarios {
		if only == nil || only.MatchString(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

func (h *harness) renderScripts(selected []Scenario) error {
	h.scripts = map[string]string{}
	var queries map[string]string // read at the first pgbench limit: other runs need no queries/
	for _, sc := range selected {
		for _, l := range sc.Limits {
			if l.Kind != "pgbench" || h.scripts[l.Name] != "" {
				continue
			}
			if queries == nil {
				var err error
				if queries, err = loadQueries(h.o.queries); err != nil {
					return err
				}
			}
			script, err := renderScript(l.Name, queries)
			if err != nil {
				return err
			}
			h.scripts[l.Name] = script
		}
	}
	return nil
}

// admin runs one statement of admin/ against the maintenance database; arg, an identifier, is
// quoted into the statement (DDL takes no bind parameters).
func (h *harness) admin(ctx context.Context, file string, arg string) error {
	sql, err := adminStatement(file, arg)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, h.o.databaseURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(h.o.databaseURL), err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

func adminStatement(file, ident string) (string, error) {
	src, err := adminSQL.ReadFile("admin/" + file)
	if err != nil {
		return "", err
	}
	t, err := template.New(file).Parse(string(src))
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, pgx.Identifier{ident}.Sanitize()); err != nil {
		return "", err
	}
	return b.String(), nil
}

// queryRow runs one query of admin/ on conn and scans its one row into dest.
// adminExec runs admin/<file> with named arguments as the harness's login and scans the one
// number it answers.
func (h *harness) adminExec(ctx context.Context, file string, args pgx.NamedArgs) (int, error) {
	sql, err := adminSQL.ReadFile("admin/" + file)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var n int
	err = conn.QueryRow(ctx, string(sql), args).Scan(&n)
	return n, err
}

// connsOr is the scenario's own numbers of connections, or all when it names none.
func (s Scenario) connsOr(all []int) []int {
	if len(s.Conns) > 0 {
		return s.Conns
	}
	return all
}

func queryRow(ctx context.Context, conn *pgx.Conn, file string, dest ...any) error {
	sql, err := adminSQL.ReadFile("admin/" + file)
	if err != nil {
		return err
	}
	return conn.QueryRow(ctx, string(sql)).Scan(dest...)
}

// prepare migrates and seeds the database: users in SQL, then one session each by logging every
// user in through the API (real tokens, made the server's way). Those logins run against a
// server at bcrypt cost 4, with the users' hashes at cost 4: at cost 12, 10,000 logins would take
// twenty minutes of CPU. The hashes are then replaced by one made at the configured cost, and the
// server measured is started afresh at that cost; sessions and tokens do not depend on either.
func (h *harness) prepare(ctx context.Context) error {
	migrate := exec.CommandContext(ctx, h.o.server, "migrate", "up")
	migrate.Env = h.serverEnv(0, 4)
	migrate.Dir = h.tmp
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate up: %w\n%s", err, out)
	}

	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := queryRow(ctx, conn, "server_version.sql", &h.pgServer); err != nil {
		return err
	}
	fast, err := hashAt(4)
	if err != nil {
		return err
	}
	seeding := time.Now()
	if err := runSeedFiles(ctx, conn, "seed", pgx.NamedArgs{
		"users": h.o.users, "brands": h.o.brands, "products": h.o.products, "password_hash": fast,
		"locations": stockLocations, "stock_products": stockProducts, "hot_stock": hotStock, "stock_on_hand": stockOnHand,
	}); err != nil {
		return err
	}
	h.logf("seeded %d users, %d brands and %d products in SQL in %s",
		h.o.users, h.o.brands, h.o.brands*h.o.products, time.Since(seeding).Round(100*time.Millisecond))

	users, err := seededUsers(h.o.users)
	if err != nil {
		return err
	}
	srv, err := h.startServer(ctx, "seeding server", 4, "")
	if err != nil {
		return err
	}
	sessions, err := loginAll(ctx, srv.url, users, 4*runtime.NumCPU())
	if serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("seed sessions: %w", err)
	}
	h.fixture, err = newFixture(users, sessions, h.o.brands, h.o.products)
	if err != nil {
		return err
	}
	if err := h.fixture.loadStock(ctx, conn); err != nil {
		return err
	}

	slow, err := hashAt(h.o.bcryptCost)
	if err != nil {
		return err
	}
	if err := runSeedFiles(ctx, conn, "seed/after-login", pgx.NamedArgs{"password_hash": slow}); err != nil {
		return err
	}
	return grantAppRole(ctx, conn, h.o.appRole)
}

func hashAt(cost int) (string, error) {
	hasher, err := password.NewHasher(cost)
	if err != nil {
		return "", err
	}
	return hasher.Hash(context.Background(), benchPassword)
}

// serverEnv is the whole environment of a server: the harness's own settings and nothing of the
// shell's but passEnv, so that a developer's exported variables cannot skew a run. port 0 is for
// commands that serve nothing.
func (h *harness) serverEnv(port, bcryptCost int) []string {
	env := append([]string(nil), h.o.passEnv...)
	return append(env,
		"APP_ENV=development",
		"PORT="+strconv.Itoa(port),
		"DATABASE_URL="+h.dbURL,
		"DATABASE_APP_ROLE="+h.o.appRole,
		"JWT_ACCESS_SECRET="+h.access,
		"JWT_REFRESH_SECRET="+h.refresh,
		"BCRYPT_COST="+strconv.Itoa(bcryptCost),
		"AUTH_RATE_LIMIT=0", // every virtual client comes from 127.0.0.1
		"LOG_LEVEL=warn",
		"LOG_FORMAT=text",
		// The seeded access tokens must outlive the run; the lifetime costs nothing per request.
		"ACCESS_TOKEN_TTL=24h",
		"SHUTDOWN_TIMEOUT=5s",
		// The sweeper is off in effect (the harness releases what a run left itself): the
		// expired_holds scenario measures sales over holds no sweeper has released.
		"RESERVATION_SWEEP_INTERVAL=1h",
		// The webhook scenario's receiver listens on 127.0.0.1 (webhooks.go): delivery may reach
		// it. No other scenario has an endpoint.
		"WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8",
		"WEBHOOK_ALLOW_HTTP=true",
	)
}

// startServer starts bin/ecompointer serve (pprofAddr, when set, is passed as --pprof-addr), with
// more environment when given (a variant of the server: SESSION_CACHE=off).
func (h *harness) startServer(ctx context.Context, name string, bcryptCost int, pprofAddr string, more ...string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := []string{h.o.server, "serve", "--migrate=false"}
	if pprofAddr != "" {
		argv = append(argv, "--pprof-addr="+pprofAddr)
	}
	logPath := filepath.Join(h.tmp, strings.ReplaceAll(name, " ", "-")+".log")
	return startProcess(ctx, name, argv, append(h.serverEnv(port, bcryptCost), more...), h.tmp, logPath, port)
}

// startBaseline starts `bench baseline-server` in mode.
func (h *harness) startBaseline(ctx context.Context, mode string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), h.o.self...), "baseline-server", "--mode="+mode, "--addr=127.0.0.1:"+strconv.Itoa(port))
	env := append(h.serverEnv(port, 4), h.o.selfEnv...)
	name := mode + " baseline"
	return startProcess(ctx, name, argv, env, h.tmp, filepath.Join(h.tmp, "baseline-"+mode+".log"), port)
}

// row is one measured run: a scenario or a limit at one number of connections.
type row struct {
	name       string // the scenario, or the limit
	scenario   string // for a limit: the scenario it bounds
	limit      Limit  // for a limit
	conns      int    // clients (pgbench's may be capped below the scenario's)
	wanted     int    // the scenario's connections, when conns was capped
	res        load.Result
	noise      *load.Result // what the scenario's noisy neighbour got, if it has one
	exported   *otlpCounts  // for a tracing variant: what reached the OTLP sink during the run
	deliveries *deliveries  // for the webhook scenario: what its receiver got (webhooks.go)
	use        spent
	err        error // a limit that could not be measured
}

// runScenarios starts the server at the configured cost and runs every scenario at every
// number of connections.
func (h *harness) runScenarios(ctx context.Context, selected []Scenario) (rows []row, pairs []pairing, err error) {
	pprofAddr := ""
	if h.o.profileDir != "" {
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(port)
		if err := os.MkdirAll(h.o.profileDir, 0o755); err != nil {
			return nil, nil, err
		}
	}
	srv, err := h.startServer(ctx, "server", h.o.bcryptCost, pprofAddr)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	for _, sc := range selected {
		for _, n := range h.o.capped(sc.connsOr(h.o.conns)) {
			if sc.Setup != nil {
				if err := sc.Setup(ctx, h); err != nil {
					return nil, nil, fmt.Errorf("%s: setup: %w", sc.Name, err)
				}
			}
			profile := ""
			if pprofAddr != "" && n == h.o.profileConn {
				profile = "http://" + pprofAddr + "/debug/pprof/profile"
			}
			r, err := h.measure(ctx, srv, sc, n, profile)
			if err != nil {
				return nil, nil, fmt.Errorf("%s at %d connections: %w", sc.Name, n, err)
			}
			r.name = sc.Name
			if sc.After != nil {
				if err := sc.After(ctx, h, &r); err != nil {
					return nil, nil, fmt.Errorf("%s at %d connections: after: %w", sc.Name, n, err)
				}
			}
			rows = append(rows, r)
			h.logf("%-44s %4d conns  %9.1f req/s  p99 %-9s errors %d", sc.Name, n, r.res.Rate(), fmtDuration(r.res.Latency.P99), r.res.Errors)
			if sc.Stock {
				h.checkStock(ctx, sc.Name, n)
			}
		}
	}
	pairs, err = h.runPairs(ctx, srv, selected)
	return rows, pairs, err
}

// measure runs one scenario against target and charges target with what it spent meanwhile.
// With profileURL set, a CPU profile of the run is saved in the profile directory.
func (h *harness) measure(ctx context.Context, target *process, sc Scenario, conns int, profileURL string) (row, error) {
	if err := h.settle(ctx); err != nil {
		return row{}, err
	}
	var profiled sync.WaitGroup
	if profileURL != "" {
		seconds := max(1, int(h.o.duration.Seconds())-1)
		file := filepath.Join(h.o.profileDir, fmt.Sprintf("%s-c%d.pprof", slug(sc.Name), conns))
		profiled.Add(1)
		go func() {
			defer profiled.Done()
			if err := fetchTo(ctx, profileURL+"?seconds="+strconv.Itoa(seconds), file); err != nil {
				h.logf("profile %s: %v", file, err)
			}
		}()
	}
	stats := target.stats()
	m, err := startMeter(&stats, h.dbName)
	if err != nil {
		return row{}, err
	}
	var noise *load.Result
	var noiseErr error
	var noisy sync.WaitGroup
	if sc.Noise != nil {
		noisy.Go(func() {
			r, err := load.Run(ctx, load.Config{
				BaseURL:     target.url,
				Connections: conns,
				Duration:    h.o.duration,
				NewClient:   func(i int) load.Client { return sc.Noise(h.fixture, i, conns) },
			})
			noise, noiseErr = &r, err
		})
	}
	res, err := h.drive(ctx, target, sc, conns, h.o.duration)
	noisy.Wait()
	use, merr := m.finish()
	profiled.Wait()
	if err := errors.Join(err, noiseErr, merr); err != nil {
		return row{}, err
	}
	return row{conns: conns, res: res, noise: noise, use: use}, nil
}

// drive runs sc's clients against target at conns for d.
func (h *harness) drive(ctx context.Context, target *process, sc Scenario, conns int, d time.Duration) (load.Result, error) {
	return load.Run(ctx, load.Config{
		BaseURL:     target.url,
		Connections: conns,
		Duration:    d,
		Expect:      sc.Expect,
		NewClient:   func(i int) load.Client { return sc.Client(h.fixture, i, conns) },
	})
}

// measureLimits measures every limit the selected scenarios name, at every number of
// connections (bcrypt once: it does not depend on them).
func (h *harness) measureLimits(ctx context.Context, selected []Scenario) ([]row, error) {
	var rows []row
	// Baselines: one process per mode, driven by each scenario that names it.
	for _, mode := range baselineModes(selected) {
		p, err := h.startBaseline(ctx, mode)
		if err != nil {
			return nil, err
		}
		for _, sc := range selected {
			for _, l := range sc.Limits {
				if l.Kind != "baseline" || l.Name != mode {
					continue
				}
				for _, n := range h.o.conns {
					r, err := h.measure(ctx, p, sc, n, "")
					if err != nil {
						_ = p.stop()
						return nil, fmt.Errorf("%s for %s at %d connections: %w", l, sc.Name, n, err)
					}
					r.name, r.scenario, r.limit = l.String(), sc.Name, l
					rows = append(rows, r)
					h.logf("%-28s %4d conns  %9.1f req/s  (%s)", l, n, r.res.Rate(), sc.Name)
				}
			}
		}
		if err := p.stop(); err != nil {
			return nil, err
		}
	}
	for _, sc := range selected {
		for _, l := range sc.Limits {
			switch l.Kind {
			case "pgbench":
				for _, n := range h.o.conns {
					r := h.pgbench(ctx, l, n)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					r.name, r.scenario, r.limit = l.String(), sc.Name, l
					rows = append(rows, r)
					h.logf("%-28s %4d conns  %9.1f tx/s  %v", l, r.conns, r.res.Rate(), errOrEmpty(r.err))
					if sc.Stock {
						h.checkStock(ctx, l.String(), r.conns)
					}
				}
			case "server":
				if err := h.measureVariant(ctx, sc, l, &rows); err != nil {
					return nil, err
				}
			case "bcrypt":
				r, err := h.bcrypt(ctx)
				if err != nil {
					return nil, err
				}
				r.name, r.scenario, r.limit = l.String(), sc.Name, l
				rows = append(rows, r)
				h.logf("%-28s %4d cores  %9.1f hashes/s", l, r.conns, r.res.Rate())
			}
		}
	}
	return rows, nil
}

// measureVariant runs the scenario against a second server started with the limit's setting
// (Limit.Name, "KEY=value"), at every number of connections: the same run's figures with and
// without a feature.
func (h *harness) measureVariant(ctx context.Context, sc Scenario, l Limit, rows *[]row) (err error) {
	more := []string{l.Name}
	var sink *otlpSink // a tracing variant exports to it (tracing.go)
	if exportsTraces(l) {
		if sink, err = startOTLPSink(); err != nil {
			return err
		}
		defer sink.close() // after the server's stop below: its shutdown flushes the last spans
		more = append(more, sink.env()...)
	}
	p, err := h.startServer(ctx, "server "+l.Name, h.o.bcryptCost, "", more...)
	if err != nil {
		return err
	}
	first := len(*rows)
	defer func() {
		if serr := p.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if sink != nil && err == nil {
			h.exports = append(h.exports, newTraceExport(sc.Name, l.Name, (*rows)[first:], sink.counts()))
		}
	}()
	for _, n := range h.o.conns {
		before := sink.counts()
		r, err := h.measure(ctx, p, sc, n, "")
		if err != nil {
			return fmt.Errorf("%s for %s at %d connections: %w", l, sc.Name, n, err)
		}
		r.name, r.scenario, r.limit = l.String(), sc.Name, l
		if sink != nil {
			exported := sink.counts().sub(before)
			r.exported = &exported
		}
		*rows = append(*rows, r)
		h.logf("%-28s %4d conns  %9.1f req/s  p99 %-9s errors %d (%s)", l, n, r.res.Rate(), fmtDuration(r.res.Latency.P99), r.res.Errors, sc.Name)
	}
	return nil
}

func baselineModes(selected []Scenario) []string {
	var modes []string
	seen := map[string]bool{}
	for _, sc := range selected {
		for _, l := range sc.Limits {
			if l.Kind == "baseline" && !seen[l.Name] {
				seen[l.Name] = true
				modes = append(modes, l.Name)
			}
		}
	}
	return modes
}

// pgbench runs a scenario's SQL at n clients, or as many as PostgreSQL has connections for. A
// failure is reported in the row rather than ending the harness: the machine's PostgreSQL is
// shared, and one limit missing still leaves a useful table.
func (h *harness) pgbench(ctx context.Context, l Limit, n int) row {
	r := row{conns: n}
	if err := h.settle(ctx); err != nil {
		r.err = err
		return r
	}
	clients, err := h.pgbenchClients(ctx, l, n)
	if err != nil {
		r.err = err
		return r
	}
	if clients != n {
		r.conns, r.wanted = clients, n
	}
	m, err := startMeter(nil, h.dbName)
	if err != nil {
		r.err = err
		return r
	}
	res, pgbenchCPU, err := h.pgbenchFor(l, clients, h.o.duration).run(ctx)
	use, merr := m.finish()
	// pgbench is this limit's load generator: its CPU, not the harness's (idle meanwhile).
	use.self = pgbenchCPU
	r.res, r.use, r.err = res, use, errors.Join(err, merr)
	return r
}

// pgbenchClients is how many clients l's pgbench runs for a scenario's n connections: n, or the
// server's pool size for a limit at the pool's size, and never more than PostgreSQL has free.
func (h *harness) pgbenchClients(ctx context.Context, l Limit, n int) (int, error) {
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return 0, err
	}
	var free int
	err = queryRow(ctx, conn, "free_connections.sql", &free)
	_ = conn.Close(ctx)
	if err != nil {
		return 0, err
	}
	// The server's pool size, for limits that run as many transactions at once.
	if pool := server.DefaultPoolSize(); l.Pool && n > pool {
		n = pool
	}
	// A margin for whatever else connects meanwhile (tests of other sessions, autovacuum).
	return min(n, max(1, free-5)), nil
}

// pgbenchFor is l's pgbench with clients for d.
func (h *harness) pgbenchFor(l Limit, clients int, d time.Duration) pgbenchRun {
	return pgbenchRun{
		bin:      h.o.pgbench,
		dbURL:    h.dbURL,
		appRole:  h.o.appRole,
		script:   h.scripts[l.Name],
		vars:     h.pgbenchVars(l),
		clients:  clients,
		duration: d,
		dir:      h.tmp,
	}
}

// pgbenchVars are the variables every script may use (-D), and the limit's own.
func (h *harness) pgbenchVars(l Limit) map[string]string {
	f := h.fixture
	vars := map[string]string{
		"sessions": strconv.Itoa(len(f.Sessions)),
		"brands":   strconv.Itoa(f.Brands),
		"products": strconv.Itoa(f.Products),
		// The inventory scripts' stock (seed/040_locations.sql, 050_stock_products.sql).
		"locations":      strconv.Itoa(f.Locations),
		"stock_products": strconv.Itoa(f.StockProducts),
		"hot_product":    f.Stock[0][0],
		"hot_location":   f.locationID(1, 1),
		// order_hot's product (orders.go, orderHotBrand).
		"order_hot_brand":    strconv.Itoa(orderHotBrand(f)),
		"order_hot_product":  f.Stock[orderHotBrand(f)-1][0],
		"order_hot_location": f.locationID(orderHotBrand(f), 1),
		// The product list's default order, ProductList's sort: a parameter, as the server binds it.
		"product_sort": "-createdAt",
	}
	if name, value, ok := strings.Cut(l.Define, "="); ok {
		vars[name] = value
	}
	return vars
}

// bcrypt measures bcrypt verifications per second with every core busy, at the configured cost:
// what POST /auth/login can ever do, since each login verifies one hash.
func (h *harness) bcrypt(ctx context.Context) (row, error) {
	if err := h.settle(ctx); err != nil {
		return row{}, err
	}
	hasher, err := password.NewHasher(h.o.bcryptCost)
	if err != nil {
		return row{}, err
	}
	hash, err := hasher.Hash(ctx, benchPassword)
	if err != nil {
		return row{}, err
	}
	cores := runtime.GOMAXPROCS(0)
	lat := make([][]time.Duration, cores)
	m, err := startMeter(nil, h.dbName)
	if err != nil {
		return row{}, err
	}
	start := time.Now()
	deadline := start.Add(h.o.duration)
	var wg sync.WaitGroup
	for i := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				if ok, _, err := hasher.Verify(ctx, hash, benchPassword); err == nil && !ok {
					panic("bench: bcrypt refused its own hash")
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	use, err := m.finish()
	if err := errors.Join(ctx.Err(), err); err != nil {
		return row{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res := load.Result{Connections: cores, OK: len(all), Elapsed: elapsed, Latency: load.Summarize(all)}
	return row{conns: cores, res: res, use: use}, nil
}

// fetchTo saves what GET url answers in file.
func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// settle prepares the next run: what earlier runs added to the catalog deleted
// (admin/products_reset.sql), the database vacuumed (admin/vacuum.sql says why), then a pause, so
// that one run's leftovers (autovacuum, the server's garbage collection) do not land in the next.
func (h *harness) settle(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	for _, file := range []string{"products_reset.sql", "vacuum.sql"} {
		sql, err := adminSQL.ReadFile("admin/" + file)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return sleep(ctx, h.o.pause)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// withDatabase returns base with its database replaced by name.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "the database URL"
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// slug turns a scenario's name into a file name: "GET /auth/profile" → "get-auth-profile".
func slug(name string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}
