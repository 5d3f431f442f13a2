package pebblefs

import (
	"fmt"
	"io"
)

// Logger is the Pebble logger of the stores: errors to W with a prefix,
// no informational chatter, and a panic instead of an exit on Pebble's
// fatal invariant violations (a library must not end the process).
type Logger struct {
	W      io.Writer
	Prefix string // "telpebble: "
}

func (l Logger) Infof(string, ...any) {}

func (l Logger) Errorf(format string, args ...any) {
	fmt.Fprintf(l.W, l.Prefix+format+"\n", args...)
}

func (l Logger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(l.Prefix+format, args...))
}
