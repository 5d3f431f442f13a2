package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tetrahq/tetra/lang"
)

// runParse implements tetra parse: the canonical form of one query, or its
// positioned error; with -f, a check of a file of queries, one a line.
func runParse(e *env, args []string) int {
	fs := newFlags(e, "parse")
	var file string
	var fromFile bool
	fs.Func("f", "check every query in `FILE`, one a line (- reads stdin); "+
		"blank lines and lines starting with # are skipped, and a line source<TAB>query is checked by its query", func(s string) error {
		file, fromFile = s, true
		return nil
	})
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case fromFile && len(pos) > 0:
		return misuse(e, fs, "give a query or -f FILE, not both")
	case fromFile:
		return parseFile(e, file)
	case len(pos) == 0:
		return misuse(e, fs, "no query")
	case len(pos) > 1:
		return misuse(e, fs, "one query at a time: quote it, as in tetra parse 'name = \"x\"'")
	}
	return parseQuery(e, pos[0])
}

// parseQuery prints the canonical form of q, or its rendered error.
func parseQuery(e *env, q string) int {
	stmt, err := lang.Parse(q)
	if err != nil {
		fmt.Fprint(e.stderr, lang.Render(q, err))
		return exitUser
	}
	fmt.Fprintln(e.stdout, lang.Format(stmt))
	return exitOK
}

// parseFile checks the queries of a file: every failure goes to stderr,
// the summary to stdout.
func parseFile(e *env, name string) int {
	r, closeFn, err := openInput(e, name)
	if err != nil {
		return userError(e, "parse", err)
	}
	defer closeFn()
	var passed, failed int
	err = eachLine(r, func(n int, line string) {
		source, q := splitLine(line)
		if q == "" && source == "" {
			return
		}
		if _, perr := lang.Parse(q); perr != nil {
			failed++
			reportFailure(e.stderr, n, source, q, perr)
			return
		}
		passed++
	})
	if err != nil {
		return userError(e, "parse", fmt.Errorf("reading %s: %w", name, err))
	}
	fmt.Fprintf(e.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitUser
	}
	return exitOK
}

// openInput opens a file, or stdin for "-".
func openInput(e *env, name string) (io.Reader, func(), error) {
	if name == "-" {
		return e.stdin, func() {}, nil
	}
	if name == "" {
		return nil, nil, errors.New("an empty file name: name a file, or - for stdin")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// eachLine calls f with every line of r and its 1-based number, without
// the line ending (and without a byte order mark on the first line).
func eachLine(r io.Reader, f func(n int, line string)) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line != "" {
			f(n, strings.TrimRight(line, "\r\n"))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// splitLine returns the source and query of a line: "" and "" for a line
// to skip (blank, or a # comment), the columns of a source<TAB>query line,
// or "" and the line itself.
func splitLine(line string) (source, query string) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return "", ""
	}
	if source, query, ok := strings.Cut(line, "\t"); ok {
		return source, query
	}
	return "", line
}

// reportFailure writes one failed line: its number, its source if it has
// one, and the rendered error with the file's line number in the gutter.
func reportFailure(w io.Writer, n int, source, q string, err error) {
	if source != "" {
		fmt.Fprintf(w, "line %d (%s):\n", n, source)
	} else {
		fmt.Fprintf(w, "line %d:\n", n)
	}
	errs := lang.Errors(err)
	shifted := make(lang.ErrorList, len(errs))
	for i, le := range errs {
		c := *le
		c.Line += n - 1 // the query is one line of the file
		shifted[i] = &c
	}
	fmt.Fprintln(w, lang.Render(q, shifted))
}
