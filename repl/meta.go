package repl

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tetrahq/tetra/lang"
)

// metaCommand describes a meta command: what the shell does itself rather
// than send to the backend.
type metaCommand struct {
	usage   string
	summary string
	query   bool     // its argument is a query (completed and continued as one)
	args    []string // the words its argument may be, for completion
}

var metaCommands = map[string]metaCommand{
	":help":    {usage: ":help", summary: "this help"},
	":explain": {usage: ":explain QUERY", summary: "print the plan of a query instead of running it", query: true},
	":watch": {usage: ":watch QUERY", summary: "follow a topology query live: its answer, then every change to it, until Ctrl-C",
		query: true},
	":script":   {usage: ":script [JS]", summary: "run JavaScript with the script APIs: on the line, or the lines up to :end"},
	":describe": {usage: ":describe WHAT", summary: "one component (by id, name or identifier): its fields, health checks, sources, properties, neighbours"},
	":values": {usage: ":values [KEY [PREFIX]]", summary: "list the values of a key with their counts (the keys without KEY)",
		args: valueKeys()},
	":at": {usage: ":at [TIME|now]", summary: "run queries at TIME (a past moment) until :at now",
		args: []string{"now", "-15m", "-1h", "-24h", "-7d"}},
	":format": {usage: ":format [table|json]", summary: "print results as tables or as JSON",
		args: []string{"table", "json"}},
	":timing": {usage: ":timing [on|off]", summary: "print how long each statement took", args: []string{"on", "off"}},
	":quit":   {usage: ":quit", summary: "leave (also :q, :exit, quit, exit, Ctrl-D)"},
}

// metaOrder lists the meta commands as help and completion show them.
var metaOrder = []string{":help", ":explain", ":watch", ":script", ":describe", ":values", ":at", ":format", ":timing", ":quit"}

// metaAliases are other spellings of meta commands.
var metaAliases = map[string]string{":q": ":quit", ":exit": ":quit", ":h": ":help", ":?": ":help",
	"quit": ":quit", "exit": ":quit", `\q`: ":quit", "help": ":help", ":d": ":values", ":w": ":watch"}

// valueKeys are the topology keys that have values to list.
func valueKeys() []string {
	return slices.DeleteFunc(lang.Words().TopologyKeys, func(k string) bool { return k == "id" })
}

// meta runs a meta command line. It returns true when the shell should
// leave.
func (s *shell) meta(ctx context.Context, line string) bool {
	line = strings.TrimSpace(line)
	i := strings.IndexFunc(line, unicode.IsSpace)
	if i < 0 {
		i = len(line)
	}
	name, arg := canonicalMeta(line[:i]), line[i:]
	switch {
	case name != ":script":
		arg = strings.TrimSpace(arg)
	case strings.HasPrefix(arg, "\n"): // the lines up to :end: positions count from the first
		arg = arg[1:]
	default:
		arg = strings.TrimLeft(arg, " \t")
	}
	switch name {
	case ":help":
		s.help()
	case ":explain":
		s.explain(ctx, arg)
	case ":watch":
		s.watch(ctx, arg)
	case ":script":
		s.script(ctx, arg)
	case ":values":
		s.listValues(ctx, arg)
	case ":describe":
		s.describe(ctx, arg)
	case ":at":
		s.setAt(arg)
	case ":format":
		s.setFormat(arg)
	case ":timing":
		s.setTiming(arg)
	case ":quit":
		return true
	default:
		s.failf("unknown command %s; try %s", name, strings.Join(metaOrder, " "))
	}
	return false
}

func (s *shell) help() {
	var b strings.Builder
	b.WriteString("Type a TQL statement; it runs at a ; or at a blank line, so it may span lines.\n" +
		"A line that starts with : is a command, and runs when you press Enter.\n\nCommands:\n")
	for _, name := range metaOrder {
		c := metaCommands[name]
		fmt.Fprintf(&b, "  %-24s %s\n", c.usage, c.summary)
	}
	b.WriteString("\n:explain and :watch alone take the next statement; :script alone takes\n" +
		"JavaScript up to a line that reads :end.\n")
	b.WriteString("\nKeys: Tab completes keywords, keys, functions and known values (inside quotes\n" +
		"too); Up/Down and Ctrl-R search the history; Ctrl-C cancels a running statement\n" +
		"or watch, or clears the input; Ctrl-D leaves.\n")
	fmt.Fprintf(&b, "\nTopology keys: %s\nExamples:\n", strings.Join(lang.Words().TopologyKeys, ", "))
	b.WriteString("  type = \"service\" AND label = \"team:shop\";\n" +
		"  withNeighborsOf(components = (name = \"checkout\"), levels = \"2\", direction = \"both\");\n" +
		"  name = \"*\" CHANGES FROM \"-1h\";\n" +
		"  :watch healthstate = \"CRITICAL\"\n" +
		"  :values type\n")
	fmt.Fprint(s.out, b.String())
}

func (s *shell) explain(ctx context.Context, q string) {
	if q == "" {
		s.failf("usage: %s", metaCommands[":explain"].usage)
		return
	}
	if !s.parses(q) {
		return
	}
	plan, err := s.backend.Explain(ctx, q, s.runOptions())
	if err != nil {
		s.queryError(q, err)
		return
	}
	fmt.Fprint(s.out, escapeLines(plan))
	s.gap()
}

func (s *shell) setAt(arg string) {
	switch {
	case arg == "":
		if s.at.IsZero() {
			fmt.Fprintln(s.out, "queries run at the current time")
		} else {
			fmt.Fprintf(s.out, "queries run at %s\n", stamp(s.at))
		}
		return
	case strings.EqualFold(strings.Trim(arg, `"'`), "now"):
		s.at = time.Time{}
		fmt.Fprintln(s.out, "queries run at the current time")
		return
	}
	text := arg
	if len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] {
		text = text[1 : len(text)-1]
	}
	tv, err := lang.ParseTime(text)
	if err != nil {
		s.queryError(text, err)
		return
	}
	s.at = tv.Resolve(s.now())
	fmt.Fprintf(s.out, "queries run at %s until :at now\n", stamp(s.at))
}

func (s *shell) setFormat(arg string) {
	switch strings.ToLower(arg) {
	case "":
		fmt.Fprintf(s.out, "format %s\n", s.format)
	case "table", "json":
		s.format = strings.ToLower(arg)
		fmt.Fprintf(s.out, "format %s\n", s.format)
	default:
		s.failf("unknown format %q: use :format table or :format json", arg)
	}
}

func (s *shell) setTiming(arg string) {
	switch strings.ToLower(arg) {
	case "":
	case "on":
		s.timing = true
	case "off":
		s.timing = false
	default:
		s.failf("use :timing on or :timing off")
		return
	}
	if s.timing {
		fmt.Fprintln(s.out, "timing on")
	} else {
		fmt.Fprintln(s.out, "timing off")
	}
}
