package repl

import (
	"strings"

	"github.com/tetrahq/tetra/lang"
)

// statementBuffer gathers the lines of one statement. A statement ends:
//   - at a line that ends with ";" (the ";" is not part of it);
//   - at a blank line;
//   - at the end of a line when the text so far is a whole statement (it
//     parses, or fails somewhere other than at its end), so a one-line
//     query runs on Enter and an unfinished one (an open parenthesis, a
//     trailing AND) asks for more;
//   - at once for a meta command (":help") and for quit, exit and help
//     alone on a line, whose query argument (":explain Q") follows the
//     rules above.
type statementBuffer struct {
	lines []string
}

// empty reports whether no line is pending.
func (b *statementBuffer) empty() bool { return len(b.lines) == 0 }

// text is the pending text: the lines so far, as typed.
func (b *statementBuffer) text() string { return strings.Join(b.lines, "\n") }

// reset drops the pending lines.
func (b *statementBuffer) reset() { b.lines = b.lines[:0] }

// add takes one line. When it ends a statement, add returns the statement
// and true, and the buffer is empty again; a blank line with nothing
// pending returns "" and true.
func (b *statementBuffer) add(line string) (string, bool) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		stmt := strings.TrimSpace(b.text())
		b.reset()
		return stmt, true
	}
	b.lines = append(b.lines, line)
	text := strings.TrimSpace(b.text())
	if strings.HasSuffix(trimmed, ";") {
		b.reset()
		return strings.TrimSpace(strings.TrimSuffix(text, ";")), true
	}
	if len(b.lines) == 1 && isBareCommand(trimmed) {
		b.reset()
		return text, true
	}
	if complete(queryPart(text)) {
		b.reset()
		return text, true
	}
	return "", false
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

// queryPart returns the query of a text: the argument of a meta command
// that takes one (":explain Q"), the text itself otherwise. A meta command
// without a query argument returns "", which is complete.
func queryPart(text string) string {
	if !strings.HasPrefix(text, ":") {
		return text
	}
	name, arg, _ := strings.Cut(text, " ")
	if c, ok := metaCommands[strings.ToLower(name)]; ok && c.query {
		return strings.TrimSpace(arg)
	}
	return ""
}

// complete reports whether text is a whole statement: it parses, or it
// fails at a point before its end (an error to show now, not text to wait
// for). An empty text is complete.
func complete(text string) bool {
	if strings.TrimSpace(text) == "" {
		return true
	}
	_, err := lang.Parse(text)
	errs := lang.Errors(err)
	if len(errs) == 0 {
		return true
	}
	// An unfinished query fails with an empty span at its end ("unexpected
	// end of query"); any other error is about text already typed.
	end := len(strings.TrimRight(text, " \t\r\n"))
	first := errs[0]
	return first.Span.Start < end || first.Span.End != first.Span.Start
}
