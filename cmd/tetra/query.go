package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

const querySynopsis = "[--data DIR] [--at T] [--json] [--explain] [--max-elements N] [--timeout D] 'QUERY'"

// runQuery implements tetra query: run one TQL statement against a data
// directory and print the result as tables, as JSON, or its plan.
func runQuery(e *env, args []string) int {
	fs := newFlags(e, "query", querySynopsis)
	data := dataFlag(fs)
	at := fs.String("at", "", "run the query as if it were `T`: the graph as it was then, relative times counted from then")
	asJSON := fs.Bool("json", false, "print the result as one JSON document")
	explain := fs.Bool("explain", false, "print the query plan instead of running the query")
	maxElems := fs.Int("max-elements", exec.DefaultMaxElements, "fail a query that holds more than `N` components")
	timeout := fs.Duration("timeout", exec.DefaultTimeout, "fail a query that runs longer than `D`")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) == 0:
		return misuse(e, fs, "no query")
	case len(pos) > 1:
		return misuse(e, fs, "one query at a time: quote it, as in tetra query 'name = \"x\"'")
	case *maxElems <= 0:
		return misuse(e, fs, "--max-elements must be at least 1")
	case *timeout <= 0:
		return misuse(e, fs, "--timeout must be positive, as in --timeout 10s")
	case *explain && *asJSON:
		return misuse(e, fs, "--explain prints a drawn plan; it does not go with --json")
	}
	now, code := queryClock(e, *at)
	if code != exitOK {
		return code
	}
	src := pos[0]
	stmt, err := lang.Parse(src)
	if err != nil {
		fmt.Fprint(e.stderr, lang.Render(src, err))
		return exitUser
	}
	st, err := openStore(*data, true, e.now)
	if err != nil {
		return userError(e, "query", err)
	}
	defer st.Close()
	eng := exec.New(st, exec.Options{MaxElements: *maxElems, Timeout: *timeout, Now: now})
	if *explain {
		return printExplain(e, eng, src, stmt)
	}
	res, err := eng.Run(context.Background(), stmt)
	if err != nil {
		return queryError(e, src, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return userError(e, "query", err)
		}
		return exitOK
	}
	if err := repl.WriteResult(e.stdout, res); err != nil {
		return userError(e, "query", err)
	}
	return exitOK
}

// queryClock returns the clock a query starts by: now, or the --at time.
func queryClock(e *env, at string) (func() time.Time, int) {
	if at == "" {
		return e.now, exitOK
	}
	tv, err := lang.ParseTime(at)
	if err != nil {
		fmt.Fprint(e.stderr, "tetra query: --at: ", lang.Render(at, err))
		return nil, exitMisuse
	}
	t := tv.Resolve(e.now())
	return func() time.Time { return t }, exitOK
}

func printExplain(e *env, eng *exec.Engine, src string, stmt lang.Statement) int {
	plan, err := eng.Explain(stmt)
	if err != nil {
		return queryError(e, src, err)
	}
	fmt.Fprint(e.stdout, plan)
	return exitOK
}

// queryError reports a failed query: language errors with their caret,
// everything else as its message.
func queryError(e *env, src string, err error) int {
	if lang.Locate(src, err) != nil {
		fmt.Fprint(e.stderr, lang.Render(src, err))
		return exitUser
	}
	return userError(e, "query", err)
}
