package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The bound adds the machine time of the edge and of the SQL: an edge of 20,000/s and SQL of
// 20,000/s leave 10,000/s, half of pgbench, whatever the server's handler does; a scenario row
// without both limits at its connections gets none.
func TestEdgeBound(t *testing.T) {
	t.Parallel()
	perSecond := func(n int) load.Result {
		return load.Result{OK: n, Elapsed: time.Second, Latency: load.Summary{P50: 2 * time.Millisecond, P99: 5 * time.Millisecond}}
	}
	cpu := func(server, pg time.Duration) spent { return spent{server: server, pg: pg} }
	get := "GET /brands/{brandId}/products/{productId}"
	db := pgbenchLimit("product_get")
	r := report{
		scenarios: []Scenario{{Name: get, Limits: []Limit{db, edgeBaseline}}},
		runs: []row{
			{name: get, conns: 64, res: perSecond(8000), use: cpu(800*time.Millisecond, 400*time.Millisecond)},
			{name: get, conns: 16, res: perSecond(7000)},
		},
		limits: []row{
			{name: edgeBaseline.String(), scenario: get, limit: edgeBaseline, conns: 64, res: perSecond(20000), use: cpu(600*time.Millisecond, 0)},
			{name: db.String(), scenario: get, limit: db, conns: 64, res: perSecond(20000), use: cpu(0, time.Second)},
			{name: db.String(), scenario: get, limit: db, conns: 16, res: perSecond(20000)},
		},
	}
	bs := r.bounds()
	if len(bs) != 1 || bs[0].run.conns != 64 {
		t.Fatalf("bounds = %+v, want the 64-connection row only", bs)
	}
	if b := bs[0]; math.Abs(b.bound-10000) > 1e-6 || math.Abs(b.ofDB-0.5) > 1e-9 || math.Abs(b.ofBound-0.8) > 1e-9 {
		t.Errorf("bound %v (%v of pgbench), scenario at %v of it; want 10,000, 50%%, 80%%", b.bound, b.ofDB, b.ofBound)
	}
	var out strings.Builder
	r.boundSection(func(f string, a ...any) { fmt.Fprintf(&out, f, a...) })
	for _, want := range []string{
		"| " + get + " | 64 | 8,000 | 20,000/s | 20,000/s | 10,000/s | 50% | **80%** |",
		// Tails 5/2 ms; CPU: the server's 800 ms over 8,000 answers, the edge's 600 ms over 20,000,
		// PostgreSQL's 400 ms over 8,000 and 1 s over pgbench's 20,000.
		"| " + get + " | 64 | 2.5× | 2.5× | 2.5× | 100 µs | 30 µs | 50 µs | 50 µs |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, out.String())
		}
	}
}
