package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// version is the release's version, stamped at build time:
//
//	go build -trimpath -ldflags "-X main.version=v1.2.0" ./cmd/tetra
//
// When it is not stamped, the Go toolchain's build information gives one:
// the module version go install recorded, or "devel" and the commit of a
// build from a checkout.
var version string

// buildInfo is what tetra version prints.
type buildInfo struct {
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from ("" when the
	// toolchain did not record one), Modified whether the tree had
	// uncommitted changes, CommitTime its time.
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
	// ResultSchema is the schemaVersion of the result JSON (docs/api.md);
	// StackStateAPI the version of StackState's API the server speaks.
	ResultSchema  int    `json:"resultSchemaVersion"`
	StackStateAPI string `json:"stackStateApi"`
}

// readBuildInfo returns the binary's version and build information.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		ResultSchema: exec.SchemaVersion, StackStateAPI: api.StackStateAPIVersion}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "devel"
		if b.Commit != "" {
			b.Version += "-" + short(b.Commit)
		}
	}
	return b
}

// buildVersion is the version string the server reports.
func buildVersion() string { return readBuildInfo().Version }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// runVersion implements tetra version and tetra --version.
func runVersion(e *env, args []string) int {
	fs := newFlags(e, "version")
	out := outputFlag(fs, "text", "text", "json")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) > 0:
		return misuse(e, fs, "unexpected argument %q", pos[0])
	}
	b := readBuildInfo()
	if *out == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(b)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "tetra %s\n", b.Version)
	if b.Commit != "" {
		var notes []string
		if b.CommitTime != "" {
			notes = append(notes, b.CommitTime)
		}
		if b.Modified {
			notes = append(notes, "modified")
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(e.stdout, "  commit:         %s%s\n", b.Commit, note)
	}
	fmt.Fprintf(e.stdout, "  go:             %s %s\n", b.Go, b.Platform)
	fmt.Fprintf(e.stdout, "  result JSON:    schemaVersion %d\n", b.ResultSchema)
	fmt.Fprintf(e.stdout, "  StackState API: %s\n", b.StackStateAPI)
	return exitOK
}
