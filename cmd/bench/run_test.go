package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary stand in for the bench binary: the harness starts its baseline
// servers as `<self> baseline-server ...`, and in tests self is this binary.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestOptionsFromEnvironmentAndFlags(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	o, err := parseOptions(nil, envOf(map[string]string{}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 15*time.Second || o.users != 10000 || o.products != 100000 || o.bcryptCost != 12 || !o.limits ||
		fmt.Sprint(o.conns) != "[16 64 256]" || o.out != "bench/results" {
		t.Errorf("defaults: %+v", o)
	}

	o, err = parseOptions([]string{"--users=50", "--conns=2,4"}, envOf(map[string]string{
		"BENCH_QUICK": "1", "BENCH_USERS": "70", "BCRYPT_COST": "4", "BENCH_LIMITS": "0", "BENCH_SCENARIOS": "profile",
	}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !o.quick || o.duration != time.Second || o.users != 50 || o.products != 5000 || o.bcryptCost != 4 || o.limits ||
		fmt.Sprint(o.conns) != "[2 4]" || o.only == nil || !o.only.MatchString("GET /auth/profile") || o.out != "bench/tmp" {
		t.Errorf("quick, env and flags: %+v", o)
	}

	if o, err = parseOptions(nil, envOf(map[string]string{"BENCH_QUICK": "1"}), &stderr); err != nil ||
		fmt.Sprint(o.conns) != "[16 64]" || o.movementsOr() != benchMovements/10 {
		t.Errorf("quick defaults: conns %v, movements %d, %v", o.conns, o.movementsOr(), err)
	}
	if (options{}).movementsOr() != benchMovements {
		t.Error("the full run seeds every movement")
	}

	o, err = parseOptions([]string{"--products=30"}, envOf(map[string]string{"BENCH_PRODUCTS": "20"}), &stderr)
	if err != nil || o.products != 30 {
		t.Errorf("--products: %d, %v", o.products, err)
	}
	if o, err = parseOptions(nil, envOf(map[string]string{"BENCH_PRODUCTS": "20"}), &stderr); err != nil || o.products != 20 {
		t.Errorf("BENCH_PRODUCTS: %d, %v", o.products, err)
	}

	for _, bad := range [][]string{{"--conns=0"}, {"--conns=a"}, {"--scenarios=("}, {"stray"}, {"--products=0"}} {
		if _, err := parseOptions(bad, envOf(nil), &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseOptions(nil, envOf(map[string]string{"BENCH_DURATION": "soon"}), &stderr); err == nil {
		t.Error("BENCH_DURATION=soon accepted")
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bench", "frobnicate"}, envOf(nil), &stdout, &stderr); err == nil {
		t.Error("an unknown command ran")
	}
	if err := run(context.Background(), []string{"bench", "help"}, envOf(nil), &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "baseline-server") {
		t.Errorf("help: %v\n%s", err, stdout.String())
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		rate(8.44):                                 "8.4",
		rate(1234567.4):                            "1,234,567",
		rate(999.5):                                "1,000",
		fmtDuration(850 * time.Microsecond):        "850 µs",
		fmtDuration(2345 * time.Microsecond):       "2.35 ms",
		fmtDuration(45 * time.Millisecond):         "45.0 ms",
		fmtDuration(2500 * time.Millisecond):       "2.50 s",
		fmtDuration(0):                             "–",
		mib(30 << 20):                              "30.0 MiB",
		slug("GET /brands/{brandId}/products"):     "get-brands-brandid-products",
		oneLine("a|b\nc"):                          "a/b c",
		joinInts([]int{16, 64, 256}, "/"):          "16/64/256",
		thousands(float64(10000)):                  "10,000",
		seconds(1500 * time.Millisecond):           "1.5 s",
		Limit{Kind: "pgbench", Name: "x"}.String(): "pgbench x",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// testDatabaseURL is the server tests use (servertest's default).
func testDatabaseURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return defaultDatabaseURL
}

// databaseExists asks the maintenance database whether name still exists.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ecompointer")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ecompointer/ecompointer/cmd/ecompointer").CombinedOutput()
	if err != nil {
		t.Fatalf("build the server: %v\n%s", err, out)
	}
	return bin
}

func testOptions(t *testing.T, server, database string) options {
	t.Helper()
	return options{
		server:      server,
		self:        []string{os.Args[0]},
		selfEnv:     []string{"BENCH_TEST_RUN_MAIN=1"},
		passEnv:     []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")},
		queries:     "../../queries",
		out:         t.TempDir(),
		databaseURL: testDatabaseURL(),
		database:    database,
		appRole:     "ecompointer_app",
		pgbench:     "pgbench",
		duration:    300 * time.Millisecond,
		pause:       10 * time.Millisecond,
		conns:       []int{2},
		users:       12,
		brands:      2,
		products:    50,
		bcryptCost:  4,
		quick:       true,
		limits:      true,
		now:         func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) },
	}
}

// representative selects every scenario but the movements filters after the first: those differ
// only in a query string (each kind of scenario, and each of its limits, runs once; `make bench`
// runs them all).
func representative() *regexp.Regexp {
	var names []string
	movements := 0
	for _, s := range scenarios {
		if strings.HasPrefix(s.Name, "movements ") {
			if movements++; movements > 1 {
				continue
			}
		}
		names = append(names, "^"+regexp.QuoteMeta(s.Name)+"$")
	}
	return regexp.MustCompile(strings.Join(names, "|"))
}

// TestHarnessEndToEnd runs the harness, tiny, against the real server binary: every kind of
// scenario and every limit (the movements filters but one: see representative), their seeds at a
// small size, and checks the table and that the database is gone afterwards.
func TestHarnessEndToEnd(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pgbench"); err != nil {
		t.Fatalf("pgbench is needed (Debian: apt-get install postgresql-client): %v", err)
	}
	o := testOptions(t, buildServer(t), "ecompointer_bench_test_e2e_"+randomSecret()[:8])
	o.only, o.movements, o.expiredHolds, o.maxConns = representative(), 2000, 100, 2
	var stdout, stderr bytes.Buffer
	if err := bench(context.Background(), o, &stdout, &stderr); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	written, err := os.ReadFile(filepath.Join(o.out, "2026-11-25-quick.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != stdout.String() {
		t.Error("the file and the printed table differ")
	}
	table := stdout.String()
	for _, want := range []string{
		"| GET /auth/profile | 2 |", "| POST /auth/refresh | 2 |", "| POST /auth/login | 2 |",
		"| GET /brands/{brandId}/products | 2 |", "| GET /brands/{brandId}/products?q=brass | 2 |",
		"| GET /brands/{brandId}/products?q=zephyr | 2 |", "| GET /brands/{brandId}/products/{productId} | 2 |",
		"| POST /brands/{brandId}/products | 2 |", "| brand 2 reads, alone | 2 |", "| brand 2 reads, brand 1 floods search | 2 |",
		"## Noisy neighbour", "| brand 2 alone p50 |",
		"session baseline |", "bare baseline |", "verify baseline |", "pgbench profile |", "pgbench refresh |", "bcrypt |",
		"pgbench product_list |", "pgbench product_search |", "pgbench product_get |", "pgbench product_create |",
		"| reserve_hot: POST, DELETE /brands/{brandId}/reservations | 2 |",
		"| reserve_spread: POST, DELETE /brands/{brandId}/reservations | 2 |",
		"| receipt: POST /brands/{brandId}/inventory/adjustments | 2 |",
		"pgbench reserve_hot |", "pgbench reserve_spread |", "pgbench receipt |", "(2 requests a transaction)",
		"| order_create: POST /brands/{brandId}/orders | 2 |",
		"| order_hot: POST /brands/{brandId}/orders, receipts | 2 |",
		"| order_lifecycle: POST orders, confirm, fulfilments | 2 |",
		"pgbench order_create at the pool's size |", "pgbench order_create |", "pgbench order_hot at the pool's size |",
		"pgbench order_hot |", "pgbench order_lifecycle at the pool's size |", "pgbench order_lifecycle |", "(3 requests a transaction)",
		"| order_webhook: POST /brands/{brandId}/orders, one subscribed endpoint | 2 |", "order_create, same run |", "## Webhook delivery",
		"## Stock invariants", "## Paired runs", "## The edge's bound", "| GET /brands/{brandId}/products/{productId} | 2 | ",
		"| order_webhook: POST /brands/{brandId}/orders, one subscribed endpoint | order_create: POST /brands/{brandId}/orders | 2 | 2 × ",
		"| order_create_amounts: POST /brands/{brandId}/orders with shipping, discounts, tax | order_create: POST /brands/{brandId}/orders | 2 | 2 × ",
		"| GET /brands/{brandId}/products?q=zephyr | pgbench product_search | 2 | 2 × 1.00 s each | ",
		"| GET /brands/{brandId}/products/{productId} | pgbench product_get | 2 | 2 × 1.00 s each | ",
		"server OTEL_TRACES_SAMPLER=always_on |", "server OTEL_TRACES_EXPORTER=none |", "## Tracing",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q in the table:\n%s", want, table)
		}
	}
	// The scenarios with a seed of their own ran (at the test's 2 connections); one movements filter.
	for _, want := range []string{"| " + valuationScenario.Name + " | 2 |", "| movements productId: GET /brands/{brandId}/inventory/movements | 2 |"} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q in the table:\n%s", want, table)
		}
	}
	if !regexp.MustCompile(`(?m)^\| expired_holds: POST [^|]* \| 2 \|`).MatchString(table) || strings.Contains(table, "movements locationId") {
		t.Errorf("expired_holds missing, or a second movements filter ran:\n%s", table)
	}
	if strings.Contains(table, "## Errors") || strings.Contains(table, "not measured") ||
		strings.Contains(table, "BROKEN") || strings.Contains(table, "not checked") {
		t.Errorf("errors in a run that should have none:\n%s\n%s", table, stderr.String())
	}
	// Every inventory and order scenario and every one of its limits was checked, and passed.
	for _, run := range []string{"reserve_hot: POST", "reserve_spread: POST", "receipt: POST", "pgbench reserve_hot", "pgbench reserve_spread", "pgbench receipt",
		"order_create: POST", "order_webhook: POST", "order_hot: POST", "order_lifecycle: POST", "pgbench order_create", "pgbench order_create at the pool's size",
		"pgbench order_hot", "pgbench order_lifecycle"} {
		if !regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(run) + `[^|]* \| 2 \| \d+ \| \d+ \| 0 \| 0 \| 0 \| ok \|$`).MatchString(table) {
			t.Errorf("no passed stock check of %s in the table:\n%s", run, table)
		}
	}
	// Every order the webhook scenario placed had its order.created delivered to the receiver.
	if m := regexp.MustCompile(`(?m)^\| order_webhook[^|]* \| 2 \| (\d+) \| (\d+) \|`).FindStringSubmatch(table); m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("webhook deliveries %v, want one per order:\n%s", m, table)
	}
	// Tracing off and on side by side for profile and product get, with spans really exported:
	// at least the server span of each request in the totals.
	for _, name := range []string{"GET /auth/profile", "GET /brands/{brandId}/products/{productId}"} {
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(name) + ` \| 2 \| [\d,.]+ \| [\d,.]+ \| \d+% \|[^\n]*\| ([\d,]+) \| (\d+\.\d\d) \| (\d+) \| [\d.]+ (B|KiB|MiB) \|$`)
		if !row.MatchString(table) {
			t.Errorf("no tracing row for %s:\n%s", name, table)
			continue
		}
		// A run's own count may miss the batch still queued when it ended (the exporter batches
		// for up to 5 s; a quick run on a loaded machine can end before the first batch leaves):
		// the exact count is the total below, taken once the server has stopped and flushed.
		off := regexp.MustCompile(`(?m)^- ` + regexp.QuoteMeta(name) + `, ` + "`OTEL_TRACES_EXPORTER=none`" + `: 0 spans in 0 OTLP requests`)
		if !off.MatchString(table) {
			t.Errorf("%s: the untraced twin exported spans, or is missing:\n%s", name, table)
		}
		total := regexp.MustCompile(`(?m)^- ` + regexp.QuoteMeta(name) + `, ` + "`OTEL_TRACES_SAMPLER=always_on`" + `: [\d,]+ spans in [1-9]\d* OTLP requests \([^)]+\) for [\d,]+ requests answered, (\d+\.\d\d) spans a request$`).FindStringSubmatch(table)
		if total == nil {
			t.Errorf("no export total for %s:\n%s", name, table)
		} else if per, _ := strconv.ParseFloat(total[1], 64); per < 1 {
			t.Errorf("%s: %s spans a request in all", name, total[1])
		}
	}
	if databaseExists(t, o.database) {
		t.Errorf("database %s left behind", o.database)
	}
}

// TestHarnessCleansUpOnFailure: a server that cannot start still leaves no database behind.
func TestHarnessCleansUpOnFailure(t *testing.T) {
	t.Parallel()
	broken := filepath.Join(t.TempDir(), "ecompointer")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, broken, "ecompointer_bench_test_fail_"+randomSecret()[:8])
	var stdout, stderr bytes.Buffer
	if err := bench(context.Background(), o, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("bench with a broken server: %v", err)
	}
	if databaseExists(t, o.database) {
		t.Errorf("database %s left behind", o.database)
	}
}
