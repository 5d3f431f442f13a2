package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/repl"
	"github.com/tetrahq/tetra/scriptrt"
)

// runRepl implements tetra repl: an interactive shell over a data
// directory or a server. On a terminal it edits lines, completes and keeps
// history; with its input from a file or a pipe it runs the statements in
// it.
func runRepl(e *env, args []string) int {
	fs := newFlags(e, "repl")
	t := targetFlags(fs)
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
	case t.problem() != "":
		return misuse(e, fs, "%s", t.problem())
	case *history == "" && !*noHistory:
		*history = defaultHistoryFile(e)
	case *noHistory:
		*history = ""
	}
	backend, closeFn, err := replBackend(e, t, limits)
	if err != nil {
		return userError(e, "repl", err)
	}
	defer closeFn()
	cfg := repl.Config{
		Backend:     backend,
		In:          e.stdin,
		Out:         e.stdout,
		Err:         e.stderr,
		Terminal:    repl.Terminal(e.stdin, e.stdout),
		HistoryFile: *history,
		Now:         e.now,
	}
	if cfg.Terminal != nil {
		// Outside raw mode, the terminal turns Ctrl-C into SIGINT: it
		// cancels the running statement or watch instead of ending the
		// process. (SIGTERM ends the shell as it ends any program.)
		interrupt := make(chan os.Signal, 1)
		signal.Notify(interrupt, os.Interrupt)
		defer signal.Stop(interrupt)
		cfg.Interrupt = interrupt
		if t.remote() {
			fmt.Fprintf(e.stdout, "connected to %s; :help for help\n", *t.server)
		}
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

// replBackend is the shell's backend: a server's API, checked to answer
// before the first prompt, or the engine over the data directory with
// live subscriptions (:watch) and scripts (:script) in process.
func replBackend(e *env, t *target, limits limitFlags) (repl.Backend, func(), error) {
	if t.remote() {
		c, err := t.client()
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Whoami(ctx); err != nil {
			return nil, nil, err
		}
		return repl.NewRemote(c), func() {}, nil
	}
	l, err := t.openLocal(e, limits.options(e.now))
	if err != nil {
		return nil, nil, err
	}
	b := repl.NewEmbedded(l.eng)
	hub, err := live.New(live.Config{Engine: l.eng, Store: l.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	rt, err := scriptrt.New(scriptrt.Config{Engine: l.eng, Now: e.now})
	if err != nil {
		hub.Close(context.Background())
		l.Close()
		return nil, nil, err
	}
	b.Hub, b.Scripts = hub, rt
	return b, func() {
		hub.Close(context.Background())
		l.Close()
	}, nil
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
