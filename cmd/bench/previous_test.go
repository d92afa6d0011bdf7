package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// A committed full run reads back: rates, ratios, and a row with no limit (no ratio).
func TestReadPreviousOfAFullRun(t *testing.T) {
	t.Parallel()
	prev, err := readPrevious("../../bench/results/2026-12-06.md")
	if err != nil {
		t.Fatal(err)
	}
	if prev.title != "Load harness: 2026-12-06 14:23 UTC" || prev.host != "Intel(R) Xeon(R) Processor, 2 cores, 24 GiB" {
		t.Errorf("title %q, host %q", prev.title, prev.host)
	}
	for _, tc := range []struct {
		name  string
		conns int
		want  previousRow
	}{
		{"POST /brands/{brandId}/products", 64, previousRow{rate: 1622, ratio: 0.48, ok: true}},
		{"POST /auth/login", 16, previousRow{rate: 8.0, ratio: 0.97, ok: true}},
		{"order_create_amounts: POST /brands/{brandId}/orders with shipping, discounts, tax", 256, previousRow{rate: 190}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := prev.rows[runKey{tc.name, tc.conns}]
			if !ok || got != tc.want {
				t.Errorf("row at %d connections: %+v (found %v), want %+v", tc.conns, got, ok, tc.want)
			}
		})
	}
}

// The newest full run's file is chosen: not a quick run's, whatever its name.
func TestFindPrevious(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, head := range map[string]string{
		"2026-11-30.md":       "# Load harness: 2026-11-30 09:00 UTC",
		"2026-12-06.md":       "# Load harness: 2026-12-06 14:23 UTC",
		"2026-12-07-quick.md": "# Load harness: 2026-12-07 10:00 UTC (quick mode: short runs, small seed; for keeping the harness working, not for figures)",
		"2026-12-08.md":       "# Load harness: 2026-12-08 10:00 UTC (quick mode: short runs, small seed; for keeping the harness working, not for figures)",
		"notes.txt":           "# Load harness: 2026-12-09",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(head+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, dir, spec, want string
		err                   error
	}{
		{"newest full run", dir, "", filepath.Join(dir, "2026-12-06.md"), nil},
		{"named", dir, "other.md", "other.md", nil},
		{"none", dir, "none", "", errNoPrevious},
		{"no results yet", filepath.Join(dir, "missing"), "", "", errNoPrevious},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findPrevious(tc.dir, tc.spec)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("findPrevious = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// Each row shows the previous run's beside it, and the rows that fell by more than fallBy are
// named: by ratio when both runs have one, else by rate.
func TestAgainstPrevious(t *testing.T) {
	t.Parallel()
	perSecond := func(n int) load.Result { return load.Result{OK: n, Elapsed: time.Second} }
	get, create, amounts := "GET /brands/{brandId}/products/{productId}", "POST /brands/{brandId}/products", "order_create_amounts"
	db := pgbenchLimit("product_get")
	r := report{
		machine:   "Intel(R) Xeon(R) Processor, 2 cores, 24 GiB; Linux 6.18; load average 0.5 at the start",
		scenarios: []Scenario{{Name: get, Limits: []Limit{db}}, {Name: create, Limits: []Limit{db}}, {Name: amounts}},
		runs: []row{
			{name: get, conns: 64, res: perSecond(9000)},     // ratio 45%, was 50%: within noise
			{name: create, conns: 64, res: perSecond(8000)},  // ratio 40%, was 50%: fell
			{name: amounts, conns: 64, res: perSecond(150)},  // no ratio; 150/s, was 190/s: fell
			{name: amounts, conns: 256, res: perSecond(180)}, // 180/s, was 190/s: within noise
			{name: get, conns: 16, res: perSecond(9000)},     // not in the previous run
		},
		limits: []row{
			{name: db.String(), scenario: get, limit: db, conns: 64, res: perSecond(20000)},
			{name: db.String(), scenario: create, limit: db, conns: 64, res: perSecond(20000)},
		},
		prev: &previousRun{file: "bench/results/2026-12-06.md", title: "Load harness: 2026-12-06 14:23 UTC", host: "Intel(R) Xeon(R) Processor, 2 cores, 24 GiB", rows: map[runKey]previousRow{
			{get, 64}:      {rate: 9557, ratio: 0.50, ok: true},
			{create, 64}:   {rate: 1622, ratio: 0.50, ok: true},
			{amounts, 64}:  {rate: 190},
			{amounts, 256}: {rate: 190},
		}},
	}
	md := r.markdown()
	for _, want := range []string{
		"| ratio | previous req/s | previous ratio |",
		"| " + get + " | 64 | 9,000 |",
		"| 45% | 9,557 | 50% |",
		"| " + get + " | 16 | 9,000 |",
		"| " + get + " | 16 | 9,000 | – | – | – | 0 |  |  |  |  |  |  |\n",
		"- " + create + " at 64 connections: 50% → 40%",
		"- " + amounts + " at 64 connections: 190/s → 150/s",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, not := range []string{"- " + get + " at", "- " + amounts + " at 256"} {
		if strings.Contains(md, not) {
			t.Errorf("report names %q as fallen:\n%s", not, md)
		}
	}
	// On another machine only the ratios are compared.
	r.machine = "AMD EPYC, 2 cores, 24 GiB; Linux 6.18; load average 0.5 at the start"
	md = r.markdown()
	if !strings.Contains(md, "- "+create+" at 64 connections: 50% → 40%") || strings.Contains(md, "- "+amounts+" at") ||
		!strings.Contains(md, "another machine (Intel(R) Xeon(R) Processor, 2 cores, 24 GiB)") {
		t.Errorf("against a run on another machine:\n%s", md)
	}
	r.prev = nil
	if md := r.markdown(); strings.Contains(md, "previous") {
		t.Errorf("without a previous run the report still compares:\n%s", md)
	}
}

// A second full run of a day is kept beside the first, under a name that sorts after it; a quick
// run replaces its day's table.
func TestResultsPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	at := time.Date(2026, 12, 6, 18, 5, 0, 0, time.UTC)
	if got, want := resultsPath(dir, at, ""), filepath.Join(dir, "2026-12-06.md"); got != want {
		t.Fatalf("first run of the day: %s, want %s", got, want)
	}
	for _, name := range []string{"2026-12-06.md", "2026-12-06-quick.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("# Load harness: 2026-12-06 14:23 UTC\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	second := resultsPath(dir, at, "")
	if want := filepath.Join(dir, "2026-12-06T1805.md"); second != want {
		t.Errorf("second run of the day: %s, want %s", second, want)
	}
	if got, want := resultsPath(dir, at, "-quick"), filepath.Join(dir, "2026-12-06-quick.md"); got != want {
		t.Errorf("quick run: %s, want %s", got, want)
	}
	if err := os.WriteFile(second, []byte("# Load harness: 2026-12-06 18:05 UTC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := findPrevious(dir, ""); got != second || err != nil {
		t.Errorf("the run after it compares with %s (%v), want %s", got, err, second)
	}
}
