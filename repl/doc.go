// Package repl will own the interactive shell: reading TQL statements,
// rendering results and positioned errors, and history.
//
// It holds no code yet; see docs/architecture.md for its place in the data
// flow.
package repl
