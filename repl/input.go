package repl

import (
	"strings"
)

// The rules for where input ends, as the issue and docs/repl.md state
// them:
//
//   - a statement ends at a ";" outside a string (text after it on the
//     line starts the next statement) or at a blank line: Enter alone
//     never runs a statement, so one whose first line parses by itself
//     (type = "service", then AND layer = "apps") can go on;
//   - a meta command (a line starting with ":") runs when its line ends,
//     even while a statement is pending, which it leaves pending; so do
//     quit, exit, help and \q typed as a statement's first line;
//   - :explain and :watch alone take the next statement as their query;
//     :script alone takes the lines up to one that reads :end as
//     JavaScript;
//   - a ";" or a blank line with nothing pending does nothing.

// unit is one thing the shell runs: a statement, or a meta command line.
type unit struct {
	text string
	meta bool
	line int // the line it starts on, counting from 1
}

// statementBuffer gathers lines into units.
type statementBuffer struct {
	n     int // lines taken
	start int // the line the pending statement starts on
	lines []string
	// script is set while the lines of a :script are gathered.
	script bool
	// awaiting is the meta command (":explain", ":watch") whose query is
	// the statement being gathered, or "".
	awaiting string
}

// empty reports whether nothing is pending: the next line starts afresh.
func (b *statementBuffer) empty() bool { return len(b.lines) == 0 && !b.script && b.awaiting == "" }

// text is the pending statement's text: the lines so far, as typed.
func (b *statementBuffer) text() string { return strings.Join(b.lines, "\n") }

// reset drops everything pending.
func (b *statementBuffer) reset() {
	b.lines, b.script, b.awaiting = b.lines[:0], false, ""
}

// add takes one line and returns the units it completes, in order.
func (b *statementBuffer) add(line string) []unit {
	b.n++
	trimmed := strings.TrimSpace(line)
	if b.script {
		return b.addScript(line, trimmed)
	}
	if strings.HasPrefix(trimmed, ":") || (len(b.lines) == 0 && b.awaiting == "" && isBareCommand(trimmed)) {
		return b.addMeta(trimmed)
	}
	if trimmed == "" {
		return b.finish()
	}
	var out []unit
	for {
		i := semicolon(line)
		if i < 0 {
			b.push(line)
			return out
		}
		if head := line[:i]; strings.TrimSpace(head) != "" {
			b.push(head)
		}
		out = append(out, b.finish()...)
		line = line[i+1:]
		if strings.TrimSpace(line) == "" {
			return out
		}
	}
}

// push adds a line of the pending statement.
func (b *statementBuffer) push(line string) {
	if len(b.lines) == 0 {
		b.start = b.n
	}
	b.lines = append(b.lines, line)
}

// addMeta takes a meta command line. :explain and :watch without a query,
// and :script without a script, wait for what follows.
func (b *statementBuffer) addMeta(trimmed string) []unit {
	name, arg, _ := strings.Cut(trimmed, " ")
	name = canonicalMeta(name)
	if strings.TrimSpace(arg) == "" {
		switch {
		case name == ":script":
			b.script = true
			b.lines, b.start = b.lines[:0], b.n
			return nil
		case metaCommands[name].query:
			b.awaiting = name
			return nil
		}
	}
	return []unit{{text: trimmed, meta: true, line: b.n}}
}

// addScript takes a line of a :script: JavaScript as it is, up to :end.
func (b *statementBuffer) addScript(line, trimmed string) []unit {
	if trimmed != ":end" {
		b.lines = append(b.lines, line)
		return nil
	}
	src, start := b.text(), b.start
	b.reset()
	return []unit{{text: ":script\n" + src, meta: true, line: start}}
}

// finish ends the pending statement: a unit for it (the argument of the
// meta command awaiting one, if any), or none when nothing is pending.
func (b *statementBuffer) finish() []unit {
	stmt := strings.TrimSpace(b.text())
	awaiting, start := b.awaiting, b.start
	b.reset()
	if stmt == "" {
		if awaiting != "" {
			return []unit{{text: awaiting, meta: true, line: b.n}} // its usage error
		}
		return nil
	}
	if awaiting != "" {
		return []unit{{text: awaiting + " " + stmt, meta: true, line: start}}
	}
	return []unit{{text: stmt, line: start}}
}

// end ends the input: what is pending is the last unit. A :script
// without its :end is not run.
func (b *statementBuffer) end() ([]unit, bool) {
	if b.script {
		b.reset()
		return nil, false
	}
	return b.finish(), true
}

// Statement is one statement of a text: a TQL statement, or a line that is
// a shell command (Meta, starting with ":"), and the line it starts on.
type Statement struct {
	Text string
	Meta bool
	Line int
}

// SplitStatements splits a text into statements by the shell's rules: a
// statement ends at a ";" outside a string, at a blank line, or at the
// end of the text. Lines that start with "#" are comments, left out.
// (tetra query -f runs files split so.)
func SplitStatements(text string) []Statement {
	var b statementBuffer
	var out []Statement
	take := func(units []unit) {
		for _, u := range units {
			out = append(out, Statement{Text: u.text, Meta: u.meta, Line: u.line})
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(strings.TrimSpace(line), "#") && !b.script {
			b.n++
			continue
		}
		take(b.add(line))
	}
	units, _ := b.end()
	take(units)
	return out
}

// semicolon returns the index of the first ";" of line outside a quoted
// string, or -1. Strings are TQL's: "…" or '…' with backslash escapes.
func semicolon(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == ';':
			return i
		}
	}
	return -1
}

// isBareCommand reports whether a line is one of the words that psql users
// type to leave or ask for help, which are never a whole query.
func isBareCommand(s string) bool {
	switch strings.ToLower(s) {
	case "quit", "exit", "help", `\q`:
		return true
	}
	return false
}

// canonicalMeta returns a meta command's name with aliases resolved.
func canonicalMeta(name string) string {
	name = strings.ToLower(name)
	if canon, ok := metaAliases[name]; ok {
		return canon
	}
	return name
}
