package gctune

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// TestApply: a serving process's collector settings. Not parallel: GOGC and the memory limit are the test
// process's own, and each case puts them back.
func TestApply(t *testing.T) {
	gcPercent := debug.SetGCPercent(-1)
	debug.SetGCPercent(gcPercent)
	memoryLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gcPercent)
		debug.SetMemoryLimit(memoryLimit)
	})
	// What the cgroup gives this process: a limit here only inside a container that has one.
	wantLimit := int64(math.MaxInt64)
	if limit, err := memlimit.FromCgroup(); err == nil {
		wantLimit = int64(float64(limit) * MemLimitRatio)
	} else if !errors.Is(err, memlimit.ErrNoLimit) && !errors.Is(err, memlimit.ErrNoCgroup) && !errors.Is(err, memlimit.ErrCgroupsNotSupported) {
		t.Fatalf("read this process's cgroup: %v", err)
	}
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	t.Run("defaults", func(t *testing.T) {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		var logs bytes.Buffer
		got := Apply(env(nil), slog.New(slog.NewTextHandler(&logs, nil)))
		if got.GCPercent != DefaultGCPercent || got.MemoryLimit != wantLimit {
			t.Errorf("Apply = %+v, want GOGC %d and limit %d", got, DefaultGCPercent, wantLimit)
		}
		if now := debug.SetGCPercent(-1); now != DefaultGCPercent {
			t.Errorf("the runtime's GOGC is %d, want %d", now, DefaultGCPercent)
		}
		debug.SetGCPercent(DefaultGCPercent)
		if !strings.Contains(logs.String(), "garbage collector") || !strings.Contains(logs.String(), "gogc=400") {
			t.Errorf("start-up log: %q", logs.String())
		}
	})
	// The runtime read the operator's GOGC and GOMEMLIMIT at start (set here as it would have).
	t.Run("operator's", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "123MiB")
		debug.SetGCPercent(150)
		debug.SetMemoryLimit(123 << 20)
		got := Apply(env(map[string]string{"GOGC": "150", "GOMEMLIMIT": "123MiB"}), slog.New(slog.DiscardHandler))
		if got.GCPercent != 150 || got.MemoryLimit != 123<<20 {
			t.Errorf("Apply = %+v, want the operator's GOGC 150 and limit %d", got, 123<<20)
		}
	})
	t.Run("GOGC=off", func(t *testing.T) {
		debug.SetGCPercent(-1)
		got := Apply(env(map[string]string{"GOGC": "off"}), slog.New(slog.DiscardHandler))
		if got.GCPercent != -1 {
			t.Errorf("Apply = %+v, want the collector left off (-1)", got)
		}
	})
}
