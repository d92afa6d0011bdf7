// Package buildinfo says which build is running: the version and commit stamped by the release
// build (-ldflags -X), else what the Go toolchain recorded in the binary (runtime/debug), so that
// `ecompointer version`, the build_info metric, the start-up log line and /healthz all agree.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Stamped by the release build (`make build`, `make image`, the Dockerfile):
//
//	-ldflags "-X github.com/ecompointer/ecompointer/server/buildinfo.version=v1.4.0
//	          -X github.com/ecompointer/ecompointer/server/buildinfo.commit=0123abc"
//
// Empty in a plain `go build` or `go run`: Get then falls back to the toolchain's record.
var (
	version string
	commit  string
)

// Info describes the running binary.
type Info struct {
	// Version is the release (v1.4.0), else the module version Go derived from the checkout
	// (v0.0.0-20261206071000-0123456789ab+dirty), else "devel".
	Version string
	// Commit is the VCS revision the binary was built from ("unknown" when nobody recorded it).
	Commit string
	// Modified is true when the checkout had uncommitted changes (Go's vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built it (go1.26.8).
	GoVersion string
}

// Get returns the running binary's build information (computed once).
var Get = sync.OnceValue(func() Info { return resolve(version, commit, debug.ReadBuildInfo) })

// resolve prefers the stamped values, then the toolchain's record, then placeholders.
func resolve(stampedVersion, stampedCommit string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: stampedVersion, Commit: stampedCommit, GoVersion: runtime.Version()}
	bi, ok := read()
	if ok {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// ShortCommit is the commit's first 12 characters, as in a log line.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one line `ecompointer version` prints.
func (i Info) String() string {
	s := "ecompointer " + i.Version + " (commit " + i.Commit
	if i.Modified {
		s += ", modified"
	}
	return s + ", " + i.GoVersion + ")"
}
