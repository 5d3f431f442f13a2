package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// tools are the MCP tools of one caller. Every tool builds a TQL statement
// and runs it through the engine with the caller's scope: the tools have
// no query path of their own.
type tools struct {
	cfg Config
	acc Access
}

// Default and largest number of elements a tool lists.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// The tools' inputs. The jsonschema tags are the descriptions an assistant
// reads; the SDK derives the JSON schemas from these types.
type (
	QueryInput struct {
		Statement string `json:"statement" jsonschema:"one TQL statement. Topology filters: type = \"service\", name = \"orders*\", label = \"app:checkout\", healthstate = \"CRITICAL\", combined with AND, OR, NOT and parentheses; withNeighborsOf(components = (name = \"orders\"), levels = \"1\", direction = \"up\") for what depends on a component (direction \"down\": what it depends on; \"both\"); a filter followed by CHANGES FROM \"-1h\" TO \"now\" for what changed; METRICS, EVENTS and TRACES statements for telemetry (tetra://docs/query-language has the grammar)"`
		At        string `json:"at,omitempty" jsonschema:"run the statement as if it were this time: now, -1h, -30m, an ISO-8601 time or epoch milliseconds (default now); relative times in the statement count from it"`
		Limit     int    `json:"limit,omitempty" jsonschema:"the most components, relations or changes listed, 1 to 500 (default 50); the counts are always complete"`
	}
	ExplainInput struct {
		Statement string `json:"statement" jsonschema:"one TQL topology statement to explain"`
		At        string `json:"at,omitempty" jsonschema:"the time the statement would run at (default now)"`
	}
	DescribeInput struct {
		ID         int64  `json:"id,omitempty" jsonschema:"the component's id (from an earlier answer)"`
		Identifier string `json:"identifier,omitempty" jsonschema:"one of the component's identifiers, such as urn:service:/checkout"`
		Name       string `json:"name,omitempty" jsonschema:"the component's name (exact, any case); when several components share it they are listed with their ids"`
		At         string `json:"at,omitempty" jsonschema:"describe the component as it was at this time (default now)"`
		Since      string `json:"since,omitempty" jsonschema:"how far back recent changes go (default -24h)"`
	}
	ChangesInput struct {
		Filter string `json:"filter,omitempty" jsonschema:"a topology filter of the components to compare, such as withNeighborsOf(components = (name = \"orders\"), levels = \"1\") for around a component (default: every component)"`
		From   string `json:"from,omitempty" jsonschema:"the start of the range: -1h, ISO-8601, epoch milliseconds (default -1h)"`
		To     string `json:"to,omitempty" jsonschema:"the end of the range (default now)"`
		Limit  int    `json:"limit,omitempty" jsonschema:"the most changes listed per kind, 1 to 500 (default 50)"`
	}
	SearchInput struct {
		Filter   string `json:"filter,omitempty" jsonschema:"a filter of the events or spans, as after WHERE: category = \"Alerts\", service = \"checkout\" AND duration > 500ms (default: all)"`
		Topology string `json:"topology,omitempty" jsonschema:"a topology filter: only events or spans of these components, such as name = \"orders\""`
		From     string `json:"from,omitempty" jsonschema:"the start of the range (default -1h)"`
		To       string `json:"to,omitempty" jsonschema:"the end of the range (default now)"`
		Limit    int    `json:"limit,omitempty" jsonschema:"the most events or traces returned, 1 to 500 (default 50)"`
	}
	ValuesInput struct {
		Key    string `json:"key" jsonschema:"a topology key with values: name, type, layer, domain, environment, label, healthstate or identifier"`
		Prefix string `json:"prefix,omitempty" jsonschema:"only values that start with this"`
		Limit  int    `json:"limit,omitempty" jsonschema:"the most values listed, 1 to 500 (default 100)"`
	}
	ScriptInput struct {
		Script    string `json:"script" jsonschema:"JavaScript with StackState's script APIs: Topology.query(q).components(), Component.withId(id).get(), Telemetry.query, Events.query, Time, tql(statement); the value of the last expression is the result"`
		TimeoutMs int64  `json:"timeoutMs,omitempty" jsonschema:"stop the script after this many milliseconds (default 15000, at most 60000)"`
	}
)

// register adds the tools the caller may use.
func (t *tools) register(s *mcp.Server) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true}
	mcp.AddTool(s, &mcp.Tool{Name: "query", Title: "Run a TQL statement", Annotations: readOnly, Description: "Run one TQL statement against the topology (and its telemetry) and get a compact answer: counts, then components as `#id name [type, layer] health`, relations as `#id source -type-> target`, or changes. Use ids from the answer with describe_component. Lists stop at limit and say so; counts are complete."}, t.query)
	mcp.AddTool(s, &mcp.Tool{Name: "explain", Title: "Explain a query", Annotations: readOnly, Description: "Show how Tetra would run a TQL topology statement: the plan as a tree, with the index each step uses and estimated sizes. Use it to understand why a statement is slow or returns what it does."}, t.explain)
	mcp.AddTool(s, &mcp.Tool{Name: "describe_component", Title: "Describe a component", Annotations: readOnly, Description: "Everything about one component, found by id, identifier or name: its type, layer, domain, labels, identifiers, sources and properties; its health; what it depends on and what depends on it (its neighbours, with relation types and ids); and what changed on it and its neighbours recently."}, t.describe)
	mcp.AddTool(s, &mcp.Tool{Name: "what_changed", Title: "What changed between two times", Annotations: readOnly, Description: "What changed in the topology between two times: components and relations added, removed and changed (with the fields that changed), optionally only among the components a filter selects, such as around one component."}, t.changes)
	mcp.AddTool(s, &mcp.Tool{Name: "search_events", Title: "Search events", Annotations: readOnly, Description: "Events (deployments, alerts, changes, health changes) in a time range, newest first, optionally only of some components."}, t.searchEvents)
	mcp.AddTool(s, &mcp.Tool{Name: "search_traces", Title: "Search traces", Annotations: readOnly, Description: "Traces (spans of requests through services) in a time range, optionally filtered (service = \"checkout\" AND duration > 500ms) and only of some components."}, t.searchTraces)
	mcp.AddTool(s, &mcp.Tool{Name: "list_values", Title: "List the values of a key", Annotations: readOnly, Description: "The values a topology key takes in the data (types, layers, names, labels, …), to write filters that match."}, t.values)
	if t.acc.Script && t.cfg.Runtime != nil {
		mcp.AddTool(s, &mcp.Tool{Name: "run_script", Title: "Run a script", Description: "Run a JavaScript script with StackState's script APIs over the topology and telemetry, for what one statement cannot say (joins, counts, reports). Needs an API key of role script."}, t.runScript)
	}
}

// options are the query options of a call: the caller's scope, the time.
func (t *tools) options(at string) (exec.QueryOptions, error) {
	o := exec.QueryOptions{Scope: t.acc.Scope, Timeout: t.cfg.Timeout}
	if at == "" {
		return o, nil
	}
	tm, err := lang.ResolveTime(at, t.cfg.Now())
	if err != nil {
		return o, fmt.Errorf("at %q: %s", at, lang.Render(at, err))
	}
	o.Now = tm
	return o, nil
}

// run parses and runs a statement, and renders its error for an assistant:
// a language error with the caret under the offending part.
func (t *tools) run(ctx context.Context, src string, o exec.QueryOptions) (*exec.Result, error) {
	stmt, err := lang.Parse(src)
	if err != nil {
		return nil, statementError(src, err)
	}
	res, err := t.cfg.Engine.RunWith(ctx, stmt, o)
	if err != nil {
		return nil, statementError(src, err)
	}
	return res, nil
}

// statementError is a tool error: the statement, the caret drawing of a
// language error, and what to do about a limit or a timeout.
func statementError(src string, err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "the statement failed: %s\n", src)
	if lang.Locate(src, err) != nil {
		b.WriteString(lang.Render(src, err))
		return errors.New(b.String())
	}
	b.WriteString("error: " + err.Error() + "\n")
	var le *exec.LimitError
	var te *exec.TimeoutError
	switch {
	case errors.As(err, &le):
		b.WriteString("hint: the statement selects more components than the limit; narrow the filter (type, name, label) or fewer levels of withNeighborsOf\n")
	case errors.As(err, &te):
		b.WriteString("hint: narrow the statement or the time range\n")
	case errors.Is(err, exec.ErrUnsupported):
		b.WriteString("hint: this server cannot answer this kind of statement\n")
	}
	return errors.New(b.String())
}

func limitOf(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxLimit:
		return maxLimit
	}
	return n
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func (t *tools) query(ctx context.Context, _ *mcp.CallToolRequest, in QueryInput) (*mcp.CallToolResult, any, error) {
	o, err := t.options(in.At)
	if err != nil {
		return nil, nil, err
	}
	res, err := t.run(ctx, in.Statement, o)
	if err != nil {
		return nil, nil, err
	}
	w := newWriter(t.cfg.MaxText)
	w.result(res, limitOf(in.Limit, defaultLimit))
	return text(w.String()), nil, nil
}

func (t *tools) explain(_ context.Context, _ *mcp.CallToolRequest, in ExplainInput) (*mcp.CallToolResult, any, error) {
	o, err := t.options(in.At)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := lang.Parse(in.Statement)
	if err != nil {
		return nil, nil, statementError(in.Statement, err)
	}
	plan, err := t.cfg.Engine.ExplainWith(stmt, o)
	if err != nil {
		return nil, nil, statementError(in.Statement, err)
	}
	return text(plan), nil, nil
}

func (t *tools) changes(ctx context.Context, _ *mcp.CallToolRequest, in ChangesInput) (*mcp.CallToolResult, any, error) {
	filter := strings.TrimSpace(in.Filter)
	if filter == "" {
		filter = `name = "*"`
	}
	if _, err := lang.ParseFilter(filter); err != nil {
		return nil, nil, statementError(filter, err)
	}
	from, to := or(in.From, "-1h"), or(in.To, "now")
	src := fmt.Sprintf("(%s) CHANGES FROM %s TO %s", filter, lang.Quote(from), lang.Quote(to))
	o, _ := t.options("")
	res, err := t.run(ctx, src, o)
	if err != nil {
		return nil, nil, err
	}
	w := newWriter(t.cfg.MaxText)
	w.result(res, limitOf(in.Limit, defaultLimit))
	return text(w.String()), nil, nil
}

func (t *tools) searchEvents(ctx context.Context, _ *mcp.CallToolRequest, in SearchInput) (*mcp.CallToolResult, any, error) {
	return t.search(ctx, "EVENTS", in, "")
}

func (t *tools) searchTraces(ctx context.Context, _ *mcp.CallToolRequest, in SearchInput) (*mcp.CallToolResult, any, error) {
	return t.search(ctx, "TRACES", in, "")
}

// search builds and runs an EVENTS or TRACES statement.
func (t *tools) search(ctx context.Context, kind string, in SearchInput, order string) (*mcp.CallToolResult, any, error) {
	var b strings.Builder
	b.WriteString(kind)
	if f := strings.TrimSpace(in.Filter); f != "" {
		b.WriteString(" WHERE " + f)
	}
	if f := strings.TrimSpace(in.Topology); f != "" {
		b.WriteString(" FOR (" + f + ")")
	}
	fmt.Fprintf(&b, " FROM %s TO %s%s LIMIT %d", lang.Quote(or(in.From, "-1h")), lang.Quote(or(in.To, "now")), order, limitOf(in.Limit, defaultLimit))
	o, _ := t.options("")
	res, err := t.run(ctx, b.String(), o)
	if err != nil {
		return nil, nil, err
	}
	w := newWriter(t.cfg.MaxText)
	w.result(res, limitOf(in.Limit, defaultLimit))
	return text(w.String()), nil, nil
}

func (t *tools) values(ctx context.Context, _ *mcp.CallToolRequest, in ValuesInput) (*mcp.CallToolResult, any, error) {
	limit := limitOf(in.Limit, 100)
	vals, err := t.cfg.Engine.Values(ctx, strings.ToLower(strings.TrimSpace(in.Key)), in.Prefix, limit+1, exec.QueryOptions{Scope: t.acc.Scope})
	if err != nil {
		return nil, nil, err
	}
	w := newWriter(t.cfg.MaxText)
	n := len(vals)
	if n > limit {
		vals = vals[:limit]
		w.line("%s values: more than %d; showing the first %d (give a prefix to narrow them)", in.Key, limit, limit)
	} else {
		w.line("%s values: %d", in.Key, n)
	}
	for _, v := range vals {
		w.line("%s", v)
	}
	return text(w.String()), nil, nil
}

// scriptTimeouts bound run_script.
const (
	defaultScriptTimeout = 15 * time.Second
	maxScriptTimeout     = time.Minute
)

func (t *tools) runScript(ctx context.Context, _ *mcp.CallToolRequest, in ScriptInput) (*mcp.CallToolResult, any, error) {
	timeout := defaultScriptTimeout
	if in.TimeoutMs > 0 {
		timeout = min(time.Duration(in.TimeoutMs)*time.Millisecond, maxScriptTimeout)
	}
	res, err := t.cfg.Runtime.Run(ctx, scriptrt.Request{Script: in.Script, Timeout: timeout, Scope: t.acc.Scope, Name: "script"})
	if err != nil {
		return nil, nil, scriptError(err)
	}
	w := newWriter(t.cfg.MaxText)
	w.line("result (%s):", res.Type)
	w.raw(res.Value)
	return text(w.String()), nil, nil
}

// scriptError renders a script's error: the caret drawing when a query of
// the script failed.
func scriptError(err error) error {
	var se *scriptrt.ScriptError
	if errors.As(err, &se) && se.Query != "" && lang.Locate(se.Query, se.Err) != nil {
		return fmt.Errorf("the script failed at %d:%d in this query:\n%s", se.Line, se.Column, lang.Render(se.Query, se.Err))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "scriptrt: "))
}

func or(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
