package lang

import (
	"fmt"
	"strings"
	"time"

	"github.com/tetrahq/tetra/internal/topokeys"
)

// checker finds the semantic errors of a lowered statement: keys that do
// not exist where they are used, operators a key does not support, values
// outside a closed set, clauses that cannot go together. It also puts keys
// into canonical form (Key.Name), which is the one change it makes to the
// AST.
type checker struct {
	src  string
	errs []*Error
}

func (c *checker) errorf(span Span, hint, format string, args ...any) {
	c.errs = append(c.errs, newError(c.src, span, hint, format, args...))
}

func (c *checker) statement(s Statement) {
	switch s := s.(type) {
	case *TopologyStmt:
		c.topologyStmt(s, false)
	case *MetricsStmt:
		c.data(metricsKind, s.Where, s.For, s.Range)
		c.groupBy(s.GroupBy)
	case *EventsStmt:
		c.data(eventsKind, s.Where, s.For, s.Range)
	case *TracesStmt:
		c.data(tracesKind, s.Where, s.For, s.Range)
		c.orderBy(s.OrderBy)
	}
}

func (c *checker) topologyStmt(s *TopologyStmt, inFor bool) {
	c.topologyExpr(s.Query)
	switch {
	case s.Changes != nil && inFor:
		c.errorf(s.Changes.Src, "FOR selects the components at one time: use AT", "FOR cannot take CHANGES")
	case s.Changes != nil && s.At != nil:
		c.errorf(s.Changes.Src, "CHANGES FROM … TO … gives its own times: drop the AT", "AT and CHANGES cannot be combined")
	case s.Changes != nil:
		c.timeOrder(s.Changes.From, s.Changes.To)
	}
}

// ---- topology ----

func (c *checker) topologyExpr(e Expr) {
	switch e := e.(type) {
	case *BinaryExpr:
		c.topologyExpr(e.X)
		c.topologyExpr(e.Y)
	case *NotExpr:
		c.topologyExpr(e.X)
	case *CompareExpr:
		c.topologyCompare(e)
	case *NeighborsExpr:
		if e.Components != nil {
			c.topologyExpr(e.Components)
		}
	case *CauseOfExpr:
		if e.Components != nil {
			c.topologyExpr(e.Components)
		}
	}
}

// topologyKeysHint lists the keys, from the vocabulary.
var topologyKeysHint = func() string {
	n := topokeys.Names()
	return "the topology keys are " + strings.Join(n[:len(n)-1], ", ") + " and " + n[len(n)-1]
}()

func (c *checker) topologyCompare(e *CompareExpr) {
	key, ok := topokeys.Lookup(e.Key.Name)
	if !ok {
		c.errorf(e.Key.Src, suggest(e.Key.Name, topokeys.Names(), topologyKeysHint), "unknown key %q", e.Key.Name)
		return
	}
	canon := key.String()
	e.Key.Name = canon
	if isOrdering(e.Op) {
		c.errorf(c.opSpan(e), "topology keys compare with =, !=, IN and NOT IN", "operator %s is not allowed on the topology key %s", e.Op, canon)
		return
	}
	for _, v := range e.Values {
		switch {
		case key.Values() != nil:
			c.enumValue(v, canon, key.Values())
		case key == topokeys.ID:
			c.idValue(v)
		}
	}
}

func isOrdering(op CompareOp) bool {
	return op == CmpLt || op == CmpLe || op == CmpGt || op == CmpGe
}

// opSpan is the span of a comparison's operator: the text between the key
// and the first value, without the white space.
func (c *checker) opSpan(e *CompareExpr) Span {
	s := Span{e.Key.Src.End, e.Src.End}
	if len(e.Values) > 0 {
		s.End = e.Values[0].Src.Start
	}
	text := c.src[s.Start:s.End]
	s.Start += len(text) - len(strings.TrimLeft(text, " \t\r\n"))
	s.End -= len(text) - len(strings.TrimRight(text, " \t\r\n"))
	return s
}

// enumValue checks that v is one of values (any case) or a glob.
func (c *checker) enumValue(v *Value, key string, values []string) {
	if v.IsGlob() {
		return
	}
	for _, ok := range values {
		if strings.EqualFold(v.Text, ok) {
			return
		}
	}
	hint := suggest(v.Text, values, fmt.Sprintf("%s is one of %s", key, strings.Join(values, ", ")))
	c.errorf(v.Src, hint, "unknown %s %q", key, v.Text)
}

func (c *checker) idValue(v *Value) {
	switch v.Kind {
	case ValDuration:
		c.errorf(v.Src, `an id is a number (id = 12) or a string (id = "12")`, "id cannot be a duration")
	case ValNumber:
		if !allDigits(v.Text) {
			c.errorf(v.Src, `an id is a whole number (id = 12) or a string (id = "12")`, "bad id %s", v.Text)
		}
	}
}

// ---- data statements ----

func (c *checker) data(kind *dataKind, where Expr, f *TopologyStmt, r *Range) {
	if where != nil {
		c.dataExpr(kind, where)
	}
	if f != nil {
		c.topologyStmt(f, true)
	}
	if r != nil {
		c.timeOrder(r.From, r.To)
	}
}

func (c *checker) dataExpr(kind *dataKind, e Expr) {
	switch e := e.(type) {
	case *BinaryExpr:
		c.dataExpr(kind, e.X)
		c.dataExpr(kind, e.Y)
	case *NotExpr:
		c.dataExpr(kind, e.X)
	case *CompareExpr:
		c.dataCompare(kind, e)
	case *NeighborsExpr, *CauseOfExpr:
		name := wordAt(c.src, e.Span().Start)
		c.errorf(name, fmt.Sprintf("select components with FOR: %s WHERE … FOR (%s(…))", kind.stmt, c.src[name.Start:name.End]),
			"%s selects components; it cannot filter %s", c.src[name.Start:name.End], kind.stmt)
	}
}

// wordAt is the span of the bare word starting at off.
func wordAt(src string, off int) Span {
	end := off
	for end < len(src) && isWordRune(rune(src[end])) && src[end] < 0x80 {
		end++
	}
	return Span{off, end}
}

func (c *checker) dataCompare(kind *dataKind, e *CompareExpr) {
	canon, f, ok := kind.lookup(e.Key.Name)
	if !ok {
		c.errorf(e.Key.Src, traceFieldHint(e.Key.Name), "unknown %s field %q", kind.stmt, e.Key.Name)
		return
	}
	e.Key.Name = canon
	if isOrdering(e.Op) && (f.kind == fieldString || f.kind == fieldEnum) {
		c.errorf(c.opSpan(e), "compare it with =, !=, IN or NOT IN", "%s is a text field: operator %s does not apply", canon, e.Op)
		return
	}
	for _, v := range e.Values {
		switch {
		case f.kind == fieldEnum:
			c.enumValue(v, canon, f.values)
		case f.kind == fieldDuration:
			c.durationValue(v, canon)
		case f.kind == fieldTime:
			c.timeValue(v, canon)
		case isOrdering(e.Op):
			c.orderable(v, e.Op)
		}
	}
}

func traceFieldHint(name string) string {
	if prefix, key, ok := strings.Cut(name, "."); ok {
		if key == "" {
			return fmt.Sprintf("name the attribute: %s.<key>, e.g. attributes.http.method", prefix)
		}
		return suggest(prefix+".", attributePrefixes, "span attributes are attributes.<key> and resource.<key>")
	}
	return suggest(name, traceFieldNames, "the span fields are service, name, kind, status, duration, start, trace_id, span_id, parent_id, attributes.<key> and resource.<key>")
}

// durationValue checks a value of a duration field. A quoted duration
// ("500ms") is taken as the duration it spells, so the planner sees Dur.
func (c *checker) durationValue(v *Value, key string) {
	if v.Kind == ValDuration {
		return
	}
	if v.Kind == ValString && !v.IsGlob() && isDurationWord(v.Text) {
		d, err := parseDuration(v.Text)
		if err != nil {
			c.errorf(v.Src, err.hint, "%s", err.msg)
			return
		}
		v.Kind, v.Dur = ValDuration, d
		return
	}
	c.errorf(v.Src, fmt.Sprintf("%s compares with durations such as 500ms; %s", key, durationHint), "%q is not a duration", v.Text)
}

// timeValue checks a value of a time field: a time as a query writes one
// ("-1h", "2026-11-20T10:00:00Z", epoch milliseconds).
func (c *checker) timeValue(v *Value, key string) {
	if !v.IsGlob() && (v.Kind == ValString || v.Kind == ValNumber) {
		if _, err := parseTime(v.Text); err == nil {
			return
		}
	}
	c.errorf(v.Src, fmt.Sprintf(`%s compares with times, e.g. %s > "-15m"`, key, key), "%q is not a time", v.Text)
}

// orderable checks the value of <, <=, >, >= on a tag: a number, a
// duration or a time.
func (c *checker) orderable(v *Value, op CompareOp) {
	if v.Kind == ValNumber || v.Kind == ValDuration {
		return
	}
	if _, err := parseTime(v.Text); err == nil && !v.IsGlob() {
		return
	}
	c.errorf(v.Src, `e.g. latency > 500ms, count >= 10, timestamp > "-1h"`, "%s compares numbers, durations and times, not %q", op, v.Text)
}

func (c *checker) groupBy(keys []*Key) {
	seen := map[string]bool{}
	for _, k := range keys {
		if lower := strings.ToLower(k.Name); lower == "component" || lower == "name" {
			k.Name = lower
		}
		if seen[k.Name] {
			c.errorf(k.Src, "name each field once", "%s is grouped twice", k.Name)
		}
		seen[k.Name] = true
	}
}

func (c *checker) orderBy(o *OrderBy) {
	if o == nil {
		return
	}
	canon, _, ok := tracesKind.lookup(o.Key.Name)
	if !ok {
		c.errorf(o.Key.Src, traceFieldHint(o.Key.Name), "unknown TRACES field %q", o.Key.Name)
		return
	}
	o.Key.Name = canon
}

// ---- times ----

// timeOrder reports a range that ends before it starts, when that is known
// at parse time: both ends relative (or now), or both absolute.
func (c *checker) timeOrder(from, to *TimeValue) {
	if from.Kind == 0 || (to != nil && to.Kind == 0) {
		return // a bad time, already reported
	}
	end := to
	if end == nil {
		end = &TimeValue{Kind: TimeNow, Src: from.Src}
	}
	if isFixed(from) != isFixed(end) {
		return
	}
	ref := time.Unix(0, 0)
	if end.Resolve(ref).Before(from.Resolve(ref)) {
		c.errorf(end.Src, "the first time is the earlier one: FROM <start> TO <end>", "the range ends before it starts")
	}
}

// isFixed reports whether t names an instant independent of the query time.
func isFixed(t *TimeValue) bool {
	return t.Kind == TimeAbsolute || t.Kind == TimeEpochMs
}
