package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

// queryArgs are tetra query's flags and its statements.
type queryArgs struct {
	*target
	at                     *string
	output                 *string
	asJSON, noHeaders      *bool
	explain                *bool
	file                   *string
	limits                 limitFlags
	set                    map[string]bool // flags given on the command line
	stmts                  []repl.Statement
	now                    time.Time // the --at time, zero without
	runner                 queryRunner
	interrupted            func() bool
	failed, printedResults int
}

// maxQueryFile bounds a file of queries.
const maxQueryFile = 16 << 20

// runQuery implements tetra query: run TQL statements against a data
// directory, or a server, and print the results as tables, in another
// format, or their plans. Both ways print the same.
func runQuery(e *env, args []string) int {
	fs := newFlags(e, "query")
	q := &queryArgs{target: targetFlags(fs)}
	q.at = fs.String("at", "", "run the queries as if it were `T`: the graph as it was then, relative times counted from then")
	q.output = outputFlag(fs, "table", repl.Formats...)
	q.asJSON = fs.Bool("json", false, "the same as -o json: one JSON document a statement, errors as JSON too")
	q.noHeaders = fs.Bool("no-headers", false, "leave out the tables' header rows")
	q.explain = fs.Bool("explain", false, "print the query plans instead of running the queries")
	q.file = fs.String("f", "", "run the statements in `FILE` (- reads stdin): each ends at ; or a blank line; # starts a comment line")
	q.limits = addLimitFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if code := q.check(e, fs, pos); code != exitOK {
		return code
	}
	ctx, interrupted, release := e.stopOnInterrupt()
	defer release()
	q.interrupted = interrupted
	closeRunner, err := q.open(e)
	if err != nil {
		return q.fail(e, "", err)
	}
	defer closeRunner()
	for _, st := range q.stmts {
		q.runOne(ctx, e, st)
		if interrupted() {
			return interruptedExit(e, "query", "")
		}
	}
	if q.failed > 0 {
		return exitUser
	}
	return exitOK
}

// check validates the flags and gathers the statements.
func (q *queryArgs) check(e *env, fs *flags, pos []string) int {
	q.set = fs.given()
	if *q.asJSON {
		*q.output = "json"
	}
	switch {
	case len(pos) == 0 && *q.file == "":
		return misuse(e, fs, "no query: give one, as in tetra query 'type = \"service\"', or -f FILE")
	case len(pos) > 0 && *q.file != "":
		return misuse(e, fs, "give queries or -f FILE, not both")
	case q.limits.problem() != "":
		return misuse(e, fs, "%s", q.limits.problem())
	case *q.explain && *q.output != "table":
		return misuse(e, fs, "--explain prints a drawn plan; it does not go with -o %s", *q.output)
	case q.target.problem() != "":
		return misuse(e, fs, "%s", q.target.problem())
	}
	if *q.at != "" {
		t, err := lang.ResolveTime(*q.at, e.now())
		if err != nil {
			fmt.Fprint(e.stderr, "tetra query: --at: ", lang.Render(*q.at, err))
			return exitMisuse
		}
		q.now = t
	}
	if *q.file == "" {
		for _, p := range pos {
			q.stmts = append(q.stmts, repl.Statement{Text: p, Line: 1})
		}
		return exitOK
	}
	return q.readFile(e)
}

// readFile reads -f FILE's statements.
func (q *queryArgs) readFile(e *env) int {
	r, closeFn, err := openInput(e, *q.file)
	if err != nil {
		return userError(e, "query", err)
	}
	defer closeFn()
	b, err := io.ReadAll(io.LimitReader(r, maxQueryFile+1))
	if err != nil {
		return userError(e, "query", fmt.Errorf("reading %s: %w", *q.file, err))
	}
	if len(b) > maxQueryFile {
		return userError(e, "query", fmt.Errorf("%s is bigger than %d MiB, too big for a file of queries", *q.file, maxQueryFile>>20))
	}
	q.stmts = repl.SplitStatements(strings.TrimPrefix(string(b), "\ufeff"))
	if len(q.stmts) == 0 {
		return userError(e, "query", fmt.Errorf("%s holds no statement", *q.file))
	}
	return exitOK
}

// queryRunner runs statements: on the engine over a data directory, or on
// a server.
type queryRunner interface {
	// run runs a statement; doc is its result document when JSON is
	// asked for (exactly what the server wrote, for a server).
	run(ctx context.Context, src string, stmt lang.Statement, wantJSON bool) (res *exec.Result, doc []byte, err error)
	explain(ctx context.Context, src string, stmt lang.Statement) (string, error)
}

// open sets the runner up; what it returns releases it.
func (q *queryArgs) open(e *env) (func(), error) {
	if q.remote() {
		c, err := q.client()
		if err != nil {
			return nil, err
		}
		q.runner = &serverRunner{c: c, q: q}
		return func() {}, nil
	}
	l, err := q.openLocal(e, q.limits.options(e.now))
	if err != nil {
		return nil, err
	}
	q.runner = &localRunner{l: l, q: q}
	return func() { l.Close() }, nil
}

// runOne runs one statement and prints its result or its error.
func (q *queryArgs) runOne(ctx context.Context, e *env, st repl.Statement) {
	if st.Meta {
		q.fail(e, st.Text, fmt.Errorf("line %d: %s is a command of the shell; tetra query runs statements (tetra repl < FILE runs commands too)", st.Line, firstWord(st.Text)))
		return
	}
	stmt, err := lang.Parse(st.Text)
	if err != nil {
		q.failAt(e, st, err)
		return
	}
	if *q.explain {
		plan, err := q.runner.explain(ctx, st.Text, stmt)
		if err != nil {
			q.failAt(e, st, err)
			return
		}
		q.separate(e)
		fmt.Fprint(e.stdout, plan)
		return
	}
	res, doc, err := q.runner.run(ctx, st.Text, stmt, *q.output == "json")
	if err != nil {
		q.failAt(e, st, err)
		return
	}
	q.print(e, res, doc)
}

// print writes one result in the chosen format; tables of several
// statements are set apart by a blank line.
func (q *queryArgs) print(e *env, res *exec.Result, doc []byte) {
	if *q.output == "json" {
		e.stdout.Write(doc)
		return
	}
	if *q.output == "table" || *q.output == "wide" {
		q.separate(e)
	}
	if err := repl.Render(e.stdout, res, renderOptions(e, *q.output, *q.noHeaders)); err != nil {
		q.fail(e, "", err)
	}
}

func (q *queryArgs) separate(e *env) {
	if q.printedResults > 0 {
		fmt.Fprintln(e.stdout)
	}
	q.printedResults++
}

// failAt reports a statement's error; from a file, with its line.
func (q *queryArgs) failAt(e *env, st repl.Statement, err error) {
	if q.interrupted() && isCancel(err) {
		return
	}
	if *q.file != "" && *q.output != "json" {
		fmt.Fprintf(e.stderr, "line %d:\n", st.Line)
		err = shiftLines(st.Text, err, st.Line-1)
	}
	q.fail(e, st.Text, err)
}

// fail reports an error: the caret block for a query's error, its message
// otherwise; with -o json, the API's error document on stdout.
func (q *queryArgs) fail(e *env, src string, err error) int {
	q.failed++
	if *q.output == "json" {
		writeJSONError(e.stdout, src, err)
		return exitUser
	}
	if src != "" && lang.Locate(src, err) != nil {
		fmt.Fprint(e.stderr, lang.Render(src, err))
		return exitUser
	}
	return userError(e, "query", err)
}

// writeJSONError writes an error as the API answers with it:
// {"error": {"class", "message", "line", "col", "hint", …}}.
func writeJSONError(w io.Writer, src string, err error) {
	var doc struct {
		Error *api.Error `json:"error"`
	}
	doc.Error = api.ClassifyQuery(src, err)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(doc)
	w.Write(b.Bytes())
}

// shiftLines moves a query's positioned errors down by n lines, for a
// statement that starts on line n+1 of a file.
func shiftLines(src string, err error, n int) error {
	errs := lang.Locate(src, err)
	if errs == nil || n == 0 {
		return err
	}
	out := make(lang.ErrorList, len(errs))
	for i, le := range errs {
		c := *le
		c.Line += n
		out[i] = &c
	}
	return out
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// localRunner runs statements on the engine over a data directory.
type localRunner struct {
	l *local
	q *queryArgs
}

func (r *localRunner) run(ctx context.Context, src string, stmt lang.Statement, wantJSON bool) (*exec.Result, []byte, error) {
	timeout := *r.q.limits.timeout
	ctx, cancel := context.WithTimeout(ctx, timeout) // covers encoding too
	defer cancel()
	res, err := r.l.eng.RunWith(ctx, stmt, exec.QueryOptions{Now: r.q.now})
	if err != nil {
		return nil, nil, withOldest(err, r.l.st)
	}
	if !wantJSON {
		return res, nil, nil
	}
	doc, err := exec.AppendJSON(ctx, nil, res, exec.EncodeOptions{})
	if err != nil {
		return nil, nil, deadlineOf(ctx, err, timeout)
	}
	return res, doc, nil
}

func (r *localRunner) explain(_ context.Context, _ string, stmt lang.Statement) (string, error) {
	return r.l.eng.ExplainWith(stmt, exec.QueryOptions{Now: r.q.now})
}

// serverRunner asks a server. It prints what localRunner prints for the
// same data: the same result JSON, tables, plans and errors.
type serverRunner struct {
	c *client.Client
	q *queryArgs
}

func (r *serverRunner) request(src string) api.QueryRequest {
	req := api.QueryRequest{Query: src, At: client.AtParam(r.q.now)}
	if r.q.set["timeout"] {
		req.TimeoutMs = r.q.limits.timeout.Milliseconds()
	}
	if r.q.set["max-elements"] {
		req.MaxElements = *r.q.limits.maxElements
	}
	return req
}

func (r *serverRunner) run(ctx context.Context, src string, _ lang.Statement, wantJSON bool) (*exec.Result, []byte, error) {
	ctx, cancel := withTimeout(ctx, *r.q.limits.timeout)
	defer cancel()
	if wantJSON {
		doc, err := r.c.QueryRaw(ctx, r.request(src))
		return nil, doc, err
	}
	res, err := r.c.Query(ctx, r.request(src))
	return res, nil, err
}

func (r *serverRunner) explain(ctx context.Context, src string, _ lang.Statement) (string, error) {
	ctx, cancel := withTimeout(ctx, *r.q.limits.timeout)
	defer cancel()
	return r.c.Explain(ctx, r.request(src))
}

// deadlineOf reports the query's own deadline met while encoding as its
// timeout.
func deadlineOf(ctx context.Context, err error, limit time.Duration) error {
	if ctx.Err() == context.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded) {
		return &exec.TimeoutError{Timeout: limit}
	}
	return err
}
