package scriptrt

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Telemetry.query, Events.query and Traces.query build METRICS, EVENTS and
// TRACES statements: the condition is the WHERE filter (StackState's
// condition strings, such as "name='system.load.norm.15' and
// host='web-1'", are valid as they stand), and each builder method adds a
// clause.

// dataBuilder is the state of a data statement builder. Its fields hold
// canonical TQL text.
type dataBuilder struct {
	kind    string // METRICS, EVENTS or TRACES
	where   string
	forQ    string // the FOR clause's topology statement
	from    string
	to      string
	agg     string // the AGGREGATE clause without the keyword
	groupBy []string
	orderBy string // the ORDER BY clause without the keywords
	limit   int
}

// statement prints the builder's statement in clause order.
func (b dataBuilder) statement() string {
	var w strings.Builder
	w.WriteString(b.kind)
	if b.where != "" {
		w.WriteString(" WHERE " + b.where)
	}
	if b.forQ != "" {
		w.WriteString(" FOR (" + b.forQ + ")")
	}
	if b.from != "" {
		w.WriteString(" FROM " + b.from)
		if b.to != "" {
			w.WriteString(" TO " + b.to)
		}
	}
	if b.agg != "" {
		w.WriteString(" AGGREGATE " + b.agg)
	}
	if len(b.groupBy) > 0 {
		w.WriteString(" GROUP BY " + strings.Join(b.groupBy, ", "))
	}
	if b.orderBy != "" {
		w.WriteString(" ORDER BY " + b.orderBy)
	}
	if b.limit > 0 {
		w.WriteString(" LIMIT " + strconv.Itoa(b.limit))
	}
	return w.String()
}

// metricSources are the data-source names Telemetry.query accepts: Tetra
// has one metrics store, which StackState's scripts name in these ways.
var metricSources = []string{"metrics", "sts metrics", "stackstate metrics", "stackstate multi metrics"}

func (s *session) telemetryQuery(call goja.FunctionCall) goja.Value {
	src := s.stringArg(call, 0, "Telemetry.query's data source")
	if !containsString(metricSources, strings.ToLower(strings.TrimSpace(src))) {
		s.throw(argErrorf("Telemetry.query: unknown data source %q; Tetra has one metrics store, named \"metrics\" (or \"StackState Metrics\"); for events use Events.query", src), "")
	}
	return s.dataObject(dataBuilder{kind: "METRICS", where: s.condition("METRICS", call.Argument(1))})
}

func (s *session) eventsQuery(call goja.FunctionCall) goja.Value {
	return s.dataObject(dataBuilder{kind: "EVENTS", where: s.condition("EVENTS", call.Argument(0))})
}

func (s *session) tracesQuery(call goja.FunctionCall) goja.Value {
	return s.dataObject(dataBuilder{kind: "TRACES", where: s.condition("TRACES", call.Argument(0))})
}

// condition parses a WHERE filter for a statement kind (its keys are that
// kind's) and returns its canonical text; an empty or missing condition is
// no filter. The filter must stand alone: clauses come from the builder's
// methods.
func (s *session) condition(kind string, v goja.Value) string {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return ""
	}
	if !goja.IsString(v) {
		s.throw(argErrorf("the condition of a %s query must be a string", kind), "")
	}
	cond := strings.TrimSpace(v.String())
	if cond == "" {
		return ""
	}
	text := kind + " WHERE " + cond
	stmt := s.parse(text)
	where, extra := whereOf(stmt)
	if extra {
		s.throw(argErrorf("the condition %q holds more than a filter; set the time range, aggregation, grouping and limit with the builder's methods", cond), "")
	}
	return lang.Format(where)
}

// whereOf returns a data statement's WHERE filter, and whether it has any
// other clause.
func whereOf(stmt lang.Statement) (lang.Expr, bool) {
	switch st := stmt.(type) {
	case *lang.MetricsStmt:
		return st.Where, st.For != nil || st.Range != nil || st.Aggregate != nil || st.GroupBy != nil || st.Limit != nil
	case *lang.EventsStmt:
		return st.Where, st.For != nil || st.Range != nil || st.Limit != nil
	case *lang.TracesStmt:
		return st.Where, st.For != nil || st.Range != nil || st.OrderBy != nil || st.Limit != nil
	}
	return nil, true
}

// dataObject is the JS builder of b. Every method returns a new builder and
// checks its statement at once, so a mistake throws where it is made.
func (s *session) dataObject(b dataBuilder) goja.Value {
	q := s.newQuery(b.statement(), func(r *exec.Result) goja.Value {
		v, _ := s.resultValue(r)
		return v
	})
	with := func(f func(*dataBuilder, goja.FunctionCall)) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			b2 := b
			b2.groupBy = append([]string(nil), b.groupBy...)
			f(&b2, c)
			return s.dataObject(b2)
		}
	}
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"start":       with(func(b *dataBuilder, c goja.FunctionCall) { b.from = s.timeLiteral(c.Argument(0), "start") }),
		"end":         with(func(b *dataBuilder, c goja.FunctionCall) { s.setEnd(b, c.Argument(0)) }),
		"window":      with(func(b *dataBuilder, c goja.FunctionCall) { s.setWindow(b, c) }),
		"limit":       with(func(b *dataBuilder, c goja.FunctionCall) { b.limit = s.positiveInt(c.Argument(0), "limit") }),
		"forTopology": with(func(b *dataBuilder, c goja.FunctionCall) { b.forQ = s.forTopology(c.Argument(0)) }),
	}
	switch b.kind {
	case "METRICS":
		methods["aggregation"] = with(func(b *dataBuilder, c goja.FunctionCall) { b.agg = s.aggregation(c) })
		methods["groupBy"] = with(func(b *dataBuilder, c goja.FunctionCall) { b.groupBy = s.fieldNames(c, "groupBy") })
		methods["metricField"] = with(func(b *dataBuilder, c goja.FunctionCall) { s.metricField(c) })
	case "TRACES":
		methods["orderBy"] = with(func(b *dataBuilder, c goja.FunctionCall) { b.orderBy = s.orderBy(c) })
	}
	return s.thenableObject(q, methods)
}

// setEnd sets the range's end. TQL's range needs a start, so an end alone
// (StackState: "all telemetry up to an instant") starts an hour before it,
// TQL's default range length.
func (s *session) setEnd(b *dataBuilder, v goja.Value) {
	b.to = s.timeLiteral(v, "end")
	if b.from == "" {
		tv, err := lang.ParseTime(b.to)
		if err != nil {
			s.throw(err, b.to)
		}
		b.from = strconv.FormatInt(tv.Resolve(s.now).Add(-time.Hour).UnixMilli(), 10)
	}
}

func (s *session) setWindow(b *dataBuilder, c goja.FunctionCall) {
	b.from = s.timeLiteral(c.Argument(0), "window's start")
	b.to = ""
	if v := c.Argument(1); !goja.IsUndefined(v) {
		b.to = s.timeLiteral(v, "window's end")
	}
}

func (s *session) positiveInt(v goja.Value, what string) int {
	f := v.ToFloat()
	if !goja.IsNumber(v) || f < 1 || f != math.Trunc(f) || f > math.MaxInt32 {
		s.throw(argErrorf("%s takes a whole number of at least 1", what), "")
	}
	return int(f)
}

// bareWord matches what TQL accepts as a bare word (a GROUP BY or ORDER BY
// field).
var bareWord = regexp.MustCompile(`^[A-Za-z0-9_\-.:/*+@#%]+$`)

// percentileCall matches an aggregation written as a call: percentile(99).
var percentileCall = regexp.MustCompile(`^([A-Za-z_]+)\(\s*([0-9.]+)\s*\)$`)

// aggregation is aggregation(method, bucketSize): StackState's method names
// (MEAN, PERCENTILE_99, "99th percentile", EVENT_COUNT, …) and TQL's, and an
// optional bucket duration ("1m").
func (s *session) aggregation(c goja.FunctionCall) string {
	method := strings.TrimSpace(s.stringArg(c, 0, "aggregation's method"))
	var agg string
	if m := percentileCall.FindStringSubmatch(method); m != nil {
		agg = m[1] + "(" + m[2] + ")"
	} else {
		agg = strconv.Quote(method)
	}
	if v := c.Argument(1); !goja.IsUndefined(v) && !goja.IsNull(v) {
		agg += " BY " + strconv.Quote(s.stringArg(c, 1, "aggregation's bucket size"))
	}
	return agg
}

// fieldNames reads the field arguments of groupBy (names, or one array of
// names).
func (s *session) fieldNames(c goja.FunctionCall, what string) []string {
	args := c.Arguments
	if len(args) == 1 {
		if arr, ok := isArray(args[0]); ok {
			args = nil
			n := s.lengthOf(arr)
			s.checkArray(n, what)
			for i := range int(n) {
				args = append(args, arr.Get(itoa(i)))
			}
		}
	}
	if len(args) == 0 {
		s.throw(argErrorf("%s takes at least one field name", what), "")
	}
	out := make([]string, 0, len(args))
	for _, a := range args {
		name := a.String()
		if !goja.IsString(a) || !bareWord.MatchString(name) {
			s.throw(argErrorf("%s: %q is not a field name TQL can group by (letters, digits and _ - . : / * + @ # %%)", what, name), "")
		}
		out = append(out, name)
	}
	return out
}

// metricField is StackState's choice of the document field that holds the
// value. A Tetra metric point has one value, so only that field ("value")
// is accepted; anything else is an error rather than a setting that would
// be ignored.
func (s *session) metricField(c goja.FunctionCall) {
	if f := s.stringArg(c, 0, "metricField's field"); f != "value" {
		s.throw(argErrorf("metricField(%q): a Tetra metric has one value field, \"value\"; select the metric by its name in the condition", f), "")
	}
}

func (s *session) orderBy(c goja.FunctionCall) string {
	field := s.stringArg(c, 0, "orderBy's field")
	if !bareWord.MatchString(field) {
		s.throw(argErrorf("orderBy: %q is not a span field", field), "")
	}
	if d := c.Argument(1); !goja.IsUndefined(d) {
		switch strings.ToUpper(d.String()) {
		case "DESC":
			return field + " DESC"
		case "ASC":
		default:
			s.throw(argErrorf(`orderBy's direction is "asc" or "desc"`), "")
		}
	}
	return field
}

// forTopology is the FOR clause: a topology filter, or a Topology.query(…)
// builder (whose at() becomes the clause's AT).
func (s *session) forTopology(v goja.Value) string {
	if b, ok := s.topoBuilderOf(v); ok {
		return b.statement()
	}
	if !goja.IsString(v) {
		s.throw(argErrorf("forTopology takes a topology query: a string or Topology.query(…)"), "")
	}
	return s.parseFilter(v.String())
}
