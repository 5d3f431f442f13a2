// Package repl owns Tetra's terminal surface: the text rendering of results
// that `tetra query` and the shell print, and the interactive shell of
// `tetra repl`.
//
// Rendering: every kind of result fills a Table (render.go for topology and
// CHANGES; data.go for METRICS, with min, mean, max and a sparkline per
// series, EVENTS and TRACES), and Table.Write
// escapes every cell (Escape: control characters, bidirectional overrides
// and invalid UTF-8 never reach a terminal raw) and fits the table to a
// width, cutting and then leaving out columns in the order their Keep says.
// WriteResult fits to the terminal when its writer is one and prints whole
// otherwise.
//
// The shell (Run) reads lines, through readline on a terminal (terminal.go)
// or plainly from a script, gathers them into statements (input.go: a
// statement ends when it is whole at the end of a line, at ; or at a blank
// line), runs meta commands itself (meta.go) and everything else through a
// Backend (backend.go): Embedded runs an exec.Engine in this process; a
// server backend is another implementation of the same three methods. A
// running statement is cancelled when Config.Interrupt delivers (the
// SIGINT a terminal sends for Ctrl-C outside raw mode). Completion
// (complete.go, walk.go) follows the grammar over lang.Tokens of the text
// before the cursor and proposes words from lang.Words and values from the
// backend, cached in valueCache (values.go).
//
// Errors are printed with lang.Render: the caret under the part of the
// query they are about, and the hint.
package repl
