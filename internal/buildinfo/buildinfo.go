// Package buildinfo says which harness produced a result: module version, git commit, and the
// versions of Go, godog and Vegeta. The evidence manifest and `authzcheck version` print it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the Makefile with -ldflags -X.
var (
	Version = "" // module version, e.g. v0.1.0 or a git describe
	Commit  = "" // git commit hash
)

// Info is the harness's identity.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Godog   string `json:"godog"`
	Vegeta  string `json:"vegeta"`
}

// Get returns the running binary's build information. Missing values are "unknown".
func Get() Info {
	info := Info{Version: Version, Commit: Commit, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/cucumber/godog":
				info.Godog = d.Version
			case "github.com/tsenart/vegeta/v12":
				info.Vegeta = d.Version
			}
		}
	}
	for _, p := range []*string{&info.Version, &info.Commit, &info.Godog, &info.Vegeta} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return info
}

// UserAgent is the User-Agent every request of the harness carries, authzcheck/<version>, so
// an endpoint's operators can tell who called. It reads the build information: call it once
// per run, not per request.
func UserAgent() string { return "authzcheck/" + Get().Version }
