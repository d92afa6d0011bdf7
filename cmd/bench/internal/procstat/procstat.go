// Package procstat reads what Linux's /proc says of a process (CPU time, resident memory) and of
// the machine, so that the harness can charge each scenario with what the server spent on it.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Go
// runs on (it is fixed by the kernel ABI, not by CONFIG_HZ), so it needs no sysconf call.
const clockTick = 10 * time.Millisecond

// Proc is one process.
type Proc struct {
	root string // "/proc", or a test's fake
	pid  int
}

// Of returns the process pid.
func Of(pid int) Proc { return Proc{root: "/proc", pid: pid} }

func (p Proc) path(name string) string { return fmt.Sprintf("%s/%d/%s", p.root, p.pid, name) }

// CPU is the user plus system time the process has used so far (utime + stime of
// /proc/<pid>/stat).
func (p Proc) CPU() (time.Duration, error) {
	b, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("procstat: malformed stat")
	}
	fields := strings.Fields(string(b[i+1:]))
	// After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
	if len(fields) < 13 {
		return 0, errors.New("procstat: short stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("procstat: stat times: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// Find returns the processes whose command line contains s. PostgreSQL names each backend after
// its database ("postgres: user dbname 127.0.0.1(5432) idle"), so the backends serving one
// database are Find(" "+dbname+" ").
func Find(s string) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		if bytes.Contains(cmdline, []byte(s)) {
			out = append(out, Of(pid))
		}
	}
	return out, nil
}

// PID is the process id.
func (p Proc) PID() int { return p.pid }

// ResetPeak starts a new peak resident set: writing 5 to clear_refs resets VmHWM (Linux 4.0+).
// It needs the right to write the file (root, or the process's owner).
func (p Proc) ResetPeak() error {
	return os.WriteFile(p.path("clear_refs"), []byte("5"), 0)
}

// Memory is the process's resident set now (VmRSS) and its peak since start or the last
// ResetPeak (VmHWM), in bytes.
func (p Proc) Memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(p.path("status"))
	if err != nil {
		return 0, 0, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (rss, peak int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := 0
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(value) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("procstat: %s: %q", key, value)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("procstat: %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("procstat: no VmRSS/VmHWM in status")
	}
	return rss, peak, nil
}

// MachineCPU is the time all CPUs of the machine have spent busy (everything but idle and
// iowait, from the first line of /proc/stat). Compared with what the measured processes used, it
// says how much else the machine was doing: the machine is shared, and noise shows here.
func MachineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("procstat: malformed /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: /proc/stat: %w", err)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice: guest time is
		// already counted in user, so only the first eight count, minus idle and iowait.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}
