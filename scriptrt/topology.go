package scriptrt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// The script APIs build TQL statements and run them through the engine,
// with the run's clock, limits and scope (exec.QueryOptions): there is no
// other query path. A builder keeps the canonical text of its parts, prints
// its statement, and parses it back with lang.Parse, so the statement a
// script runs is exactly what `tetra query` would run for that text.

// installAPIs defines the script APIs as globals.
func (s *session) installAPIs() {
	g := s.vm.GlobalObject()
	s.define(g, "Topology", map[string]func(goja.FunctionCall) goja.Value{"query": s.topologyQuery})
	s.define(g, "Component", map[string]func(goja.FunctionCall) goja.Value{"withId": s.componentWithID})
	s.define(g, "Telemetry", map[string]func(goja.FunctionCall) goja.Value{"query": s.telemetryQuery})
	s.define(g, "Events", map[string]func(goja.FunctionCall) goja.Value{"query": s.eventsQuery, "emit": s.eventsEmit})
	s.define(g, "Health", map[string]func(goja.FunctionCall) goja.Value{"set": s.healthSet})
	s.define(g, "Traces", map[string]func(goja.FunctionCall) goja.Value{"query": s.tracesQuery})
	s.define(g, "Async", map[string]func(goja.FunctionCall) goja.Value{"sequence": s.sequence})
	s.define(g, "Time", map[string]func(goja.FunctionCall) goja.Value{
		"now": s.timeNow, "epochMs": s.timeEpochMs, "format": s.timeFormat,
	})
	s.define(g, "Http", s.httpMethods())
	_ = g.Set("tql", s.function("tql", s.tql))
}

// define makes a global namespace object of functions.
func (s *session) define(g *goja.Object, name string, fns map[string]func(goja.FunctionCall) goja.Value) {
	obj := s.vm.NewObject()
	for n, fn := range fns {
		s.method(obj, n, fn)
	}
	_ = g.DefineDataProperty(name, obj, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// argError is a script API called with a wrong argument; it surfaces as a
// TypeError.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func argErrorf(format string, args ...any) error { return &argError{fmt.Sprintf(format, args...)} }

// stringArg returns argument i as a string, throwing a TypeError when it is
// not one.
func (s *session) stringArg(call goja.FunctionCall, i int, what string) string {
	v := call.Argument(i)
	if !goja.IsString(v) {
		s.throw(argErrorf("%s must be a string", what), "")
	}
	return v.String()
}

// parse parses a statement a builder printed; an error is thrown with the
// text, so that the message draws a caret under the part at fault.
func (s *session) parse(text string) lang.Statement {
	stmt, err := lang.Parse(text)
	if err != nil {
		s.throw(err, text)
	}
	return stmt
}

// parseFilter parses a topology filter an API was given.
func (s *session) parseFilter(q string) string {
	expr, err := lang.ParseFilter(q)
	if err != nil {
		s.throw(err, q)
	}
	return lang.Format(expr)
}

// run runs one statement for the script, counting it and the components it
// loads against the run's limits.
func (s *session) run(stmt lang.Statement) (*exec.Result, error) {
	s.calls++
	if s.calls > s.lim.MaxCalls {
		return nil, &LimitError{Limit: LimitCalls, Max: int64(s.lim.MaxCalls), Detail: "too many queries and requests in one run"}
	}
	res, err := s.rt.cfg.Engine.RunWith(s.ctx, stmt, exec.QueryOptions{
		Now: s.now, MaxElements: s.lim.MaxElements, Scope: s.req.Scope,
	})
	if err != nil {
		return nil, err
	}
	s.elements += loaded(res)
	if s.elements > s.lim.MaxRunElements {
		return nil, &LimitError{Limit: LimitElements, Max: int64(s.lim.MaxRunElements),
			Detail: fmt.Sprintf("the run's queries loaded %d components", s.elements)}
	}
	return res, nil
}

// loaded counts the components a result holds.
func loaded(res *exec.Result) int {
	switch {
	case res.Topology != nil:
		return res.Topology.Components.Len()
	case res.Changes != nil:
		c := res.Changes
		return len(c.Added.Components) + len(c.Removed.Components) + 2*len(c.Changed.Components)
	}
	return 0
}

// query is a builder that runs one statement when resolved, and gives the
// script shape(result) of it.
type query struct {
	s     *session
	text  string
	pos   position
	shape func(*exec.Result) goja.Value
	lazy
}

// newQuery makes the builder of a statement's text, checking it at once
// (so that a mistake throws where it is made) and keeping its canonical
// form.
func (s *session) newQuery(text string, shape func(*exec.Result) goja.Value) *query {
	return &query{s: s, text: lang.Format(s.parse(text)), pos: s.here(), shape: shape}
}

func (q *query) resolve() outcome {
	return q.get(func() outcome {
		stmt := q.s.parse(q.text)
		res, err := q.s.run(stmt)
		if err != nil {
			return q.s.reject(err, q.text, q.pos)
		}
		out := q.s.try(func() goja.Value { return q.shape(res) })
		q.s.placeRejection(out, q.pos)
		return out
	})
}

// ---- Topology.query ----

// topoBuilder is Topology.query(q) with its time.
type topoBuilder struct {
	filter string // canonical
	at     string // a TQL time literal, "" for now
}

func (b topoBuilder) statement() string {
	if b.at == "" {
		return b.filter
	}
	return b.filter + " AT " + b.at
}

func (s *session) topologyQuery(call goja.FunctionCall) goja.Value {
	q := s.stringArg(call, 0, "Topology.query's query")
	return s.topologyObject(topoBuilder{filter: s.parseFilter(q)})
}

// topologyObject is the JS builder of b: resolved, it is the topology
// result; components() and relations() narrow it; at() and diff() make new
// builders.
func (s *session) topologyObject(b topoBuilder) goja.Value {
	pos := s.here()
	whole := s.newQuery(b.statement(), func(r *exec.Result) goja.Value { return s.topologyValue(r.Topology) })
	whole.pos = pos
	return s.thenableObject(whole, map[string]func(goja.FunctionCall) goja.Value{
		"at": func(c goja.FunctionCall) goja.Value {
			b2 := b
			b2.at = s.timeLiteral(c.Argument(0), "at")
			return s.topologyObject(b2)
		},
		"components": func(goja.FunctionCall) goja.Value {
			return s.pendingList(whole.text, func(l *lazyList, r *exec.Result) {
				cs := r.Topology.Components
				l.fill(cs, cs.Len(), s.componentMaker(cs))
			})
		},
		"relations": func(goja.FunctionCall) goja.Value {
			return s.pendingList(whole.text, func(l *lazyList, r *exec.Result) {
				rs := r.Topology.Relations
				l.fill(rs, rs.Len(), s.relationMaker(rs))
			})
		},
		"diff": func(c goja.FunctionCall) goja.Value { return s.diff(b, c.Argument(0)) },
	})
}

// diff is Topology.query(q).at(t1).diff(Topology.query(q).at(t2)): what
// changed from t1 to t2, TQL's CHANGES FROM t1 TO t2. TQL compares one
// query at two times; two different queries are refused rather than
// compared by a second, script-only diff.
func (s *session) diff(b topoBuilder, other goja.Value) goja.Value {
	ob, ok := s.topoBuilderOf(other)
	if !ok {
		s.throw(argErrorf("diff takes another Topology.query(…) to compare with"), "")
	}
	if ob.filter != b.filter {
		s.throw(argErrorf("diff compares one query at two times (TQL's CHANGES FROM … TO …); these are two different queries: %s and %s",
			b.filter, ob.filter), "")
	}
	from, to := b.at, ob.at
	if from == "" {
		from = `"now"`
	}
	text := b.filter + " CHANGES FROM " + from
	if to != "" {
		text += " TO " + to
	}
	changes := func(pick func(exec.Elements) goja.Value, changed func(exec.Changed) goja.Value) func(goja.FunctionCall) goja.Value {
		return func(goja.FunctionCall) goja.Value {
			return s.thenableObject(s.newQuery(text, func(r *exec.Result) goja.Value {
				obj := s.vm.NewObject()
				_ = obj.Set("added", pick(r.Changes.Added))
				_ = obj.Set("removed", pick(r.Changes.Removed))
				_ = obj.Set("changed", changed(r.Changes.Changed))
				return obj
			}), nil)
		}
	}
	return s.thenableObject(s.newQuery(text, func(r *exec.Result) goja.Value { return s.changesValue(r.Changes) }),
		map[string]func(goja.FunctionCall) goja.Value{
			"components": changes(func(e exec.Elements) goja.Value { return s.componentsValue(exec.RowsOf(e.Components)) },
				func(c exec.Changed) goja.Value { return s.componentChanges(c.Components) }),
			"relations": changes(func(e exec.Elements) goja.Value { return s.relationsValue(exec.RowsOf(e.Relations)) },
				func(c exec.Changed) goja.Value { return s.relationChanges(c.Relations) }),
		})
}

func (s *session) componentChanges(cs []exec.ComponentChange) goja.Value {
	vals := make([]any, len(cs))
	for i := range cs {
		vals[i] = s.changeValue(s.componentValue(&cs[i].Before), s.componentValue(&cs[i].After), cs[i].Fields)
	}
	return s.vm.NewArray(vals...)
}

func (s *session) relationChanges(rs []exec.RelationChange) goja.Value {
	vals := make([]any, len(rs))
	for i := range rs {
		vals[i] = s.changeValue(s.relationValue(&rs[i].Before), s.relationValue(&rs[i].After), rs[i].Fields)
	}
	return s.vm.NewArray(vals...)
}

// topoBuilders remembers the builder behind each Topology.query object, so
// that diff and forTopology can read another builder.
func (s *session) topoBuilderOf(v goja.Value) (topoBuilder, bool) {
	obj, ok := v.(*goja.Object)
	if !ok {
		return topoBuilder{}, false
	}
	q, ok := s.thenables[obj].(*query)
	if !ok {
		return topoBuilder{}, false
	}
	stmt, err := lang.Parse(q.text)
	ts, isTopo := stmt.(*lang.TopologyStmt)
	if err != nil || !isTopo || ts.Changes != nil {
		return topoBuilder{}, false
	}
	b := topoBuilder{filter: lang.Format(ts.Query)}
	if ts.At != nil {
		b.at = lang.Format(ts.At)
	}
	return b, true
}

// timeLiteral turns a script's time argument into a TQL time literal: a
// string is a TQL time ("now", "-1h", ISO-8601, epoch milliseconds), a
// number epoch milliseconds, a Date its instant.
func (s *session) timeLiteral(v goja.Value, what string) string {
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Date" {
		v = s.vm.ToValue(int64(obj.ToFloat()))
	}
	switch {
	case goja.IsNumber(v):
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			s.throw(argErrorf("%s: a time in epoch milliseconds must be a whole number", what), "")
		}
		text := strconv.FormatInt(int64(f), 10)
		if _, err := lang.ParseTime(text); err != nil {
			s.throw(err, text)
		}
		return text
	case goja.IsString(v):
		text := v.String()
		tv, err := lang.ParseTime(text)
		if err != nil {
			s.throw(err, text)
		}
		return lang.Format(tv)
	}
	s.throw(argErrorf("%s takes a time: a string such as \"-1h\" or an ISO-8601 time, epoch milliseconds, or a Date", what), "")
	return ""
}

// ---- Component.withId ----

func (s *session) componentWithID(call goja.FunctionCall) goja.Value {
	v := call.Argument(0)
	var id uint64
	switch {
	case goja.IsNumber(v) && v.ToFloat() >= 0 && v.ToFloat() == math.Trunc(v.ToFloat()):
		id = uint64(v.ToFloat())
	case goja.IsString(v):
		n, err := strconv.ParseUint(strings.TrimSpace(v.String()), 10, 64)
		if err != nil {
			s.throw(argErrorf("Component.withId takes a component id, a whole number; got %q", v.String()), "")
		}
		id = n
	default:
		s.throw(argErrorf("Component.withId takes a component id, a whole number"), "")
	}
	return s.componentObject(id, "")
}

// componentObject is Component.withId(id)[.at(t)]: get() is the component
// with its incoming and outgoing relations (from a one-level neighbourhood
// query), or an error when there is none with that id at that time.
func (s *session) componentObject(id uint64, at string) goja.Value {
	b := topoBuilder{filter: fmt.Sprintf(`withNeighborsOf(components = (id = %d), levels = "1", direction = "both")`, id), at: at}
	obj := s.vm.NewObject()
	s.method(obj, "at", func(c goja.FunctionCall) goja.Value {
		return s.componentObject(id, s.timeLiteral(c.Argument(0), "at"))
	})
	s.method(obj, "get", func(goja.FunctionCall) goja.Value {
		return s.thenableObject(s.newQuery(b.statement(), func(r *exec.Result) goja.Value {
			return s.componentWithRelations(r.Topology, id)
		}), nil)
	})
	return obj
}

// errNoComponent says Component.withId found nothing.
var errNoComponent = errors.New("no component with that id at that time (or none the caller's scope lets it see)")

func (s *session) componentWithRelations(t *exec.TopologyResult, id uint64) goja.Value {
	for i := range t.Components.Len() {
		if t.Components.ID(i) != id {
			continue
		}
		c := t.Components.At(i)
		obj := s.componentValue(&c)
		var out, in []any
		for _, r := range t.Relations.All() {
			if r.Source == id {
				out = append(out, s.relationValue(&r))
			}
			if r.Target == id {
				in = append(in, s.relationValue(&r))
			}
		}
		_ = obj.Set("outgoingRelations", s.vm.NewArray(out...))
		_ = obj.Set("incomingRelations", s.vm.NewArray(in...))
		return obj
	}
	s.throw(fmt.Errorf("Component.withId(%d).get(): %w", id, errNoComponent), "")
	return nil
}

// ---- tql ----

// tql is tql(statement): any TQL statement, resolved to its result.
func (s *session) tql(call goja.FunctionCall) goja.Value {
	text := s.stringArg(call, 0, "tql's statement")
	return s.thenableObject(s.newQuery(text, func(r *exec.Result) goja.Value {
		v, _ := s.resultValue(r)
		return v
	}), nil)
}
