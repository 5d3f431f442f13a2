package telemetry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Expr is a filter over the fields of a record (a series, an event or a
// span): the stores' form of a WHERE clause. A nil Expr matches everything.
// It is one of *And, *Or, *Not, *Match, *Compare. Expressions are
// immutable values; stores may translate them (Elasticsearch) or evaluate
// them with Eval (Pebble).
type Expr interface {
	expr()
}

// And holds when every operand holds.
type And struct{ Xs []Expr }

// Or holds when any operand holds.
type Or struct{ Xs []Expr }

// Not holds when X does not.
type Not struct{ X Expr }

// Match holds when a value of Field equals one of Values or matches one of
// Globs. A record without the field does not match (so Not of a Match
// holds for it: "not any", as for topology keys).
type Match struct {
	Field  string
	Values []string
	Globs  []Glob
}

// CompareOp is an ordering operator.
type CompareOp int

const (
	Lt CompareOp = iota + 1
	Le
	Gt
	Ge
)

func (op CompareOp) String() string {
	return [...]string{"?", "<", "<=", ">", ">="}[op]
}

// Compare holds when a value of Field, read as a number, compares with
// Value. Values that are not numbers never match. Durations are compared
// in the unit of the field (span durations in nanoseconds; tags in
// milliseconds), times in epoch milliseconds: the engine converts the
// query's value, the store only compares numbers.
type Compare struct {
	Field string
	Op    CompareOp
	Value float64
}

func (*And) expr()     {}
func (*Or) expr()      {}
func (*Not) expr()     {}
func (*Match) expr()   {}
func (*Compare) expr() {}

// Glob is a pattern with * wildcards: the literal parts between the stars,
// so len(Parts) is the number of stars plus one.
type Glob struct {
	Parts []string
}

// Match reports whether s matches the glob.
func (g Glob) Match(s string) bool {
	p := g.Parts
	if len(p) == 1 {
		return s == p[0]
	}
	if !strings.HasPrefix(s, p[0]) {
		return false
	}
	s = s[len(p[0]):]
	for _, mid := range p[1 : len(p)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, p[len(p)-1])
}

// Pattern returns the glob as written, stars included, literal stars
// escaped.
func (g Glob) Pattern() string {
	esc := make([]string, len(g.Parts))
	for i, p := range g.Parts {
		esc[i] = strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), "*", `\*`)
	}
	return strings.Join(esc, "*")
}

// Fields gives the values of a record's fields to Eval.
type Fields func(field string) []string

// Eval evaluates e on a record.
func Eval(e Expr, f Fields) bool {
	switch e := e.(type) {
	case nil:
		return true
	case *And:
		for _, x := range e.Xs {
			if !Eval(x, f) {
				return false
			}
		}
		return true
	case *Or:
		return slices.ContainsFunc(e.Xs, func(x Expr) bool { return Eval(x, f) })
	case *Not:
		return !Eval(e.X, f)
	case *Match:
		return slices.ContainsFunc(f(e.Field), e.matches)
	case *Compare:
		return slices.ContainsFunc(f(e.Field), e.holds)
	}
	return false
}

func (m *Match) matches(v string) bool {
	if slices.Contains(m.Values, v) {
		return true
	}
	return slices.ContainsFunc(m.Globs, func(g Glob) bool { return g.Match(v) })
}

func (c *Compare) holds(v string) bool {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return false
	}
	return CompareNumbers(x, c.Op, c.Value)
}

// CompareNumbers reports whether x op y.
func CompareNumbers(x float64, op CompareOp, y float64) bool {
	switch op {
	case Lt:
		return x < y
	case Le:
		return x <= y
	case Gt:
		return x > y
	case Ge:
		return x >= y
	}
	return false
}

// String prints an expression for EXPLAIN and tests.
func String(e Expr) string {
	switch e := e.(type) {
	case nil:
		return "all"
	case *And:
		return join(e.Xs, " AND ")
	case *Or:
		return join(e.Xs, " OR ")
	case *Not:
		return "NOT " + paren(e.X)
	case *Match:
		vals := make([]string, 0, len(e.Values)+len(e.Globs))
		for _, v := range e.Values {
			vals = append(vals, strconv.Quote(v))
		}
		for _, g := range e.Globs {
			vals = append(vals, "glob "+strconv.Quote(g.Pattern()))
		}
		if len(vals) == 1 {
			return e.Field + " = " + vals[0]
		}
		return e.Field + " IN (" + strings.Join(vals, ", ") + ")"
	case *Compare:
		return fmt.Sprintf("%s %s %s", e.Field, e.Op, strconv.FormatFloat(e.Value, 'f', -1, 64))
	}
	return fmt.Sprintf("%T", e)
}

func join(xs []Expr, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = paren(x)
	}
	return strings.Join(parts, sep)
}

func paren(e Expr) string {
	switch e.(type) {
	case *And, *Or:
		return "(" + String(e) + ")"
	}
	return String(e)
}

// Terms returns the equality conditions every record matching e meets: the
// Match operands without globs of e's top-level conjunction. Stores use
// them to choose an index; they still apply the whole filter.
func Terms(e Expr) []*Match {
	switch e := e.(type) {
	case *Match:
		if len(e.Globs) == 0 {
			return []*Match{e}
		}
	case *And:
		var out []*Match
		for _, x := range e.Xs {
			out = append(out, Terms(x)...)
		}
		return out
	}
	return nil
}
