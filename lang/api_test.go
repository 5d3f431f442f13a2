package lang

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, q string) Statement {
	t.Helper()
	s, err := Parse(q)
	if err != nil {
		t.Fatalf("%s", Render(q, err))
	}
	return s
}

// TestInspect checks the order, depth and pruning of the walk.
func TestInspect(t *testing.T) {
	q := `METRICS WHERE name = "cpu" AND NOT host IN ("a", "b") FOR (withNeighborsOf(components = (type = "x"))) FROM "-1h" TO "now" AGGREGATE mean BY 5m GROUP BY host LIMIT 3`
	var seen []string
	depth, maxDepth := 0, 0
	Inspect(mustParse(t, q), func(n Node) bool {
		if n == nil {
			depth--
			return false
		}
		depth++
		maxDepth = max(maxDepth, depth)
		seen = append(seen, strings.TrimPrefix(fmt.Sprintf("%T", n), "*lang."))
		return true
	})
	want := "MetricsStmt BinaryExpr CompareExpr Key Value NotExpr CompareExpr Key Value Value TopologyStmt NeighborsExpr " +
		"CompareExpr Key Value Range TimeValue TimeValue Aggregate DurationValue Key Limit"
	if got := strings.Join(seen, " "); got != want {
		t.Errorf("Inspect visited\n  %s\nwant\n  %s", got, want)
	}
	if depth != 0 || maxDepth != 5 {
		t.Errorf("depth after walk %d, max %d; want 0 and 5", depth, maxDepth)
	}
	// Returning false skips the children.
	n := 0
	Inspect(mustParse(t, q), func(node Node) bool {
		if node != nil {
			n++
		}
		_, isCompare := node.(*CompareExpr)
		return !isCompare
	})
	if n != 15 {
		t.Errorf("with CompareExpr pruned, visited %d nodes, want 15", n)
	}
	Inspect(nil, func(Node) bool { t.Error("called for nil"); return true })
	Inspect((*Range)(nil), func(Node) bool { t.Error("called for a nil *Range"); return true })
}

// TestEqual checks what Equal ignores (spans, spelling, redundant
// parentheses, time zones) and what it does not.
func TestEqual(t *testing.T) {
	same := [][2]string{
		{`name = "a"`, `NAME='a'`},
		{`name = a`, `name = "a"`},
		{`environments IN ("x")`, `environment in ('x')`},
		{`name = "a" AND type = "b" OR layer = "c"`, `((name = "a") AND (type = "b")) OR (layer = "c")`},
		{`name = "a" AT "-60m"`, `name = "a" AT -1h`},
		{`name = "a" AT "2026-11-20T12:00:00+02:00"`, `name = "a" AT "2026-11-20T10:00:00Z"`},
		{`METRICS AGGREGATE avg BY 60m`, `METRICS AGGREGATE mean BY 1h`},
		{`withNeighborsOf()`, `withNeighborsOf(levels = 1, direction = both)`},
	}
	for _, p := range same {
		if a, b := mustParse(t, p[0]), mustParse(t, p[1]); !Equal(a, b) {
			t.Errorf("Equal(%s, %s) = false", p[0], p[1])
		}
	}
	different := [][2]string{
		{`name = "a"`, `name = "b"`},
		{`name = "a"`, `type = "a"`},
		{`name = 12`, `name = "12"`},
		{`name = "*"`, `name = "\*"`},
		{`name = "a" OR (type = "b" OR layer = "c")`, `name = "a" OR type = "b" OR layer = "c"`},
		{`name = "a" NOT type = "b"`, `name = "a" AND NOT type = "b"`},
		{`TOPOLOGY name = "a"`, `name = "a"`},
		{`name = "a" AT "-1h"`, `name = "a"`},
		{`name = "a" AT "now"`, `name = "a" AT "-0s"`},
		{`name = "a" AT 1763632800000`, `name = "a" AT "2025-11-20T10:00:00Z"`},
		{`withNeighborsOf(levels = "15")`, `withNeighborsOf(levels = "all")`},
		{`withNeighborsOf()`, `withCauseOf()`},
		{`withCauseOf()`, `withCauseOf(levels = 1)`},
		{`METRICS GROUP BY a, b`, `METRICS GROUP BY b, a`},
		{`METRICS`, `EVENTS`},
		{`TRACES ORDER BY duration`, `TRACES ORDER BY duration DESC`},
		{`METRICS LIMIT 1`, `METRICS LIMIT 2`},
		{`METRICS AGGREGATE percentile(99)`, `METRICS AGGREGATE percentile(99.9)`},
	}
	for _, p := range different {
		if a, b := mustParse(t, p[0]), mustParse(t, p[1]); Equal(a, b) {
			t.Errorf("Equal(%s, %s) = true", p[0], p[1])
		}
	}
	if !Equal(nil, (*Key)(nil)) || Equal(nil, &Key{}) || Equal(&Key{Name: "a"}, &Value{Text: "a"}) {
		t.Error("Equal mishandles nil or mixed nodes")
	}
	a := &TimeValue{Kind: TimeAbsolute, Abs: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := &TimeValue{Kind: TimeAbsolute, Abs: a.Abs.In(time.FixedZone("", 3600))}
	if !Equal(a, b) {
		t.Error("Equal compares times by their zone, not as instants")
	}
}

// TestEnumStrings checks the String methods of the enums, in and out of
// range.
func TestEnumStrings(t *testing.T) {
	for got, want := range map[fmt.Stringer]string{
		OpAnd: "AND", OpOr: "OR", OpExcept: "NOT", BinaryOp(0): "BinaryOp(0)",
		CmpEq: "=", CmpNe: "!=", CmpLt: "<", CmpLe: "<=", CmpGt: ">", CmpGe: ">=", CmpIn: "IN", CmpNotIn: "NOT IN", CompareOp(99): "CompareOp(99)",
		DirBoth: "both", DirUp: "up", DirDown: "down", Direction(0): "Direction(0)",
		AggMean: "mean", AggMin: "min", AggMax: "max", AggSum: "sum", AggCount: "count", AggLast: "last",
		AggPercentile: "percentile", AggSumNoZeros: "sum_no_zeros", AggCountNoZeros: "event_count_no_zeros", AggMethod(0): "AggMethod(0)",
		TimeNow: "now", TimeRelative: "relative", TimeAbsolute: "absolute", TimeEpochMs: "epoch_ms", TimeKind(9): "TimeKind(9)",
		ValString: "string", ValNumber: "number", ValDuration: "duration", ValueKind(0): "ValueKind(0)",
	} {
		if got.String() != want {
			t.Errorf("%#v.String() = %q, want %q", got, got.String(), want)
		}
	}
}

// TestFormatNodes formats nodes other than statements, and nodes built by
// hand with fields missing, without panicking.
func TestFormatNodes(t *testing.T) {
	s := mustParse(t, `METRICS WHERE name = "a*b" FROM "-1h" AGGREGATE percentile(99.5) BY 90s LIMIT 7`).(*MetricsStmt)
	for _, tc := range []struct {
		n    Node
		want string
	}{
		{s.Where, `name = "a*b"`},
		{s.Range, `FROM "-1h"`},
		{s.Aggregate, `AGGREGATE percentile(99.5) BY 1m30s`},
		{s.Aggregate.By, "1m30s"},
		{s.Limit, "LIMIT 7"},
		{s.Range.From, `"-1h"`},
		{s.Where.(*CompareExpr).Key, "name"},
		{s.Where.(*CompareExpr).Values[0], `"a*b"`},
		{nil, ""},
		{(*TopologyStmt)(nil), ""},
		{&Value{Kind: ValString, Text: `say "*"`}, `"say \"\*\""`},
		{&CompareExpr{Key: &Key{Name: "k"}, Op: CmpIn}, "k IN ()"},
		{&BinaryExpr{Op: OpAnd, X: &NotExpr{}, Y: nil}, "NOT  AND "},
		{&TopologyStmt{At: &TimeValue{}, Changes: &Changes{}}, ` AT "TimeKind(0)" CHANGES FROM `},
		{&MetricsStmt{Range: &Range{}, Aggregate: &Aggregate{}, GroupBy: []*Key{nil}, Limit: &Limit{}}, "METRICS FROM  AGGREGATE AggMethod(0) GROUP BY  LIMIT 0"},
		{&TracesStmt{OrderBy: &OrderBy{Desc: true}}, "TRACES ORDER BY  DESC"},
		{&NeighborsExpr{}, `withNeighborsOf(levels = "0", direction = "Direction(0)")`},
	} {
		if got := Format(tc.n); got != tc.want {
			t.Errorf("Format(%T) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestErrorsAPI checks ErrorList, errors.As, positions and the rendering
// of a foreign error.
func TestErrorsAPI(t *testing.T) {
	_, err := Parse(`enviroment = "a" OR lable = "b"`)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("want an ErrorList of 2, got %#v", err)
	}
	var one *Error
	if !errors.As(err, &one) || one.Message != `unknown key "enviroment"` {
		t.Errorf("errors.As(*Error) = %v", one)
	}
	if got := err.Error(); got != `1:1: unknown key "enviroment" (and 1 more errors)` {
		t.Errorf("Error() = %q", got)
	}
	_, err = Parse("name = \"a\"\n  AND lable = \"b\"")
	e := Errors(err)[0]
	if e.Line != 2 || e.Col != 7 || e.Offset != 17 || e.Span != (Span{17, 22}) {
		t.Errorf("position %d:%d offset %d span %v, want 2:7 offset 17 span {17 22}", e.Line, e.Col, e.Offset, e.Span)
	}
	if Errors(errors.New("other")) != nil || Render("x", errors.New("other")) != "error: other\n" {
		t.Error("a non-language error is not rendered as one")
	}
}

// TestRenderLongLine checks that a long line is cut to a window around the
// caret, which stays under the offending text.
func TestRenderLongLine(t *testing.T) {
	src := strings.Repeat(`name = "a" OR `, 30) + `lable = "b" OR ` + strings.Repeat(`name = "a" OR `, 30) + `name = "a"`
	_, err := Parse(src)
	out := Render(src, err)
	lines := strings.Split(out, "\n")
	text, carets := lines[1], lines[2]
	if !strings.HasPrefix(text, "  1 | …") || !strings.HasSuffix(text, "…") {
		t.Errorf("long line not clipped:\n%s", out)
	}
	col := strings.Index(carets, "^")
	if got := string([]rune(text)[len([]rune(carets[:col])):][:5]); got != "lable" {
		t.Errorf("caret under %q, want under lable:\n%s", got, out)
	}
}
