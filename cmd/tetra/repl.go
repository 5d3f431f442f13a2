package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/repl"
)

const replSynopsis = "[--data DIR] [--history FILE | --no-history] [--max-elements N] [--timeout D]"

// runRepl implements tetra repl: an interactive shell over a data
// directory. On a terminal it edits lines, completes and keeps history;
// with its input from a file or a pipe it runs the statements in it.
func runRepl(e *env, args []string) int {
	fs := newFlags(e, "repl", replSynopsis)
	data := dataFlag(fs)
	history := fs.String("history", "", "keep the shell's history in `FILE` (default $XDG_STATE_HOME/tetra/history, or ~/.local/state/tetra/history)")
	noHistory := fs.Bool("no-history", false, "keep no history")
	limits := addLimitFlags(fs)
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) > 0:
		return misuse(e, fs, "no query here: type queries at the prompt, or use tetra query 'QUERY'")
	case limits.problem() != "":
		return misuse(e, fs, "%s", limits.problem())
	case *history == "" && !*noHistory:
		*history = defaultHistoryFile(e)
	case *noHistory:
		*history = ""
	}
	st, err := openStore(*data, readOnly, e.now)
	if err != nil {
		return userError(e, "repl", err)
	}
	defer st.Close()
	cfg := repl.Config{
		Backend:     repl.NewEmbedded(exec.New(st, limits.options(e.now))),
		In:          e.stdin,
		Out:         e.stdout,
		Err:         e.stderr,
		Terminal:    repl.Terminal(e.stdin, e.stdout),
		HistoryFile: *history,
		Now:         e.now,
	}
	// main stops commands gracefully on the first SIGINT or SIGTERM; the
	// shell wants neither: Ctrl-C cancels a statement, and SIGTERM ends
	// it as it ends any program.
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	if cfg.Terminal != nil {
		// Outside raw mode, the terminal turns Ctrl-C into SIGINT: it
		// cancels the running statement instead of ending the process.
		interrupt := make(chan os.Signal, 1)
		signal.Notify(interrupt, os.Interrupt)
		defer signal.Stop(interrupt)
		cfg.Interrupt = interrupt
	} else {
		cfg.HistoryFile = "" // a script has no history to keep
	}
	switch err := repl.Run(context.Background(), cfg); {
	case errors.Is(err, repl.ErrFailed):
		return exitUser
	case err != nil:
		return userError(e, "repl", err)
	}
	return exitOK
}

// defaultHistoryFile is where the shell keeps its history: under
// $XDG_STATE_HOME, or ~/.local/state, as the XDG base directory
// specification says for state; "" when neither is known.
func defaultHistoryFile(e *env) string {
	dir := e.getenv("XDG_STATE_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "tetra", "history")
}
