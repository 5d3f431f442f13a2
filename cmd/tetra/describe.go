package main

import (
	"errors"
	"fmt"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

// runDescribe implements tetra describe ID|NAME|IDENTIFIER: one component
// with its properties, sources, health and neighbours, from a data
// directory or a server.
func runDescribe(e *env, args []string) int {
	fs := newFlags(e, "describe")
	t := targetFlags(fs)
	at := fs.String("at", "", "describe the component as it was at `T`")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) != 1:
		return misuse(e, fs, "describe one component: give its id, name or identifier, quoted if it has spaces")
	case t.problem() != "":
		return misuse(e, fs, "%s", t.problem())
	}
	var opts repl.RunOptions
	if *at != "" {
		if opts.At, err = lang.ResolveTime(*at, e.now()); err != nil {
			fmt.Fprint(e.stderr, "tetra describe: --at: ", lang.Render(*at, err))
			return exitMisuse
		}
	}
	b, closer, err := t.backend(e, exec.Options{})
	if err != nil {
		return userError(e, "describe", err)
	}
	defer closer.Close()
	ctx, interrupted, release := e.stopOnInterrupt()
	defer release()
	d, err := repl.Describe(ctx, b, pos[0], opts)
	var amb *repl.AmbiguousError
	switch {
	case err != nil && interrupted():
		return interruptedExit(e, "describe", "")
	case errors.As(err, &amb):
		userError(e, "describe", err)
		repl.WriteAmbiguous(e.stdout, amb, repl.Options{Width: repl.TerminalWidth(e.stdout)})
		return exitUser
	case err != nil:
		return userError(e, "describe", err)
	}
	if err := repl.WriteDescription(e.stdout, d, repl.Options{Width: repl.TerminalWidth(e.stdout)}); err != nil {
		return userError(e, "describe", err)
	}
	return exitOK
}
