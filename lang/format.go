package lang

import (
	"strconv"
	"strings"
)

// Format returns the canonical text of n: keywords upper-case, keys in
// canonical form, strings double-quoted, numbers and durations bare, only
// the parentheses precedence needs, every withNeighborsOf argument written.
// For every query q that Parse accepts, Parse(Format(Parse(q))) is Equal to
// Parse(q).
//
// Format of a nil node is "".
func Format(n Node) string {
	var p printer
	p.node(n)
	return p.String()
}

// printer writes canonical text.
type printer struct {
	strings.Builder
}

// Binding strengths, loosest first. Infix NOT (OpExcept) binds like AND.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPrimary
)

func (p *printer) node(n Node) {
	if isNilNode(n) {
		return
	}
	switch n := n.(type) {
	case Statement:
		p.statement(n)
	case Expr:
		p.expr(n, 0)
	case *Changes:
		p.changes(n)
	case *Range:
		p.rangeClause(n)
	case *Aggregate:
		p.aggregate(n)
	case *OrderBy:
		p.orderBy(n)
	case *Limit:
		p.limit(n)
	case *Key:
		p.WriteString(n.Name)
	case *Value:
		p.value(n)
	case *TimeValue:
		p.WriteString(formatTime(n))
	case *DurationValue:
		p.WriteString(formatDuration(n.D))
	}
}

func (p *printer) statement(s Statement) {
	switch s := s.(type) {
	case *TopologyStmt:
		p.topology(s)
	case *MetricsStmt:
		p.WriteString("METRICS")
		p.dataClauses(s.Where, s.For, s.Range)
		p.optional(s.Aggregate)
		p.groupBy(s.GroupBy)
		p.optional(s.Limit)
	case *EventsStmt:
		p.WriteString("EVENTS")
		p.dataClauses(s.Where, s.For, s.Range)
		p.optional(s.Limit)
	case *TracesStmt:
		p.WriteString("TRACES")
		p.dataClauses(s.Where, s.For, s.Range)
		p.optional(s.OrderBy)
		p.optional(s.Limit)
	}
}

func (p *printer) topology(s *TopologyStmt) {
	if s.Keyword {
		p.WriteString("TOPOLOGY ")
	}
	p.expr(s.Query, 0)
	if s.At != nil {
		p.WriteString(" AT ")
		p.WriteString(formatTime(s.At))
	}
	if s.Changes != nil {
		p.WriteByte(' ')
		p.changes(s.Changes)
	}
}

func (p *printer) changes(c *Changes) {
	p.WriteString("CHANGES FROM ")
	p.WriteString(formatTime(c.From))
	if c.To != nil {
		p.WriteString(" TO ")
		p.WriteString(formatTime(c.To))
	}
}

// dataClauses writes the WHERE, FOR and range clauses of a data statement.
func (p *printer) dataClauses(where Expr, f *TopologyStmt, r *Range) {
	if !isNilNode(where) {
		p.WriteString(" WHERE ")
		p.expr(where, 0)
	}
	if f != nil {
		p.WriteString(" FOR (")
		p.topology(f)
		p.WriteByte(')')
	}
	if r != nil {
		p.WriteByte(' ')
		p.rangeClause(r)
	}
}

func (p *printer) rangeClause(r *Range) {
	p.WriteString("FROM ")
	p.WriteString(formatTime(r.From))
	if r.To != nil {
		p.WriteString(" TO ")
		p.WriteString(formatTime(r.To))
	}
}

func (p *printer) aggregate(a *Aggregate) {
	p.WriteString("AGGREGATE ")
	p.WriteString(a.Method.String())
	if a.Method == AggPercentile {
		p.WriteByte('(')
		p.WriteString(strconv.FormatFloat(a.Percentile, 'f', -1, 64))
		p.WriteByte(')')
	}
	if a.By != nil {
		p.WriteString(" BY ")
		p.WriteString(formatDuration(a.By.D))
	}
}

func (p *printer) groupBy(keys []*Key) {
	for i, k := range keys {
		if i == 0 {
			p.WriteString(" GROUP BY ")
		} else {
			p.WriteString(", ")
		}
		p.node(k)
	}
}

// optional writes a space and an optional clause, if it is there.
func (p *printer) optional(n Node) {
	if !isNilNode(n) {
		p.WriteByte(' ')
		p.node(n)
	}
}

// orderBy writes ORDER BY; ascending, the default, is not written.
func (p *printer) orderBy(o *OrderBy) {
	p.WriteString("ORDER BY ")
	p.node(o.Key)
	if o.Desc {
		p.WriteString(" DESC")
	}
}

func (p *printer) limit(l *Limit) {
	p.WriteString("LIMIT ")
	p.WriteString(strconv.Itoa(l.N))
}

// ---- expressions ----

// expr writes e, in parentheses when it binds looser than min requires.
func (p *printer) expr(e Expr, min int) {
	if isNilNode(e) {
		return
	}
	prec := precedence(e)
	if prec < min {
		p.WriteByte('(')
		defer p.WriteByte(')')
	}
	switch e := e.(type) {
	case *BinaryExpr:
		// Left associative: the left operand may bind as loosely as the
		// operator, the right one must bind tighter.
		p.expr(e.X, prec)
		p.WriteByte(' ')
		p.WriteString(e.Op.String())
		p.WriteByte(' ')
		p.expr(e.Y, prec+1)
	case *NotExpr:
		p.WriteString("NOT ")
		p.expr(e.X, precNot)
	case *CompareExpr:
		p.compare(e)
	case *NeighborsExpr:
		p.neighbors("withNeighborsOf", e.Components, e.Levels, e.AllLevels, e.Direction, true, e.RelationTypes)
	case *CauseOfExpr:
		p.neighbors("withCauseOf", e.Components, e.Levels, e.AllLevels, e.Direction, false, nil)
	}
}

func precedence(e Expr) int {
	switch e := e.(type) {
	case *BinaryExpr:
		if e.Op == OpOr {
			return precOr
		}
		return precAnd
	case *NotExpr:
		return precNot
	}
	return precPrimary
}

func (p *printer) compare(c *CompareExpr) {
	p.node(c.Key)
	p.WriteByte(' ')
	p.WriteString(c.Op.String())
	p.WriteByte(' ')
	if c.Op != CmpIn && c.Op != CmpNotIn {
		if len(c.Values) > 0 {
			p.value(c.Values[0])
		}
		return
	}
	p.WriteByte('(')
	for i, v := range c.Values {
		if i > 0 {
			p.WriteString(", ")
		}
		p.value(v)
	}
	p.WriteByte(')')
}

// neighbors writes withNeighborsOf or withCauseOf. all says to write every
// argument (withNeighborsOf); otherwise zero arguments were not written.
func (p *printer) neighbors(name string, components Expr, levels int, allLevels bool, dir Direction, all bool, relTypes []*Value) {
	p.WriteString(name)
	p.WriteByte('(')
	sep := ""
	if !isNilNode(components) {
		p.WriteString("components = (")
		p.expr(components, 0)
		p.WriteByte(')')
		sep = ", "
	}
	if all || levels != 0 || allLevels {
		p.WriteString(sep + "levels = ")
		if allLevels {
			p.WriteString(`"all"`)
		} else {
			p.WriteString(`"` + strconv.Itoa(levels) + `"`)
		}
		sep = ", "
	}
	if all || dir != 0 {
		p.WriteString(sep + `direction = "` + dir.String() + `"`)
	}
	if relTypes != nil {
		p.WriteString(", relationTypes = (")
		for i, v := range relTypes {
			if i > 0 {
				p.WriteString(", ")
			}
			p.value(v)
		}
		p.WriteByte(')')
	}
	p.WriteByte(')')
}

// value writes a literal: numbers and durations bare as written, strings
// double-quoted with ", \ and literal stars escaped.
func (p *printer) value(v *Value) {
	if v == nil {
		return
	}
	if v.Kind == ValNumber || v.Kind == ValDuration {
		p.WriteString(v.Text)
		return
	}
	p.WriteByte('"')
	if v.Pattern == nil {
		writeEscaped(&p.Builder, v.Text)
	} else {
		for i, piece := range v.Pattern {
			if i > 0 {
				p.WriteByte('*')
			}
			writeEscaped(&p.Builder, piece)
		}
	}
	p.WriteByte('"')
}
