package main

import (
	"time"

	"github.com/tetrahq/tetra/exec"
)

// limitFlags are the limits every statement of a command runs with:
// --max-elements and --timeout, shared by the commands that run queries.
type limitFlags struct {
	maxElements *int
	timeout     *time.Duration
}

func addLimitFlags(fs *flags) limitFlags {
	return limitFlags{
		maxElements: fs.Int("max-elements", exec.DefaultMaxElements, "fail a query that holds more than `N` components"),
		timeout:     durationFlag(fs, "timeout", exec.DefaultTimeout, "fail a query that runs longer than `D` (as 500ms, 10s, 2m)"),
	}
}

// problem returns what is wrong with the limits given, or "".
func (l limitFlags) problem() string {
	switch {
	case *l.maxElements <= 0:
		return "--max-elements must be at least 1"
	case *l.timeout <= 0:
		return "--timeout must be positive, as in --timeout 10s"
	}
	return ""
}

// options returns engine options with the limits and a clock.
func (l limitFlags) options(now func() time.Time) exec.Options {
	return exec.Options{MaxElements: *l.maxElements, Timeout: *l.timeout, Now: now}
}
