// Package gctune gives a serving process its garbage collector settings: the API server's and the
// load harness's baselines alike, so that their same-run ratios compare like with like.
package gctune

import (
	"errors"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultGCPercent is the GOGC where the operator sets none. A request allocates ~9 KB
// (a product get) to ~100 KB (a list page) against a live heap of a few tens of MB, so at Go's
// default of 100 the collector ran many times a second and, on two cores shared with PostgreSQL,
// took CPU from the requests: at 64 connections 400 cut the server's CPU per list page by 18%,
// per search by 12%, per product create by 7% (bench/README.md, "The collector's share"), for
// about 40-50 MiB more resident memory.
const DefaultGCPercent = 400

// MemLimitRatio is the share of the container's memory limit the heap may grow to before the
// collector works harder instead: the larger GOGC must not turn into an out-of-memory kill.
const MemLimitRatio = 0.9

// Settings is what Apply did, for the start-up log line and tests.
type Settings struct {
	// GCPercent is the GOGC in force: the operator's (from the process environment, as the Go
	// runtime reads it), or DefaultGCPercent.
	GCPercent int
	// MemoryLimit is the soft limit in force in bytes (math.MaxInt64: none).
	MemoryLimit int64
}

// Apply gives the serving process its collector settings. GOGC and GOMEMLIMIT, when the process
// environment sets them, are the operator's and stay as the runtime read them (a .env file does
// not reach the runtime, so it does not set them either); otherwise GOGC is DefaultGCPercent and
// the memory limit follows the cgroup's (MemLimitRatio of it; AUTOMEMLIMIT=off or a ratio
// overrides, as automemlimit documents). getenv is the process environment.
func Apply(getenv func(string) string, log *slog.Logger) Settings {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup), memlimit.WithRatio(MemLimitRatio))
	switch {
	case errors.Is(err, memlimit.ErrNoCgroup), errors.Is(err, memlimit.ErrCgroupsNotSupported):
		// No container limit to follow (a developer's machine, a VM): nothing to do.
	case err != nil:
		log.Warn("could not read the container's memory limit; GOMEMLIMIT stays unset", "error", err)
	}
	// The runtime has no getter for GOGC: setting it returns the one in force, put back at once.
	// memlimit.Set returns the limit in force, the previous one when it failed.
	s := Settings{GCPercent: debug.SetGCPercent(-1), MemoryLimit: limit}
	debug.SetGCPercent(s.GCPercent)
	attrs := []any{"gogc", s.GCPercent}
	if s.MemoryLimit != math.MaxInt64 {
		attrs = append(attrs, "gomemlimit_bytes", s.MemoryLimit)
	}
	log.Info("garbage collector", attrs...)
	return s
}
