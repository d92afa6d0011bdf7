package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// previousRun is an earlier full run's Scenarios table, read back from its results file, so that
// a run shows each scenario's row beside the last one's and names what fell (issue 18: "nothing
// else slower by more than run-to-run noise").
type previousRun struct {
	file  string // as found, for the report
	title string // its first line, the run's date and time
	host  string // its machine: CPU, cores, memory (hostOf)
	rows  map[runKey]previousRow
}

type runKey struct {
	name  string
	conns int
}

// previousRow is one row of the earlier table: its req/s, and its ratio to its limit (ok false
// when the row had none).
type previousRow struct {
	rate  float64
	ratio float64
	ok    bool
}

// fallBy is how far a ratio (or, for a row without one, a rate) may fall against the previous
// full run before the report names it: single runs of one scenario on this shared two-core
// machine differ by up to that much with no change to the code (bench/README, "Noise").
const fallBy = 0.15

// errNoPrevious: no earlier full run to compare with.
var errNoPrevious = errors.New("no earlier full run")

// findPrevious is the results file the run compares itself with: spec when set ("none": none),
// otherwise the newest full run's in dir (quick runs are not figures to compare with). A run
// writes <date>.md, so a file of the same day is an earlier run of that day, read before it is
// replaced.
func findPrevious(dir, spec string) (string, error) {
	switch spec {
	case "none":
		return "", errNoPrevious
	case "":
	default:
		return spec, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errNoPrevious
	}
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".md") && !strings.HasSuffix(n, "-quick.md") {
			names = append(names, n)
		}
	}
	slices.Sort(names) // <date>.md: newest last
	for i := len(names) - 1; i >= 0; i-- {
		path := filepath.Join(dir, names[i])
		head, err := firstLine(path)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(head, "# Load harness:") && !strings.Contains(head, "quick mode") {
			return path, nil
		}
	}
	return "", errNoPrevious
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return sc.Text(), sc.Err()
}

// readPrevious reads the Scenarios table of a results file. Its columns are found by their
// headings (scenario, conns, req/s, ratio), so files written before the table gained columns
// still read.
func readPrevious(path string) (*previousRun, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	prev := &previousRun{file: path, title: strings.TrimPrefix(lines[0], "# "), rows: map[runKey]previousRow{}}
	for _, line := range lines {
		if m, ok := strings.CutPrefix(line, "Machine: "); ok {
			prev.host = hostOf(m)
			break
		}
	}
	start := slices.Index(lines, "## Scenarios")
	if start < 0 {
		return nil, fmt.Errorf("%s: no Scenarios table", path)
	}
	col := map[string]int{}
	for _, line := range lines[start+1:] {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(col) == 0 {
			for i, c := range cells {
				col[c] = i
			}
			for _, want := range []string{"scenario", "conns", "req/s", "ratio"} {
				if _, ok := col[want]; !ok {
					return nil, fmt.Errorf("%s: the Scenarios table has no %q column", path, want)
				}
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") || len(cells) < len(col) {
			continue
		}
		conns, err := strconv.Atoi(cells[col["conns"]])
		if err != nil {
			continue
		}
		rate, err := strconv.ParseFloat(strings.ReplaceAll(cells[col["req/s"]], ",", ""), 64)
		if err != nil {
			continue
		}
		r := previousRow{rate: rate}
		if v, err := strconv.ParseFloat(strings.TrimSuffix(cells[col["ratio"]], "%"), 64); err == nil {
			r.ratio, r.ok = v/100, true
		}
		prev.rows[runKey{cells[col["scenario"]], conns}] = r
	}
	return prev, nil
}

// hostOf is the part of a report's machine line that names the machine (CPU model, cores,
// memory), without what changes from run to run on one machine (kernel, load average).
func hostOf(machine string) string {
	host, _, _ := strings.Cut(machine, ";")
	return strings.TrimSpace(host)
}

// fell says whether a row of this run fell against its previous row by more than fallBy: its
// ratio when both have one (a ratio to a limit measured in the same run is what stays comparable
// from one machine to another), else its rate, but only on the same machine (sameHost).
func (p previousRow) fell(rate, ratio float64, hasRatio, sameHost bool) bool {
	if hasRatio && p.ok {
		return ratio < p.ratio*(1-fallBy)
	}
	return sameHost && rate < p.rate*(1-fallBy)
}
