package main

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/procstat"
)

// spent is what one run cost, and whom.
type spent struct {
	server  time.Duration // the measured server process (zero when there is none: pgbench)
	pg      time.Duration // PostgreSQL's backends serving the bench database
	self    time.Duration // this process: the load generator (or bcrypt, for that limit)
	machine time.Duration // every CPU of the machine, busy: the rest is other work on it
	peakRSS int64         // the server's peak resident set during the run
}

// meter measures a run's usage: CPU times before and after, and, while it runs, PostgreSQL's
// backends (they come and go with pgbench's clients) and, where the kernel will not reset the
// peak, the server's resident set.
type meter struct {
	target  *procstat.Proc
	db      string
	resetOK bool

	mu      sync.Mutex
	pgBase  map[int]time.Duration // each backend's CPU when first seen (0 if born during the run)
	pgLast  map[int]time.Duration
	sampled int64

	server0, self0, machine0 time.Duration
	stop                     chan struct{}
	done                     sync.WaitGroup
}

// startMeter starts measuring; target may be nil.
func startMeter(target *procstat.Proc, db string) (*meter, error) {
	m := &meter{target: target, db: db, pgBase: map[int]time.Duration{}, pgLast: map[int]time.Duration{}, stop: make(chan struct{})}
	if target != nil {
		// The peak resident set since the reset is the run's own.
		m.resetOK = target.ResetPeak() == nil
	}
	m.samplePG(true)
	var errs []error
	var err error
	if target != nil {
		m.server0, err = target.CPU()
		errs = append(errs, err)
	}
	m.self0, err = procstat.Of(os.Getpid()).CPU()
	errs = append(errs, err)
	m.machine0, err = procstat.MachineCPU()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		for {
			select {
			case <-m.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			m.samplePG(false)
			if m.target != nil && !m.resetOK {
				if rss, _, err := m.target.Memory(); err == nil {
					m.mu.Lock()
					m.sampled = max(m.sampled, rss)
					m.mu.Unlock()
				}
			}
		}
	}()
	return m, nil
}

// samplePG reads the CPU of every backend of the database. A backend seen first before the run
// is charged from then on; one born during it, with all it used.
func (m *meter) samplePG(before bool) {
	procs, err := procstat.Find(" " + m.db + " ")
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range procs {
		cpu, err := p.CPU()
		if err != nil {
			continue // it ended between the scan and the read
		}
		if _, seen := m.pgBase[p.PID()]; !seen {
			if before {
				m.pgBase[p.PID()] = cpu
			} else {
				m.pgBase[p.PID()] = 0
			}
		}
		m.pgLast[p.PID()] = cpu
	}
}

// finish stops measuring and returns the run's usage.
func (m *meter) finish() (spent, error) {
	close(m.stop)
	m.done.Wait()
	m.samplePG(false)
	var u spent
	var errs []error
	var err error
	if m.target != nil {
		var server time.Duration
		server, err = m.target.CPU()
		u.server = server - m.server0
		errs = append(errs, err)
		var peak int64
		_, peak, err = m.target.Memory()
		errs = append(errs, err)
		u.peakRSS = peak
		if !m.resetOK {
			u.peakRSS = m.sampled
		}
	}
	self, err := procstat.Of(os.Getpid()).CPU()
	errs = append(errs, err)
	machine, err := procstat.MachineCPU()
	errs = append(errs, err)
	u.self, u.machine = self-m.self0, machine-m.machine0
	for pid, last := range m.pgLast {
		u.pg += last - m.pgBase[pid]
	}
	return u, errors.Join(errs...)
}
