package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// Paired runs: a feature's cost (order amounts, issue 21; a subscribed webhook endpoint, issue
// 19) measured against the scenario without it by alternating the two in short slices at the
// same connections on the same server. Two runs one after the other differ by whatever else the
// shared machine did meanwhile (order amounts, nearly order create's own work, came out at 93% to
// 136% of it in single runs); slices a few seconds apart, in the order control, scenario,
// scenario, control, ... share that drift, and the ratio of their sums cancels most of it.
//
// A read's target is a ratio to pgbench (issue 18), and its single runs drift the same way (the
// rare search: 62% to 90% of pgbench for one binary, depending on what ran before it on the same
// server); a scenario with PairLimit alternates with its pgbench limit the same way, the server
// idle during pgbench's slices and pgbench gone during the server's.

// pairRounds is how many slices of each side a paired run has (quick: pairRoundsQuick).
const (
	pairRounds      = 6
	pairRoundsQuick = 2
)

// pairing is one paired run: per round, what the control's slice and the scenario's got.
type pairing struct {
	name, control string
	conns         int
	slice         time.Duration
	self, base    []load.Result
	// per is how many of the scenario's requests one of the control's answers stands for (a
	// pgbench transaction: Limit.Requests); zero means one.
	per int
}

// controlRate is the control's rate in the scenario's requests per second, summed over rs.
func (p pairing) controlRate(rs ...load.Result) float64 { return float64(max(1, p.per)) * sumRate(rs) }

// ratio is the scenario's rate over the control's, each summed over its slices.
func (p pairing) ratio() float64 {
	c, s := p.controlRate(p.base...), sumRate(p.self)
	if c == 0 {
		return 0
	}
	return s / c
}

// spread is the lowest and highest ratio of one round's two slices.
func (p pairing) spread() (lo, hi float64) {
	for i := range p.self {
		c := p.controlRate(p.base[i])
		if c == 0 {
			continue
		}
		r := p.self[i].Rate() / c
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return lo, hi
}

func sumRate(rs []load.Result) float64 {
	var ok int
	var elapsed time.Duration
	for _, r := range rs {
		ok += r.OK
		elapsed += r.Elapsed
	}
	if elapsed <= 0 {
		return 0
	}
	return float64(ok) / elapsed.Seconds()
}

func errorsOf(rs []load.Result) int {
	n := 0
	for _, r := range rs {
		n += r.Errors
	}
	return n
}

// runPairs runs every selected scenario that names a PairWith against that control on target,
// and every one with PairLimit against its pgbench limit (with limits measured), at each of its
// numbers of connections.
func (h *harness) runPairs(ctx context.Context, target *process, selected []Scenario) ([]pairing, error) {
	rounds := pairRounds
	if h.o.quick {
		rounds = pairRoundsQuick
	}
	// Each side gets the time of one run, in rounds slices (at least a second, the load
	// generator's resolution, and whole seconds for pgbench, whose --time counts them).
	slice := max(time.Second, h.o.duration/time.Duration(rounds))
	var out []pairing
	for _, sc := range selected {
		var (
			control string
			per     int
			// against makes the control's slice at n connections; stock: a side writes stock.
			against func(n int) (func() (load.Result, error), error)
			stock   = sc.Stock
			d       = slice
		)
		switch {
		case sc.PairWith != "":
			ctl, ok := scenarioNamed(sc.PairWith)
			if !ok {
				return nil, fmt.Errorf("%s: paired with %q, which is no scenario", sc.Name, sc.PairWith)
			}
			control, stock = ctl.Name, stock || ctl.Stock
			against = func(n int) (func() (load.Result, error), error) {
				return func() (load.Result, error) { return h.slice(ctx, target, ctl, n, d) }, nil
			}
		case sc.PairLimit && h.o.limits:
			if len(sc.Limits) == 0 || sc.Limits[0].Kind != "pgbench" {
				return nil, fmt.Errorf("%s: paired with its limit, but its first limit is no pgbench script", sc.Name)
			}
			l := sc.Limits[0]
			control, per, d = l.String(), l.perRun(), max(time.Second, slice.Round(time.Second))
			against = func(n int) (func() (load.Result, error), error) {
				clients, err := h.pgbenchClients(ctx, l, n)
				if err != nil {
					return nil, err
				}
				run := h.pgbenchFor(l, clients, d)
				return func() (load.Result, error) {
					res, _, err := run.run(ctx)
					return res, err
				}, nil
			}
		default:
			continue
		}
		for _, n := range h.o.capped(sc.connsOr(h.o.conns)) {
			if err := h.settle(ctx); err != nil {
				return nil, err
			}
			ctlSlice, err := against(n)
			if err != nil {
				return nil, fmt.Errorf("%s paired at %d connections: %w", sc.Name, n, err)
			}
			ownSlice := func() (load.Result, error) { return h.slice(ctx, target, sc, n, d) }
			p := pairing{name: sc.Name, control: control, conns: n, slice: d, per: per}
			for i := range rounds {
				// control, scenario; then scenario, control: a drift within a round is shared.
				first, second := ctlSlice, ownSlice
				if i%2 == 1 {
					first, second = second, first
				}
				a, err := first()
				if err != nil {
					return nil, fmt.Errorf("%s paired at %d connections: %w", sc.Name, n, err)
				}
				b, err := second()
				if err != nil {
					return nil, fmt.Errorf("%s paired at %d connections: %w", sc.Name, n, err)
				}
				if i%2 == 1 {
					a, b = b, a
				}
				p.base, p.self = append(p.base, a), append(p.self, b)
			}
			h.logf("%-44s %4d conns  paired with %s: %.0f%%", sc.Name, n, control, 100*p.ratio())
			if stock {
				h.checkStock(ctx, sc.Name+" paired", n)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// slice is one side of a round: sc's clients for d, within its Setup and After (the webhook
// scenario's endpoint exists during its own slices only, and its deliveries have come before
// the next slice starts).
func (h *harness) slice(ctx context.Context, target *process, sc Scenario, conns int, d time.Duration) (load.Result, error) {
	if sc.Setup != nil {
		if err := sc.Setup(ctx, h); err != nil {
			return load.Result{}, fmt.Errorf("setup: %w", err)
		}
	}
	res, err := h.drive(ctx, target, sc, conns, d)
	if err != nil {
		return res, err
	}
	if sc.After != nil {
		r := row{conns: conns, res: res}
		if err := sc.After(ctx, h, &r); err != nil {
			return res, fmt.Errorf("after: %w", err)
		}
		if r.deliveries != nil && r.deliveries.delivered != r.deliveries.orders {
			return res, fmt.Errorf("%d of %d orders' events delivered", r.deliveries.delivered, r.deliveries.orders)
		}
	}
	return res, nil
}

func scenarioNamed(name string) (Scenario, bool) {
	for _, sc := range scenarios {
		if sc.Name == name {
			return sc, true
		}
	}
	return Scenario{}, false
}

// pairSection is the table of the paired runs.
func (r report) pairSection(p func(string, ...any)) {
	if len(r.pairs) == 0 {
		return
	}
	p("\n## Paired runs\n\n")
	p("A scenario against its control at the same connections, in alternating slices (control, scenario, scenario, " +
		"control, ...): the ratio is the scenario's successful answers per second over the control's, each summed over its " +
		"slices, so the machine's drift during the pair weighs on both. The control is another scenario on the same server, or " +
		"the scenario's pgbench limit (its rate in the scenario's requests; the server idles during its slices). Beside it, the " +
		"lowest and highest ratio of one round.\n\n")
	p("| scenario | against | conns | slices | control req/s | scenario req/s | ratio | round ratios | errors |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range r.pairs {
		lo, hi := x.spread()
		p("| %s | %s | %d | %d × %s each | %s | %s | **%.0f%%** | %.0f-%.0f%% | %d |\n", x.name, x.control, x.conns, len(x.self),
			fmtDuration(x.slice), rate(x.controlRate(x.base...)), rate(sumRate(x.self)), 100*x.ratio(), 100*lo, 100*hi, errorsOf(x.self)+errorsOf(x.base))
	}
}
