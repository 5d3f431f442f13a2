package usermsg

import (
	"strings"

	"github.com/tetrahq/tetra/lang"
)

// prefixes are the names Tetra's packages (and their stores) put before
// their errors. A name is stripped where a message segment starts with it
// followed by ": ".
var prefixes = []string{
	"api", "client", "esutil", "exec", "graphstore", "ingest", "kv", "lang", "live", "memstore",
	"pebblestore", "planner", "repl", "scriptapi", "scriptrt", "telelastic", "telemetry", "telpebble",
	"traceelastic", "tracepebble", "traces", "tsz", "automation",
}

// Message returns err's message as a user should read it: without the
// package prefixes of Tetra's packages, wherever a wrapped error put one.
func Message(err error) string {
	if err == nil {
		return ""
	}
	return Strip(err.Error())
}

// Strip removes package prefixes from a message: at its start and after
// ": ", "; " or "(", where a wrapped error's text begins. A word that
// is not one of Tetra's package names ("open x: no such file") stays.
func Strip(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		if atSegmentStart(msg, i) {
			if n := prefixAt(msg[i:]); n > 0 {
				i += n
				continue
			}
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}

// atSegmentStart reports whether a wrapped message may start at i.
func atSegmentStart(msg string, i int) bool {
	switch {
	case i == 0:
		return true
	case msg[i-1] == '(':
		return true
	case i >= 2 && msg[i-1] == ' ' && (msg[i-2] == ':' || msg[i-2] == ';'):
		return true
	}
	return false
}

// prefixAt returns the length of the package prefix ("exec: ") s starts
// with, or 0.
func prefixAt(s string) int {
	for _, p := range prefixes {
		if len(s) > len(p)+1 && s[:len(p)] == p && s[len(p)] == ':' && s[len(p)+1] == ' ' {
			return len(p) + 2
		}
	}
	return 0
}

// Render returns the text that shows a query's error to a user: the caret
// block of lang.Render for an error about a part of src, and otherwise
// "error: " and the message, without package prefixes. It ends with a
// newline.
func Render(src string, err error) string {
	if lang.Locate(src, err) != nil {
		return lang.Render(src, err)
	}
	return "error: " + Message(err) + "\n"
}
