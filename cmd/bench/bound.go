package main

import (
	"fmt"
	"time"

	"github.com/ecompointer/ecompointer/server/baseline"
)

// The edge's bound (issue 18): how close to pgbench any server behind this edge could come on
// this machine. The server, PostgreSQL and the load generator share its cores, and at these
// connection counts each side keeps them busy: a request costs the machine the time the edge
// takes to carry it (the verify baseline: router, outer middleware, token verification and a
// fixed answer, the load generator's side included) plus the time its SQL takes (pgbench, its
// client included). A server whose handler cost nothing at all would answer at
// 1 / (1/baseline + 1/pgbench); that, over pgbench, is the highest ratio the scenario's target
// could be measured at. The model leaves out that the baseline's answer is profile-sized (a
// page of products is larger) and that pgbench's client is cheaper than an HTTP one, so the true
// bound is lower still.
//
// Beside it, what bounds the other two targets of the reads: each one's tail (p99 over p50) with
// the baseline's and pgbench's, which neither a server nor its SQL alone can better on the same
// cores; and the server's CPU per request with the part of it the edge alone costs (the
// baseline's) and PostgreSQL's.

// edgeBaseline is the baseline the bound adds to pgbench.
var edgeBaseline = baselineLimit(baseline.Verify)

// bound is one scenario's row of the section.
type bound struct {
	run, edgeRow, dbRow row
	edge, db, bound     float64 // requests per second
	ofDB, ofBound       float64 // bound over pgbench; the scenario over the bound
}

// bounds are the scenario rows whose ratio is against pgbench and that have the edge baseline at
// their connections too (GET /auth/profile, against a baseline, has none).
func (r report) bounds() []bound {
	var out []bound
	for _, run := range r.runs {
		db, ok := r.limitFor(run)
		if !ok || db.limit.Kind != "pgbench" || db.limit.Pool || db.err != nil || db.res.Rate() <= 0 {
			continue
		}
		var edge *row
		for i, l := range r.limits {
			if l.scenario == run.name && l.limit == edgeBaseline && l.conns == run.conns && l.err == nil && l.res.Rate() > 0 {
				edge = &r.limits[i]
			}
		}
		if edge == nil {
			continue
		}
		e, d := edge.res.Rate(), float64(db.limit.perRun())*db.res.Rate()
		b := 1 / (1/e + 1/d)
		out = append(out, bound{run: run, edgeRow: *edge, dbRow: db, edge: e, db: d, bound: b, ofDB: b / d, ofBound: run.res.Rate() / b})
	}
	return out
}

// tailRatio is p99 over p50, the tail's target (≤ 2).
func tailRatio(r row) string {
	if r.res.Latency.P50 <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f×", float64(r.res.Latency.P99)/float64(r.res.Latency.P50))
}

// perRequest is a CPU time over a row's answers (over its transactions for pgbench); empty when
// either is none. The CPU tables of the report and of the bound both write it.
func perRequest(r row, d time.Duration) string {
	if r.res.OK == 0 || d <= 0 {
		return ""
	}
	return fmtDuration(d / time.Duration(r.res.OK))
}

// boundSection is the table of the bounds.
func (r report) boundSection(p func(string, ...any)) {
	bs := r.bounds()
	if len(bs) == 0 {
		return
	}
	p("\n## The edge's bound\n\n")
	p("The server, PostgreSQL and the load generator share the machine's cores. A request costs the machine what the edge " +
		"takes to carry it (the verify baseline: router, outer middleware, token verification, a fixed answer, the load " +
		"generator's side included) plus what its SQL takes (pgbench, its client included); a server whose handler cost " +
		"nothing would answer at 1 / (1/baseline + 1/pgbench). *Bound / pgbench* is the highest ratio to pgbench any " +
		"server behind this edge could show here; *of the bound* is how much of it the server reaches. The baseline's " +
		"answer is profile-sized, so for larger answers the real bound is lower still.\n\n")
	p("| scenario | conns | req/s | verify baseline | pgbench | bound | bound / pgbench | of the bound |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, b := range bs {
		p("| %s | %d | %s | %s/s | %s/s | %s/s | %.0f%% | **%.0f%%** |\n", b.run.name, b.run.conns, rate(b.run.res.Rate()),
			rate(b.edge), rate(b.db), rate(b.bound), 100*b.ofDB, 100*b.ofBound)
	}
	p("\nThe same runs' tails (p99 over p50; the target is 2× or less) and CPU per request: the server's, the part of " +
		"it the edge alone costs (the verify baseline's server CPU per request) and PostgreSQL's, in the scenario's run " +
		"and in pgbench's (per transaction).\n\n")
	p("| scenario | conns | p99 / p50: server | verify baseline | pgbench | CPU per request: server | of it the edge | PostgreSQL | PostgreSQL under pgbench |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, b := range bs {
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", b.run.name, b.run.conns, tailRatio(b.run), tailRatio(b.edgeRow), tailRatio(b.dbRow),
			perRequest(b.run, b.run.use.server), perRequest(b.edgeRow, b.edgeRow.use.server), perRequest(b.run, b.run.use.pg),
			perRequest(b.dbRow, b.dbRow.use.pg))
	}
}
