package main

import (
	"strings"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

// runValues implements tetra values [KEY [PREFIX]]: the values of a
// topology key that components carry, with how many carry each (the keys,
// without KEY), from a data directory or a server.
func runValues(e *env, args []string) int {
	fs := newFlags(e, "values")
	t := targetFlags(fs)
	at := fs.String("at", "", "list the values at `T`: the graph as it was then")
	limit := fs.Int("limit", repl.MaxValueList, "list at most `N` values")
	out := outputFlag(fs, "table", "table", "json", "tsv", "name")
	noHeaders := fs.Bool("no-headers", false, "leave out the header row")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) > 2:
		return misuse(e, fs, "give a key and a prefix at most, as in tetra values label app:")
	case *limit < 1:
		return misuse(e, fs, "--limit must be at least 1")
	case t.problem() != "":
		return misuse(e, fs, "%s", t.problem())
	}
	o := renderOptions(e, *out, *noHeaders)
	if len(pos) == 0 {
		repl.WriteKeys(e.stdout, o)
		return exitOK
	}
	key, err := repl.ValueKey(pos[0])
	if err != nil {
		return misuse(e, fs, "%v", err)
	}
	var opts repl.RunOptions
	if *at != "" {
		if opts.At, err = lang.ResolveTime(*at, e.now()); err != nil {
			e.stderr.Write([]byte("tetra values: --at: " + lang.Render(*at, err)))
			return exitMisuse
		}
	}
	prefix := ""
	if len(pos) > 1 {
		prefix = pos[1]
	}
	return listValues(e, t, key, prefix, *limit, opts, *out, o)
}

func listValues(e *env, t *target, key, prefix string, limit int, opts repl.RunOptions, out string, o repl.Options) int {
	b, closeFn, err := t.backend(e, exec.Options{})
	if err != nil {
		return userError(e, "values", err)
	}
	defer closeFn.Close()
	ctx, interrupted, release := e.stopOnInterrupt()
	defer release()
	vals, err := b.ValueCounts(ctx, key, prefix, limit+1, opts)
	if err != nil {
		if interrupted() {
			return interruptedExit(e, "values", "")
		}
		return userError(e, "values", err)
	}
	more := len(vals) > limit
	if more {
		vals = vals[:limit]
	}
	if out == "json" {
		if vals == nil {
			vals = []exec.ValueCount{}
		}
		return printJSON(e, struct {
			Key    string            `json:"key"`
			Values []exec.ValueCount `json:"values"`
			More   bool              `json:"more"`
		}{key, vals, more})
	}
	if err := repl.WriteValues(e.stdout, strings.ToLower(key), vals, more, o); err != nil {
		return userError(e, "values", err)
	}
	return exitOK
}
