package main

import (
	"fmt"
	"strings"
	"time"
)

// tracingSetting is the tracing variant's setting: every request sampled (the SDK's default,
// parent-based always-on, samples every request that comes without a traceparent too; the
// setting says it outright). The harness adds the OTLP endpoint: its own sink (otlpsink.go).
const tracingSetting = "OTEL_TRACES_SAMPLER=always_on"

// tracingOffSetting is the untraced twin of the tracing variant: the same fresh server with the
// same OTLP endpoint set, but the exporter "none", so tracing stays off (observe.SetupTracing).
// Measured just before the traced one, it is what tracing is compared with: on a shared machine,
// the scenario's own run, minutes earlier and first after start-up, is not a fair "off".
const tracingOffSetting = "OTEL_TRACES_EXPORTER=none"

// tracingOffLimit is that twin; list it just before tracingLimit.
func tracingOffLimit() Limit { return serverLimit(tracingOffSetting) }

// tracingLimit runs the scenario against a second server with tracing on at 100% sampling,
// exporting over OTLP/HTTP to the harness's sink: the same run's figures with tracing off (the
// server measured, with no OpenTelemetry variable set) and on (issue 12).
func tracingLimit() Limit { return serverLimit(tracingSetting) }

// exportsTraces reports whether a limit is a server variant that exports spans: any OpenTelemetry
// setting gets a sink to export to.
func exportsTraces(l Limit) bool { return l.Kind == "server" && strings.HasPrefix(l.Name, "OTEL_") }

// traceExport is everything a tracing variant's server exported over all its runs, counted once it
// had stopped (its shutdown flushes the last batch), against the requests it answered: the spans
// per request it gives are exact, where a run's own count may miss a batch still queued when the
// run ended or hold the previous run's last one.
type traceExport struct {
	scenario string
	setting  string
	answered int // requests answered in all the variant's runs (health checks aside)
	counts   otlpCounts
}

func newTraceExport(scenario, setting string, runs []row, c otlpCounts) traceExport {
	e := traceExport{scenario: scenario, setting: setting, counts: c}
	for _, r := range runs {
		e.answered += r.res.OK + r.res.Errors
	}
	return e
}

// tracing sets each traced scenario's runs with tracing off and on side by side.
func (r report) tracing(p func(string, ...any)) {
	// main is the scenario's own run (its limit gives the ratios); off is the untraced twin
	// when it was measured, else the scenario's own run.
	type pair struct{ main, off, on row }
	var pairs []pair
	for _, on := range r.limits {
		if on.limit.Kind != "server" || on.limit.Name != tracingSetting || on.err != nil {
			continue
		}
		for _, main := range r.runs {
			if main.name != on.scenario || main.conns != on.conns {
				continue
			}
			pr := pair{main: main, off: main, on: on}
			for _, twin := range r.limits {
				if twin.limit.Kind == "server" && twin.limit.Name == tracingOffSetting && twin.err == nil &&
					twin.scenario == on.scenario && twin.conns == on.conns {
					pr.off = twin
				}
			}
			pairs = append(pairs, pr)
		}
	}
	if len(pairs) == 0 {
		return
	}
	p("\n## Tracing\n\n")
	p("Each scenario with tracing off and on, measured one after the other on two fresh servers with the same OTLP "+
		"endpoint set: off with `%s` (tracing stays off: what a server with no OpenTelemetry variable runs; its row in "+
		"Limits), on with `%s`, exporting every span over OTLP/HTTP (protobuf, the SDK's default "+
		"batching) to a sink the harness serves on loopback, which counts the spans and discards them. on/off is the traced "+
		"server's req/s over the untraced one's, and its CPU per request over the untraced one's (on a shared machine the "+
		"steadier of the two: the runs are minutes apart); the ratios are each against the scenario's limit, as above. Spans and bytes: "+
		"what reached the sink while the run lasted.\n\n", tracingOffSetting, tracingSetting)
	p("| scenario | conns | off req/s | on req/s | on/off | off p99 | on p99 | off ratio | on ratio | server CPU/request off | on | CPU on/off | spans exported | spans/request | OTLP requests | OTLP bytes |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, pr := range pairs {
		onOff := ""
		if pr.off.res.Rate() > 0 {
			onOff = fmt.Sprintf("%.0f%%", 100*pr.on.res.Rate()/pr.off.res.Rate())
		}
		offRatio, onRatio := "", ""
		if l, ok := r.limitFor(pr.main); ok && l.err == nil && l.res.Rate() > 0 {
			limit := float64(l.limit.perRun()) * l.res.Rate()
			offRatio = fmt.Sprintf("%.0f%% of %s", 100*pr.off.res.Rate()/limit, l.name)
			onRatio = fmt.Sprintf("%.0f%%", 100*pr.on.res.Rate()/limit)
		}
		cpuOnOff := ""
		if off, on := perOK(pr.off), perOK(pr.on); off > 0 && on > 0 {
			cpuOnOff = fmt.Sprintf("%.0f%%", 100*float64(on)/float64(off))
		}
		var c otlpCounts
		if pr.on.exported != nil {
			c = *pr.on.exported
		}
		perRequest := ""
		if n := pr.on.res.OK + pr.on.res.Errors; n > 0 {
			perRequest = fmt.Sprintf("%.2f", float64(c.Spans)/float64(n))
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n",
			pr.main.name, pr.main.conns, rate(pr.off.res.Rate()), rate(pr.on.res.Rate()), onOff,
			fmtDuration(pr.off.res.Latency.P99), fmtDuration(pr.on.res.Latency.P99), offRatio, onRatio,
			fmtDuration(perOK(pr.off)), fmtDuration(perOK(pr.on)), cpuOnOff, thousands(float64(c.Spans)), perRequest, c.Requests, size(c.Bytes))
	}
	if len(r.exports) > 0 {
		p("\nIn all, counted after each traced server had stopped (its shutdown flushes the last batch):\n\n")
		for _, e := range r.exports {
			per := 0.0
			if e.answered > 0 {
				per = float64(e.counts.Spans) / float64(e.answered)
			}
			p("- %s, `%s`: %s spans in %d OTLP requests (%s) for %s requests answered, %.2f spans a request",
				e.scenario, e.setting, thousands(float64(e.counts.Spans)), e.counts.Requests, size(e.counts.Bytes), thousands(float64(e.answered)), per)
			if e.counts.Bad > 0 {
				p("; %d bodies the sink could not read", e.counts.Bad)
			}
			p("\n")
		}
	}
}

// perOK is the server's CPU time per successful answer of a run; zero when unknown.
func perOK(run row) time.Duration {
	if run.res.OK == 0 || run.use.server <= 0 {
		return 0
	}
	return run.use.server / time.Duration(run.res.OK)
}

// size formats a byte count in B, KiB or MiB.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
