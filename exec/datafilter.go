package exec

import (
	"fmt"
	"strings"
	"time"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
	"github.com/tetrahq/tetra/telemetry"
)

// dataKind is what differs between the data statements when their WHERE
// filters are translated for the stores.
type dataKind int

const (
	kindMetrics dataKind = iota + 1
	kindEvents
	kindTraces
)

// translate turns a checked WHERE filter into the stores' filter. Values
// are put in the form the stores hold: categories spelled canonically,
// span statuses, kinds and ids lower-cased, durations in the unit of the
// field (span durations in nanoseconds, tags in milliseconds), times in
// epoch milliseconds (relative times against now).
func translate(e lang.Expr, k dataKind, now time.Time) (telemetry.Expr, error) {
	switch e := e.(type) {
	case nil:
		return nil, nil
	case *lang.BinaryExpr:
		x, err := translate(e.X, k, now)
		if err != nil {
			return nil, err
		}
		y, err := translate(e.Y, k, now)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case lang.OpAnd:
			return &telemetry.And{Xs: []telemetry.Expr{x, y}}, nil
		case lang.OpOr:
			return &telemetry.Or{Xs: []telemetry.Expr{x, y}}, nil
		default:
			return &telemetry.And{Xs: []telemetry.Expr{x, &telemetry.Not{X: y}}}, nil
		}
	case *lang.NotExpr:
		x, err := translate(e.X, k, now)
		if err != nil {
			return nil, err
		}
		return &telemetry.Not{X: x}, nil
	case *lang.CompareExpr:
		return translateCompare(e, k, now)
	}
	return nil, &planner.PlanError{Span: e.Span(), Msg: fmt.Sprintf("%T cannot filter data", e)}
}

// everything is a filter that holds for every record.
var everything = &telemetry.And{}

func translateCompare(c *lang.CompareExpr, k dataKind, now time.Time) (telemetry.Expr, error) {
	field := c.Key.Name
	switch c.Op {
	case lang.CmpLt, lang.CmpLe, lang.CmpGt, lang.CmpGe:
		v, err := number(c.Values[0], field, k, now)
		if err != nil {
			return nil, err
		}
		return &telemetry.Compare{Field: field, Op: compareOps[c.Op], Value: v}, nil
	}
	m := &telemetry.Match{Field: field}
	for _, v := range c.Values {
		switch {
		case v.IsWildcard():
			m = nil // "*" matches every record, with the field or without
		case m == nil:
		case v.IsGlob():
			m.Globs = append(m.Globs, telemetry.Glob{Parts: v.Pattern})
		default:
			m.Values = append(m.Values, canonicalValue(field, v.Text, k))
		}
	}
	var pos telemetry.Expr = everything
	if m != nil {
		pos = m
	}
	if c.Op == lang.CmpNe || c.Op == lang.CmpNotIn {
		return &telemetry.Not{X: pos}, nil
	}
	return pos, nil
}

var compareOps = map[lang.CompareOp]telemetry.CompareOp{
	lang.CmpLt: telemetry.Lt, lang.CmpLe: telemetry.Le, lang.CmpGt: telemetry.Gt, lang.CmpGe: telemetry.Ge,
}

// canonicalValue spells a value as the stores hold it.
func canonicalValue(field, v string, k dataKind) string {
	switch {
	case k == kindEvents && field == "category":
		return telemetry.CanonicalCategory(v)
	case k == kindTraces && (field == "status" || field == "kind" || strings.HasSuffix(field, "_id")):
		return strings.ToLower(v)
	}
	return v
}

// number is the value of an ordering comparison as the store compares it.
func number(v *lang.Value, field string, k dataKind, now time.Time) (float64, error) {
	switch {
	case v.Kind == lang.ValDuration && k == kindTraces && field == "duration":
		return float64(v.Dur.Nanoseconds()), nil
	case v.Kind == lang.ValDuration:
		return float64(v.Dur.Milliseconds()), nil
	case v.Kind == lang.ValNumber && !(k == kindTraces && field == "start"):
		return v.Number, nil
	}
	tv, err := lang.ParseTime(v.Text)
	if err != nil {
		return 0, &planner.PlanError{Span: v.Src, Msg: fmt.Sprintf("%q is not a number, a duration or a time", v.Text)}
	}
	return float64(tv.Resolve(now).UnixMilli()), nil
}
