package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with a space and a parenthesis, as a process may choose.
	stat := []byte("4242 (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 1000 200\n")
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 325 * 10 * time.Millisecond; got != want {
		t.Errorf("cpu = %s, want %s", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Error("a short stat line parsed")
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tecompointer\nVmPeak:\t 900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n")
	rss, peak, err := parseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if rss != 20<<20 || peak != 40<<20 {
		t.Errorf("rss %d, peak %d", rss, peak)
	}
	if _, _, err := parseStatus([]byte("Name:\tkthread\n")); err == nil {
		t.Error("a status without memory lines parsed")
	}
}

func TestParseMachineCPU(t *testing.T) {
	t.Parallel()
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineCPU([]byte("cpu  100 5 50 1000 20 3 2 10 40 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 170 * 10 * time.Millisecond; got != want {
		t.Errorf("busy = %s, want %s", got, want)
	}
}

// TestOwnProcess reads this test's own process, the way the harness reads the server's.
func TestOwnProcess(t *testing.T) {
	t.Parallel()
	p := Of(os.Getpid())
	if _, err := p.CPU(); err != nil {
		t.Fatal(err)
	}
	rss, peak, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("rss %d, peak %d", rss, peak)
	}
	if _, err := MachineCPU(); err != nil {
		t.Fatal(err)
	}
}

func TestFindsItself(t *testing.T) {
	t.Parallel()
	procs, err := Find(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.PID() == os.Getpid() {
			return
		}
	}
	t.Errorf("Find(%q) = %v, without this process", os.Args[0], procs)
}
