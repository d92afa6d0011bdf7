package main

import (
	"bufio"
	"cmp"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// report is a run's results as markdown.
type report struct {
	when      time.Time
	o         options
	machine   string
	scenarios []Scenario
	runs      []row
	pairs     []pairing
	limits    []row
	checks    []stockCheck
	exports   []traceExport
	prev      *previousRun // the previous full run's table; nil: none to compare with
}

func (r report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mode := ""
	if r.o.quick {
		mode = " (quick mode: short runs, small seed; for keeping the harness working, not for figures)"
	}
	p("# Load harness: %s%s\n\n", r.when.UTC().Format("2006-01-02 15:04 MST"), mode)
	p("Machine: %s.\n\n", r.machine)
	p("Run: %s per run at %s connections; %s users with a live session each, %d brands of %s products; BCRYPT_COST=%d. "+
		"The server, the baselines, PostgreSQL, pgbench and the load generator share the machine's cores.\n\n",
		r.o.duration, joinInts(r.o.conns, "/"), thousands(float64(r.o.users)), r.o.brands, thousands(float64(r.o.products)), r.o.bcryptCost)

	p("## Scenarios\n\n")
	p("req/s counts successful answers; errors, everything else. The ratio is req/s over the limit's rate at the same connections.\n\n")
	prevHead, prevAlign := "", ""
	if r.prev != nil {
		p("The previous columns are the same row of the previous full run (%s, below).\n\n", r.prev.title)
		prevHead, prevAlign = " previous req/s | previous ratio |", "--:|--:|"
	}
	p("| scenario | conns | req/s | p50 | p90 | p99 | errors | server CPU | peak RSS | limit | ratio |%s\n", prevHead)
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|%s\n", prevAlign)
	var fell []string
	for _, run := range r.runs {
		limitCell, ratioCell := "", ""
		ratio, hasRatio := 0.0, false
		if l, ok := r.limitFor(run); ok {
			// A script that stands for several requests (a reservation and its release) is
			// compared in requests: its transactions per second times that many.
			per := float64(l.limit.perRun())
			limitCell = fmt.Sprintf("%s/s %s", rate(per*l.res.Rate()), l.name)
			if per > 1 {
				limitCell += fmt.Sprintf(" (%d requests a transaction)", l.limit.perRun())
			}
			if l.wanted != 0 {
				limitCell += fmt.Sprintf(" (%d clients)", l.conns)
			}
			if l.err != nil {
				limitCell = l.name + ": not measured"
			} else if l.res.Rate() > 0 {
				ratio, hasRatio = run.res.Rate()/(per*l.res.Rate()), true
				ratioCell = fmt.Sprintf("%.0f%%", 100*ratio)
			}
		}
		prevCells := ""
		if r.prev != nil {
			var fallen string
			prevCells, fallen = r.againstPrevious(run, ratio, hasRatio, ratioCell)
			if fallen != "" {
				fell = append(fell, fallen)
			}
		}
		p("| %s | %d | %s | %s | %s | %s | %d | %s | %s | %s | %s |%s\n",
			run.name, run.conns, rate(run.res.Rate()), fmtDuration(run.res.Latency.P50), fmtDuration(run.res.Latency.P90),
			fmtDuration(run.res.Latency.P99), run.res.Errors, seconds(run.use.server), mib(run.use.peakRSS), limitCell, ratioCell, prevCells)
	}
	if r.prev != nil {
		p("\n## Against the previous run\n\n")
		p("Compared with `%s` (%s). A row counts as fallen when its ratio to its limit is more than %.0f%% below the previous one's "+
			"(a ratio to a limit measured in the same run carries from one machine to another), or, for a row without a ratio, its req/s "+
			"(comparable only on the same machine).\n\n", r.prev.file, r.prev.title, 100*fallBy)
		if r.prev.host != hostOf(r.machine) {
			p("The previous run was on another machine (%s): rows without a ratio are not compared.\n\n", cmp.Or(r.prev.host, "not stated"))
		}
		if len(fell) == 0 {
			p("No row fell.\n")
		} else {
			p("%s\n", strings.Join(fell, "\n"))
		}
	}

	r.noisyNeighbour(p)
	r.tracing(p)
	r.webhookSection(p)
	r.pairSection(p)
	r.boundSection(p)

	if len(r.limits) > 0 {
		p("\n## Limits\n\n")
		p("Baselines: the scenario's own requests to `bench baseline-server`, the real router and middleware " +
			"answering a fixed body (bare: router, request id, access log, panic handler; verify: + the token's verification; " +
			"session: + the whole contract middleware, session lookup included). pgbench: the scenario's SQL " +
			"(from queries/*.sql) with `-M prepared`, as the application role, its clients capped by PostgreSQL's free connections. " +
			"bcrypt: verifications per second on every core at the configured cost.\n\n")
		p("| limit | for | conns | rate | p50 | p90 | p99 | errors | CPU | peak RSS |\n")
		p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, l := range r.limits {
			conns := strconv.Itoa(l.conns)
			if l.wanted != 0 {
				conns = fmt.Sprintf("%d (of %d)", l.conns, l.wanted)
			}
			if l.limit.Kind == "bcrypt" {
				conns += " cores"
			}
			if l.err != nil {
				p("| %s | %s | %s | not measured: %s | | | | | | |\n", l.name, l.scenario, conns, oneLine(l.err.Error()))
				continue
			}
			cpu, rss := seconds(l.use.server), mib(l.use.peakRSS)
			switch l.limit.Kind {
			case "pgbench":
				cpu = seconds(l.use.pg) + " PostgreSQL"
			case "bcrypt":
				cpu = seconds(l.use.self)
			}
			p("| %s | %s | %s | %s/s | %s | %s | %s | %d | %s | %s |\n", l.name, l.scenario, conns, rate(l.res.Rate()),
				fmtDuration(l.res.Latency.P50), fmtDuration(l.res.Latency.P90), fmtDuration(l.res.Latency.P99), l.res.Errors, cpu, rss)
		}
	}

	p("\n## CPU per request\n\n")
	p("CPU time per successful answer (per transaction for pgbench, per hash for bcrypt) of the server measured, " +
		"of PostgreSQL's backends serving the bench database, and of the load generator (this harness, or pgbench). " +
		"Other: what the rest of the machine used meanwhile, in percent of all its cores: on a shared machine, " +
		"a run with much other load is noise.\n\n")
	p("| run | conns | server | PostgreSQL | load generator | other |\n")
	p("|---|--:|--:|--:|--:|--:|\n")
	for _, run := range append(append([]row(nil), r.runs...), r.limits...) {
		if run.err != nil || run.res.OK == 0 {
			continue
		}
		per := func(d time.Duration) string { return perRequest(run, d) }
		server, generator := per(run.use.server), per(run.use.self)
		if run.limit.Kind == "bcrypt" {
			server, generator = per(run.use.self), "" // the hashing is the harness's own work
		}
		other := run.use.machine - run.use.server - run.use.pg - run.use.self
		capacity := run.res.Elapsed.Seconds() * float64(runtime.NumCPU())
		p("| %s | %d | %s | %s | %s | %.0f%% |\n", run.name, run.conns, server, per(run.use.pg), generator,
			max(0, 100*other.Seconds()/capacity))
	}

	if len(r.checks) > 0 {
		p("\n## Stock invariants\n\n")
		p("After every run of an inventory or order scenario or its limit: the holds the run left (clients stopped between a " +
			"reservation and its release) are released by the server's sweeper, then every level is checked: " +
			"0 ≤ reserved ≤ onHand (no oversell), reserved = what live reservations and open orders hold, and the ledger's movements " +
			"sum to onHand and reserved (LedgerMismatches). Any failure fails the harness.\n\n")
		p("| run | conns | holds left, released | levels | oversold | reserved ≠ holds | ledger ≠ level | result |\n")
		p("|---|--:|--:|--:|--:|--:|--:|---|\n")
		for _, c := range r.checks {
			result := "ok"
			if c.err != nil {
				result = "not checked: " + oneLine(c.err.Error())
			} else if !c.ok() {
				result = "**BROKEN**"
			}
			p("| %s | %d | %d | %d | %d | %d | %d | %s |\n", c.run, c.conns, c.released, c.levels, c.oversold, c.misheld, c.mismatched, result)
		}
	}

	var refusals []string
	for _, run := range r.runs {
		if run.res.Refused > 0 {
			refusals = append(refusals, fmt.Sprintf("- %s at %d connections: %d × HTTP 422 insufficient_stock", run.name, run.conns, run.res.Refused))
		}
	}
	if len(refusals) > 0 {
		p("\n## Expected refusals\n\nAnswers the scenario allows (not enough stock left), counted neither as served nor as errors.\n\n%s\n",
			strings.Join(refusals, "\n"))
	}

	var errs []string
	for _, run := range append(append([]row(nil), r.runs...), r.limits...) {
		if len(run.res.ErrorKinds) == 0 {
			continue
		}
		kinds := make([]string, 0, len(run.res.ErrorKinds))
		for k, v := range run.res.ErrorKinds {
			kinds = append(kinds, fmt.Sprintf("%d × %s", v, oneLine(k)))
		}
		sort.Strings(kinds)
		errs = append(errs, fmt.Sprintf("- %s at %d connections: %s", run.name, run.conns, strings.Join(kinds, "; ")))
	}
	if len(errs) > 0 {
		p("\n## Errors\n\n%s\n", strings.Join(errs, "\n"))
	}
	return b.String()
}

// againstPrevious is run's previous-run cells, and the line naming it when it fell (previousRow.fell;
// "" when it did not). ratio, hasRatio and ratioCell are run's own.
func (r report) againstPrevious(run row, ratio float64, hasRatio bool, ratioCell string) (cells, fallen string) {
	pr, ok := r.prev.rows[runKey{run.name, run.conns}]
	if !ok {
		return "  |  |", ""
	}
	prevRatio := ""
	if pr.ok {
		prevRatio = fmt.Sprintf("%.0f%%", 100*pr.ratio)
	}
	cells = fmt.Sprintf(" %s | %s |", rate(pr.rate), prevRatio)
	if pr.fell(run.res.Rate(), ratio, hasRatio, r.prev.host == hostOf(r.machine)) {
		was, now := rate(pr.rate)+"/s", rate(run.res.Rate())+"/s"
		if hasRatio && pr.ok {
			was, now = prevRatio, ratioCell
		}
		fallen = fmt.Sprintf("- %s at %d connections: %s → %s", run.name, run.conns, was, now)
	}
	return cells, fallen
}

// noisyNeighbour sets brand 2's figures while brand 1 floods search beside its figures alone,
// at each number of connections (each side has that many clients).
func (r report) noisyNeighbour(p func(string, ...any)) {
	quiet := map[int]row{}
	var noisy []row
	for _, run := range r.runs {
		switch {
		case run.name == quietName:
			quiet[run.conns] = run
		case run.name == noisyName && run.noise != nil:
			noisy = append(noisy, run)
		}
	}
	if len(noisy) == 0 {
		return
	}
	p("\n## Noisy neighbour\n\n")
	p("Brand 2's owners read (a product by id, the first page of the list), alone and then while as many clients of brand 1 "+
		"flood search (`q` of %s, in turn). Brand 1's answers: what the server did with the flood "+
		"(400: a search the trigram index cannot serve; 503: brand 1 over its share of the pool).\n\n",
		floodTermsText())
	p("| conns | brand 2 alone p50 | p99 | req/s | brand 2 flooded p50 | p99 | req/s | errors | brand 1's answers |\n")
	p("|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, run := range noisy {
		q, ok := quiet[run.conns]
		qp50, qp99, qrate := "–", "–", "–"
		if ok {
			qp50, qp99, qrate = fmtDuration(q.res.Latency.P50), fmtDuration(q.res.Latency.P99), rate(q.res.Rate())
		}
		answers := []string{fmt.Sprintf("%d × 200", run.noise.OK)}
		for k, v := range run.noise.ErrorKinds {
			answers = append(answers, fmt.Sprintf("%d × %s", v, oneLine(k)))
		}
		sort.Strings(answers[1:])
		p("| %d | %s | %s | %s | %s | %s | %s | %d | %s |\n", run.conns, qp50, qp99, qrate,
			fmtDuration(run.res.Latency.P50), fmtDuration(run.res.Latency.P99), rate(run.res.Rate()), run.res.Errors,
			strings.Join(answers, ", "))
	}
}

func floodTermsText() string {
	shown := make([]string, len(floodTerms))
	for i, t := range floodTerms {
		if u, err := url.QueryUnescape(t); err == nil {
			t = u
		}
		shown[i] = "`" + t + "`"
	}
	return strings.Join(shown, ", ")
}

// limitFor is the limit a scenario run is divided by: the scenario's first limit, at the same
// connections (bcrypt: at any; a scenario: its run, same run, same connections).
func (r report) limitFor(run row) (row, bool) {
	var first Limit
	for _, sc := range r.scenarios {
		if sc.Name == run.name && len(sc.Limits) > 0 {
			first = sc.Limits[0]
		}
	}
	if first.Kind == "scenario" {
		for _, other := range r.runs {
			if other.name == first.Name && other.conns == run.conns {
				other.name, other.scenario, other.limit = first.String(), run.name, first
				return other, true
			}
		}
		return row{}, false
	}
	for _, l := range r.limits {
		if l.scenario == run.name && l.limit == first && (l.limit.Kind == "bcrypt" || l.conns == run.conns || l.wanted == run.conns) {
			return l, true
		}
	}
	return row{}, false
}

// describeMachine says what the figures were measured on.
func describeMachine(pgVersion string) string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem, huge := "", "no huge pages"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		meminfo := map[string]float64{}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				if v, err := strconv.ParseFloat(f[1], 64); err == nil {
					meminfo[strings.TrimSuffix(f[0], ":")] = v
				}
			}
		}
		if kb, ok := meminfo["MemTotal"]; ok {
			mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
		}
		// PostgreSQL's shared memory in huge pages or not decides how a host whose page faults are
		// dear (a nested virtual machine) holds up under many backends (bench/README, "Huge pages").
		if total := meminfo["HugePages_Total"]; total > 0 {
			huge = fmt.Sprintf("huge pages: %.0f of %.0f mapped", total-meminfo["HugePages_Free"]+meminfo["HugePages_Rsvd"], total)
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	loadavg, _ := os.ReadFile("/proc/loadavg")
	load1, _, _ := strings.Cut(string(loadavg), " ")
	return fmt.Sprintf("%s, %d cores%s; Linux %s; %s; PostgreSQL %s (%s); load average %s at the start",
		model, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)), runtime.Version(), pgVersion, huge, load1)
}

// rate formats a rate: whole numbers with thousands separators, one decimal below 100.
func rate(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return thousands(v)
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtDuration is a latency in the unit that suits it: µs, ms or s, three significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func seconds(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mib(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
