package main

import (
	"math"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// A paired run's ratio is of the sums, not a mean of the rounds' ratios: a slow round (the
// machine busy elsewhere) weighs on both sides as long as it lasted.
func TestPairingRatio(t *testing.T) {
	t.Parallel()
	res := func(ok int, d time.Duration) load.Result { return load.Result{OK: ok, Elapsed: d} }
	p := pairing{
		base: []load.Result{res(100, time.Second), res(50, time.Second)},
		self: []load.Result{res(90, time.Second), res(60, time.Second)},
	}
	if got := p.ratio(); math.Abs(got-1.0) > 1e-9 {
		t.Errorf("ratio = %v, want 1 (150 answers each in 2 s)", got)
	}
	if lo, hi := p.spread(); math.Abs(lo-0.9) > 1e-9 || math.Abs(hi-1.2) > 1e-9 {
		t.Errorf("spread = %v-%v, want 0.9-1.2", lo, hi)
	}
	// Against pgbench running two of the scenario's requests a transaction, its rate counts twice.
	p.per = 2
	if got := p.ratio(); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("ratio against two requests a control answer = %v, want 0.5", got)
	}
	if lo, hi := p.spread(); math.Abs(lo-0.45) > 1e-9 || math.Abs(hi-0.6) > 1e-9 {
		t.Errorf("spread against two requests a control answer = %v-%v, want 0.45-0.6", lo, hi)
	}
	if got := (pairing{base: []load.Result{res(0, time.Second)}, self: []load.Result{res(5, time.Second)}}).ratio(); got != 0 {
		t.Errorf("ratio against a control that answered nothing = %v, want 0", got)
	}
}
