package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	recorded := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: "github.com/ecompointer/ecompointer", Version: "v0.0.0-20261206071000-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true
	}
	nothing := func() (*debug.BuildInfo, bool) { return nil, false }
	devel := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true
	}
	cases := []struct {
		name             string
		version, commit  string
		read             func() (*debug.BuildInfo, bool)
		want             Info
		wantShort, wantS string
	}{
		{"stamped wins", "v1.4.0", "abc1234", recorded,
			Info{Version: "v1.4.0", Commit: "abc1234", Modified: true, GoVersion: "go1.26.8"},
			"abc1234", "ecompointer v1.4.0 (commit abc1234, modified, go1.26.8)"},
		{"toolchain record", "", "", recorded,
			Info{Version: "v0.0.0-20261206071000-0123456789ab+dirty", Commit: "0123456789abcdef0123456789abcdef01234567", Modified: true, GoVersion: "go1.26.8"},
			"0123456789ab", "ecompointer v0.0.0-20261206071000-0123456789ab+dirty (commit 0123456789abcdef0123456789abcdef01234567, modified, go1.26.8)"},
		{"go run: devel", "", "", devel,
			Info{Version: "devel", Commit: "unknown", GoVersion: "go1.26.8"},
			"unknown", "ecompointer devel (commit unknown, go1.26.8)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := resolve(tc.version, tc.commit, tc.read)
			if got != tc.want {
				t.Fatalf("resolve = %+v, want %+v", got, tc.want)
			}
			if s := got.ShortCommit(); s != tc.wantShort {
				t.Errorf("ShortCommit = %q, want %q", s, tc.wantShort)
			}
			if s := got.String(); s != tc.wantS {
				t.Errorf("String = %q, want %q", s, tc.wantS)
			}
		})
	}
	t.Run("nothing recorded", func(t *testing.T) {
		t.Parallel()
		got := resolve("", "", nothing)
		if got.Version != "devel" || got.Commit != "unknown" || got.GoVersion == "" {
			t.Fatalf("resolve = %+v", got)
		}
	})
}
