package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestScriptsBindEveryParameter renders every pgbench script from the real queries: a query the
// server changes (a parameter added or renamed) fails here rather than benchmarking stale SQL.
func TestScriptsBindEveryParameter(t *testing.T) {
	t.Parallel()
	queries, err := loadQueries("../../queries")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := pgbenchScripts.ReadDir("pgbench")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() { // pgbench/events: the events' sample data
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".pgbench")
		script, err := renderScript(name, queries)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// @name is a parameter sqlc would bind; @> (array containment) is an operator.
		if strings.Contains(script, "sqlc.") || unboundParam.MatchString(script) {
			t.Errorf("%s: a parameter is left unbound:\n%s", name, script)
		}
	}
	// Every change the server tells in the outbox runs its EventInsert in pgbench too, one per
	// transaction that tells something, with as many events as the server writes there.
	for name, want := range map[string][]int{
		"product_create": {1}, "receipt": {2}, "order_create": {7}, "order_hot": {2, 3},
		"order_lifecycle": {7, 1, 8}, "reserve_hot": {3, 3}, "reserve_spread": {7, 7},
	} {
		t.Run(name, func(t *testing.T) {
			script, err := renderScript(name, queries)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, stmt := range strings.Split(script, "INSERT INTO events")[1:] {
				got = append(got, strings.Count(stmt, "jsonb_build_object('id', gen_random_uuid()"))
			}
			if !slices.Equal(got, want) {
				t.Errorf("events per EventInsert = %v, want %v", got, want)
			}
			if strings.Contains(script, "T19:") {
				t.Error("an event's sample data is in the script as text: its colons are pgbench variables")
			}
		})
	}
	// The catalog's scripts run what kit.InBrand does: the query in a transaction scoped to the
	// brand, begun in the first statement's pipeline, its event sent in the COMMIT's.
	for _, name := range []string{"product_create"} {
		script, _ := renderScript(name, queries)
		if !strings.Contains(script, "\\startpipeline\nBEGIN;\nSELECT set_config('app.brand_id', bench_uuid(1, :b)::text, true);\n") ||
			!strings.Contains(script, "products") || !strings.HasSuffix(script, "COMMIT;\n\\endpipeline\n") {
			t.Errorf("%s does not run a brand-scoped transaction:\n%s", name, script)
		}
	}
	// The single reads run what kit.ReadInBrand does: the read-only brand scope and the query in
	// one pipeline (one implicit transaction).
	for name, scope := range map[string]string{
		"product_get":    "set_config('transaction_read_only', 'on', true);\n",
		"product_list":   "set_config('transaction_read_only', 'on', true),\n       set_config('plan_cache_mode', 'force_custom_plan', true);\n",
		"product_search": "set_config('transaction_read_only', 'on', true),\n       set_config('plan_cache_mode', 'force_custom_plan', true);\n",
	} {
		script, _ := renderScript(name, queries)
		if !strings.Contains(script, "\\startpipeline\nSELECT set_config('app.brand_id', bench_uuid(1, :b)::text, true), "+scope) ||
			!strings.Contains(script, "products") || !strings.HasSuffix(script, "\\endpipeline\n") {
			t.Errorf("%s does not run a pipelined brand-scoped read:\n%s", name, script)
		}
	}
	profile, _ := renderScript("profile", queries)
	if !strings.Contains(profile, "JOIN users u ON u.id = s.user_id") || !strings.Contains(profile, "u.*") {
		t.Errorf("profile does not run SessionAuthenticate:\n%s", profile)
	}
}

var unboundParam = regexp.MustCompile(`@\w`)

func TestBindQuery(t *testing.T) {
	t.Parallel()
	queries := map[string]string{
		"ThingGet": "SELECT sqlc.embed(t) FROM things t WHERE id = @id AND kind = sqlc.arg(kind)::int AND (sqlc.narg(after)::uuid IS NULL)",
	}
	bind := bindQuery(queries)
	got, err := bind("ThingGet", "id", ":id", "kind", "3", "after", "NULL")
	if err != nil {
		t.Fatal(err)
	}
	if want := "SELECT t.* FROM things t WHERE id = :id AND kind = 3::int AND (NULL::uuid IS NULL)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := bind("ThingGet", "id", ":id", "kind", "3"); err == nil || !strings.Contains(err.Error(), "after") {
		t.Errorf("a missing parameter: %v", err)
	}
	if _, err := bind("ThingGet", "id", ":id", "kind", "3", "after", "NULL", "extra", "1"); err == nil {
		t.Error("an unknown parameter was accepted")
	}
	if _, err := bind("Nothing"); err == nil {
		t.Error("an unknown query was accepted")
	}
	if _, err := bind("ThingGet", "id"); err == nil {
		t.Error("an odd number of arguments was accepted")
	}
}

func TestLoadQueries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sql := "-- name: A :one\n-- a comment\nSELECT 1\nFROM x;\n\n-- name: B :exec\nUPDATE y SET z = @z;\n"
	if err := os.WriteFile(filepath.Join(dir, "t.sql"), []byte(sql), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := loadQueries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if q["A"] != "SELECT 1\nFROM x" || q["B"] != "UPDATE y SET z = @z" {
		t.Errorf("queries = %q", q)
	}
	if _, err := loadQueries(t.TempDir()); err == nil {
		t.Error("an empty directory gave queries")
	}
}

func TestReadPgbenchLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// client transaction latency_us script epoch_s epoch_us
	log := "0 0 1000 0 1700000000 1000\n0 1 3000 0 1700000000 4000\n1 0 failed 0 1700000000 5000\n1 1 2000 0 1700000001 0\n"
	if err := os.WriteFile(filepath.Join(dir, "tx.123"), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := readPgbenchLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 3 || res.Errors != 1 || res.Latency.P50 != 2*time.Millisecond || res.Latency.Max != 3*time.Millisecond {
		t.Errorf("result = %+v", res)
	}
	// From the first transaction's start (1700000000.000000) to the last one's end (1700000001):
	// client 1's first transaction is the last one, so no window of warm clients is left.
	if res.Elapsed != time.Second {
		t.Errorf("elapsed = %s", res.Elapsed)
	}
}

// The rate counts from the moment every client has ended its first transaction (each ran on a
// new backend, its caches cold): client 1's first ends at 20 ms, so the four transactions that
// end after it, in the 20 ms to the last end, are the rate; the latencies are all seven.
func TestReadPgbenchLogsCountsWarmClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := "0 0 10000 0 1700000000 10000\n0 1 10000 0 1700000000 20000\n0 2 10000 0 1700000000 30000\n0 3 10000 0 1700000000 40000\n"
	// The second thread's file: client ids are pgbench's, across threads.
	log1 := "1 0 20000 0 1700000000 20000\n1 1 10000 0 1700000000 30000\n1 2 10000 0 1700000000 40000\n"
	for name, body := range map[string]string{"tx.9": log, "tx.9.1": log1} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := readPgbenchLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 4 || res.Elapsed != 20*time.Millisecond || res.Rate() != 200 {
		t.Errorf("OK %d in %s (%.0f/s), want 4 in 20ms (200/s)", res.OK, res.Elapsed, res.Rate())
	}
	if res.Latency.Max != 20*time.Millisecond || res.Latency.Count != 7 {
		t.Errorf("latencies = %+v, want all seven, the longest 20ms", res.Latency)
	}
}

// TestOrderScriptsPlaceTheCustomer: the HTTP clients' orders carry an inline customer
// (orderBody), for which the server runs CustomerFindOrCreate in the order's transaction and
// stores the customer's id on the order; every pgbench script of an order scenario runs the same
// statement, on the same email, before the order's first read, and passes the id on.
func TestOrderScriptsPlaceTheCustomer(t *testing.T) {
	t.Parallel()
	var body struct {
		Customer *struct{ Email, Name string } `json:"customer"`
	}
	if err := json.Unmarshal(orderBody([]string{"p"}), &body); err != nil {
		t.Fatal(err)
	}
	if body.Customer == nil {
		t.Fatal("orderBody sends no customer: drop CustomerFindOrCreate from the order scripts and this test")
	}
	queries, err := loadQueries("../../queries")
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(body.Customer.Email, "@")
	email := "'" + body.Customer.Email[:at+1] + "' || '" + body.Customer.Email[at+1:] + "'"
	for _, name := range []string{"order_create", "order_hot", "order_lifecycle"} {
		script, err := renderScript(name, queries)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The order's handler runs in the idempotency layer's savepoint.
		sp := strings.Index(script, "savepoint sp_1")
		find := strings.Index(script, "ON CONFLICT (brand_id, email) DO NOTHING")
		products := strings.Index(script[max(sp, 0):], "FROM products") + max(sp, 0)
		switch {
		case sp < 0 || find < sp:
			t.Errorf("%s does not run CustomerFindOrCreate in the order's savepoint:\n%s", name, script)
		case products < find:
			t.Errorf("%s finds the customer after reading the products, the server before", name)
		case !strings.Contains(script, email) || !strings.Contains(script, "'"+body.Customer.Name+"'"):
			t.Errorf("%s does not place the HTTP clients' customer %+v", name, *body.Customer)
		case !strings.Contains(script, `\gset cust_`) || !strings.Contains(script, ":cust_id"):
			t.Errorf("%s does not pass the customer's id to OrderCreate", name)
		}
	}
}
