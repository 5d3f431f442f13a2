package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

const querySynopsis = "[--data DIR | --server URL [--key K]] [--at T] [--json] [--explain] [--max-elements N] [--timeout D] 'QUERY'"

// queryArgs are tetra query's flags and its statement.
type queryArgs struct {
	data, server, key *string
	at                *string
	asJSON, explain   *bool
	limits            limitFlags
	set               map[string]bool // flags given on the command line
	src               string
	stmt              lang.Statement
	now               time.Time // the --at time, zero without
}

// runQuery implements tetra query: run one TQL statement against a data
// directory, or a server, and print the result as tables, as JSON, or its
// plan. Both ways print the same.
func runQuery(e *env, args []string) int {
	fs := newFlags(e, "query", querySynopsis)
	q := &queryArgs{data: dataFlag(fs)}
	q.server = fs.String("server", e.getenv("TETRA_SERVER"), "ask the tetra server at `URL` instead of reading --data (default $TETRA_SERVER)")
	q.key = fs.String("key", e.getenv("TETRA_API_KEY"), "API `KEY` for --server (default $TETRA_API_KEY)")
	q.at = fs.String("at", "", "run the query as if it were `T`: the graph as it was then, relative times counted from then")
	q.asJSON = fs.Bool("json", false, "print the result as one JSON document")
	q.explain = fs.Bool("explain", false, "print the query plan instead of running the query")
	q.limits = addLimitFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if code := q.check(e, fs, pos); code != exitOK {
		return code
	}
	stmt, err := lang.Parse(q.src)
	if err != nil {
		fmt.Fprint(e.stderr, lang.Render(q.src, err))
		return exitUser
	}
	q.stmt = stmt
	if *q.server != "" {
		return queryServer(e, q)
	}
	return queryLocal(e, q)
}

// check validates the flags and takes the query from the arguments.
func (q *queryArgs) check(e *env, fs *flag.FlagSet, pos []string) int {
	q.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { q.set[f.Name] = true })
	switch {
	case len(pos) == 0:
		return misuse(e, fs, "no query")
	case len(pos) > 1:
		return misuse(e, fs, "one query at a time: quote it, as in tetra query 'name = \"x\"'")
	case q.limits.problem() != "":
		return misuse(e, fs, "%s", q.limits.problem())
	case *q.explain && *q.asJSON:
		return misuse(e, fs, "--explain prints a drawn plan; it does not go with --json")
	case *q.server != "" && q.set["data"]:
		return misuse(e, fs, "--data reads a data directory, --server asks a server: give one")
	case *q.key != "" && *q.server == "" && q.set["key"]:
		return misuse(e, fs, "--key goes with --server")
	}
	q.src = pos[0]
	if *q.at != "" {
		t, err := lang.ResolveTime(*q.at, e.now())
		if err != nil {
			fmt.Fprint(e.stderr, "tetra query: --at: ", lang.Render(*q.at, err))
			return exitMisuse
		}
		q.now = t
	}
	return exitOK
}

// queryLocal runs the query on the data directory, opened read-only.
func queryLocal(e *env, q *queryArgs) int {
	st, err := openStore(*q.data, readOnly, e.now)
	if err != nil {
		return userError(e, "query", err)
	}
	defer st.Close()
	eng := exec.New(st, q.limits.options(e.now))
	opts := exec.QueryOptions{Now: q.now}
	if *q.explain {
		plan, err := eng.ExplainWith(q.stmt, opts)
		return printPlan(e, q.src, plan, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *q.limits.timeout) // covers encoding too
	defer cancel()
	res, err := eng.RunWith(ctx, q.stmt, opts)
	if err != nil {
		return queryError(e, q.src, err)
	}
	if *q.asJSON {
		doc, err := exec.AppendJSON(ctx, nil, res, exec.EncodeOptions{})
		if err != nil {
			return queryError(e, q.src, deadlineOf(ctx, err, *q.limits.timeout))
		}
		return printBytes(e, doc)
	}
	return printResult(e, res)
}

// queryServer asks a server. The output is what queryLocal prints for the
// same data: the same result JSON, tables, plan and errors.
func queryServer(e *env, q *queryArgs) int {
	c, err := client.New(*q.server, client.Options{Key: *q.key})
	if err != nil {
		return userError(e, "query", err)
	}
	req := api.QueryRequest{Query: q.src}
	if !q.now.IsZero() {
		req.At = q.now.UTC().Format(time.RFC3339Nano)
	}
	if q.set["timeout"] {
		req.TimeoutMs = q.limits.timeout.Milliseconds()
	}
	if q.set["max-elements"] {
		req.MaxElements = *q.limits.maxElements
	}
	// The server bounds the query; this bounds the wait for its answer.
	ctx, cancel := context.WithTimeout(context.Background(), *q.limits.timeout+10*time.Second)
	defer cancel()
	switch {
	case *q.explain:
		plan, err := c.Explain(ctx, req)
		return printPlan(e, q.src, plan, err)
	case *q.asJSON:
		doc, err := c.QueryRaw(ctx, req)
		if err != nil {
			return queryError(e, q.src, err)
		}
		return printBytes(e, doc)
	}
	res, err := c.Query(ctx, req)
	if err != nil {
		return queryError(e, q.src, err)
	}
	return printResult(e, res)
}

// deadlineOf reports the query's own deadline met while encoding as its
// timeout.
func deadlineOf(ctx context.Context, err error, limit time.Duration) error {
	if ctx.Err() == context.DeadlineExceeded && err == context.DeadlineExceeded {
		return &exec.TimeoutError{Timeout: limit}
	}
	return err
}

func printPlan(e *env, src, plan string, err error) int {
	if err != nil {
		return queryError(e, src, err)
	}
	fmt.Fprint(e.stdout, plan)
	return exitOK
}

func printBytes(e *env, b []byte) int {
	if _, err := e.stdout.Write(b); err != nil {
		return userError(e, "query", err)
	}
	return exitOK
}

func printResult(e *env, res *exec.Result) int {
	if err := repl.WriteResult(e.stdout, res); err != nil {
		return userError(e, "query", err)
	}
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
