package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// Stamped at build time (deploy/Dockerfile):
//
//	go build -ldflags "-X main.version=0.1.0 -X main.commit=abc123 -X main.buildDate=2026-01-01T00:00:00Z" ./cmd/bridge
//
// Written only by the linker; read through readBuildInfo, which falls back
// to what the Go toolchain records (module version, VCS revision and time).
var (
	version   string
	commit    string
	buildDate string
)

// buildInfo is what `bridge version` prints and bridge_build_info carries.
type buildInfo struct {
	Version, Commit, Date, GoVersion string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: buildDate, GoVersion: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if ok {
		b.GoVersion = info.GoVersion
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// runVersion is "bridge version".
func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	b := readBuildInfo()
	fmt.Fprintf(stdout, "bridge %s\ncommit: %s\nbuilt:  %s\ngo:     %s\n", b.Version, b.Commit, b.Date, b.GoVersion)
	return nil
}
