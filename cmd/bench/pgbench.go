package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The pgbench scripts are templates: {{query "Name" "param" "expression" ...}} is the statement
// sqlc generated the server's code from (queries/*.sql), with each parameter replaced by a
// pgbench expression. A query the server changes is benchmarked as changed; a parameter the
// script does not bind is an error, not a silent mismatch.
//
//go:embed pgbench/*.pgbench pgbench/events/*.json
var pgbenchScripts embed.FS

// sqlcName starts a statement in sqlc's annotated files: `-- name: SessionRotate :one`.
var sqlcName = regexp.MustCompile(`^--\s*name:\s*(\w+)\s+:\w+`)

// loadQueries reads every named statement of dir/*.sql and dir/*/*.sql (queries/stock and
// queries/orders generate packages of their own: sqlc.yaml), without comment lines or the final
// semicolon.
func loadQueries(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	nested, err := filepath.Glob(filepath.Join(dir, "*", "*.sql"))
	if err != nil {
		return nil, err
	}
	files = append(files, nested...)
	if len(files) == 0 {
		return nil, fmt.Errorf("no queries in %s (run from the repository root, or pass --queries)", dir)
	}
	queries := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var name string
		var body []string
		flush := func() {
			if name != "" {
				queries[name] = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := sqlcName.FindStringSubmatch(line); m != nil {
				flush()
				name, body = m[1], nil
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			body = append(body, line)
		}
		flush()
	}
	return queries, nil
}

// sqlcParam is a parameter as sqlc writes it: @name, sqlc.arg(name) or sqlc.narg(name), the name
// quoted or not.
var sqlcParam = regexp.MustCompile(`sqlc\.n?arg\('?(\w+)'?\)|@(\w+)`)

// sqlcEmbed is sqlc.embed(alias): all the columns of one table of the join.
var sqlcEmbed = regexp.MustCompile(`sqlc\.embed\((\w+)\)`)

// bindQuery is the template's query function.
func bindQuery(queries map[string]string) func(name string, pairs ...string) (string, error) {
	return func(name string, pairs ...string) (string, error) {
		q, ok := queries[name]
		if !ok {
			return "", fmt.Errorf("no query %s in queries/", name)
		}
		if len(pairs)%2 != 0 {
			return "", fmt.Errorf("query %s: parameters come in name, expression pairs", name)
		}
		bind := map[string]string{}
		for i := 0; i < len(pairs); i += 2 {
			bind[pairs[i]] = pairs[i+1]
		}
		var missing []string
		used := map[string]bool{}
		q = sqlcEmbed.ReplaceAllString(q, "$1.*")
		q = sqlcParam.ReplaceAllStringFunc(q, func(m string) string {
			sub := sqlcParam.FindStringSubmatch(m)
			p := sub[1] + sub[2]
			expr, ok := bind[p]
			if !ok {
				missing = append(missing, p)
				return m
			}
			used[p] = true
			return expr
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("query %s: no expression for %s", name, strings.Join(missing, ", "))
		}
		for p := range bind {
			if !used[p] {
				return "", fmt.Errorf("query %s has no parameter %s", name, p)
			}
		}
		return q, nil
	}
}

// bindEvents is the scripts' {{events "brand expression" "type" ...}}: the outbox statement
// (EventInsert) a change runs for its events (server/events: one statement for all of a
// transaction's), each event's data a sample the server wrote for that type
// (pgbench/events/<type>.json, as large as the real ones), its ids new on every run. The data travel
// base64-encoded: a timestamp's colons would read as pgbench variables.
func bindEvents(query func(string, ...string) (string, error)) func(brand string, types ...string) (string, error) {
	return func(brand string, types ...string) (string, error) {
		if len(types) == 0 {
			return "", errors.New("events: no event types")
		}
		objs := make([]string, len(types))
		for i, typ := range types {
			data, err := pgbenchScripts.ReadFile("pgbench/events/" + typ + ".json")
			if err != nil {
				return "", fmt.Errorf("events: no sample for %s: %w", typ, err)
			}
			aggregate, _, _ := strings.Cut(typ, ".")
			objs[i] = fmt.Sprintf("jsonb_build_object('id', gen_random_uuid(), 'type', '%s', 'aggregateType', '%s', "+
				"'aggregateId', gen_random_uuid(), 'aggregateVersion', 1, 'data', convert_from(decode('%s', 'base64'), 'UTF8')::jsonb)",
				typ, aggregate, base64.StdEncoding.EncodeToString(bytes.TrimSpace(data)))
		}
		return query("EventInsert", "brand_id", brand, "occurred_at", "now()",
			"events", "jsonb_build_array(\n    "+strings.Join(objs, ",\n    ")+")")
	}
}

// renderScript writes pgbench/<name>.pgbench with the queries bound.
func renderScript(name string, queries map[string]string) (string, error) {
	src, err := pgbenchScripts.ReadFile("pgbench/" + name + ".pgbench")
	if err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", name, err)
	}
	query := bindQuery(queries)
	t, err := template.New(name).Option("missingkey=error").
		Funcs(template.FuncMap{"query": query, "events": bindEvents(query)}).Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, nil); err != nil {
		return "", fmt.Errorf("pgbench script %s: %w", name, err)
	}
	return out.String(), nil
}

// pgbenchRun is one pgbench run.
type pgbenchRun struct {
	bin      string // the pgbench binary
	dbURL    string
	appRole  string
	script   string // rendered
	vars     map[string]string
	clients  int
	duration time.Duration
	dir      string // for the script and the transaction logs
}

// run runs pgbench and reads its transaction log back into a load.Result, so that its figures
// sit in the same table as the HTTP ones. It also returns the CPU pgbench itself used.
func (p pgbenchRun) run(ctx context.Context) (load.Result, time.Duration, error) {
	dir, err := os.MkdirTemp(p.dir, "pgbench-")
	if err != nil {
		return load.Result{}, 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	script := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(script, []byte(p.script), 0o600); err != nil {
		return load.Result{}, 0, err
	}
	threads := min(p.clients, 2)
	args := []string{
		"--no-vacuum", "--protocol=prepared",
		"--client=" + strconv.Itoa(p.clients), "--jobs=" + strconv.Itoa(threads),
		"--time=" + strconv.Itoa(max(1, int(p.duration.Round(time.Second).Seconds()))),
		"--file=" + script,
		"--log", "--log-prefix=" + filepath.Join(dir, "tx"),
	}
	for k, v := range p.vars {
		args = append(args, "--define="+k+"="+v)
	}
	args = append(args, p.dbURL)
	cmd := exec.CommandContext(ctx, p.bin, args...)
	// Statements run as the application role, exactly as the server's do: row-level security
	// and grants cost the same here.
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c role="+p.appRole)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return load.Result{}, 0, fmt.Errorf("pgbench: %w\n%s", err, lastLines(out, 15))
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res, err := readPgbenchLogs(dir)
	if err != nil {
		return load.Result{}, 0, err
	}
	res.Connections = p.clients
	return res, cpu, nil
}

// readPgbenchLogs reads the per-transaction logs (tx.<pid>[.<thread>]): each line is
// `client transaction latency_us script epoch_s epoch_us`, or `failed` in place of the latency.
//
// The rate counts from the moment every client has ended its first transaction: each pgbench
// run starts new backends, whose first statements are planned with cold catalog caches (a search
// planned in 3 ms there against 0.8 ms warm, 2026-12-07), while the server it is compared with
// runs on a warm pool. In a 2-second paired slice of 64 clients that start-up is a few percent
// of the cores' time. OK counts the transactions that ended after it (CPU per transaction is over
// those); the latencies are every transaction's.
func readPgbenchLogs(dir string) (load.Result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil || len(files) == 0 {
		return load.Result{}, errors.New("pgbench wrote no transaction log")
	}
	var (
		res         = load.Result{ErrorKinds: map[string]int{}}
		latencies   []time.Duration
		ends        []time.Time
		first, last time.Time
		warm        = map[string]time.Time{} // each client's first transaction's end
	)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return load.Result{}, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 6 {
				continue
			}
			sec, err1 := strconv.ParseInt(fields[4], 10, 64)
			usec, err2 := strconv.ParseInt(fields[5], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			end := time.Unix(sec, usec*1000)
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				res.Errors++
				res.ErrorKinds["pgbench "+fields[2]]++
				continue
			}
			d := time.Duration(us) * time.Microsecond
			latencies = append(latencies, d)
			ends = append(ends, end)
			if begin := end.Add(-d); first.IsZero() || begin.Before(first) {
				first = begin
			}
			if end.After(last) {
				last = end
			}
			if w, ok := warm[fields[0]]; !ok || end.Before(w) {
				warm[fields[0]] = end
			}
		}
		_ = fh.Close()
		if err := sc.Err(); err != nil {
			return load.Result{}, err
		}
	}
	var from time.Time
	for _, w := range warm {
		if w.After(from) {
			from = w
		}
	}
	res.OK, res.Elapsed = len(ends), last.Sub(first)
	// A window shorter than half the run (a run too short for every client to answer a few
	// times) would measure a handful of transactions: the whole run is the better figure then.
	if last.After(from) && last.Sub(from) >= res.Elapsed/2 {
		n := 0
		for _, end := range ends {
			if end.After(from) {
				n++
			}
		}
		res.OK, res.Elapsed = n, last.Sub(from)
	}
	res.Latency = load.Summarize(latencies)
	return res, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
