package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestParseData runs the datadriven files under testdata/parse. Directives:
//
//	parse [quoted] [max-bytes=N] [max-depth=N] [max-tokens=N] [max-list=N]
//	<query>
//	----
//	<canonical form, or the rendered error>
//
//	tree [quoted]
//	<query>
//	----
//	<the AST, one node a line, with the source text of its span>
//
// "quoted" means the input is a Go string literal, for bytes a text file
// cannot show. Every accepted query is also checked for the round-trip law
// and for well-nested spans. Regenerate with -rewrite and review the diff.
func TestParseData(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "parse"), func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			src := directiveInput(t, d)
			stmt, err := ParseWithLimits(src, directiveLimits(t, d))
			if err != nil {
				checkError(t, src, err)
				return Render(src, err)
			}
			checkRoundTrip(t, src, stmt)
			checkSpans(t, src, stmt)
			switch d.Cmd {
			case "parse":
				return Format(stmt) + "\n"
			case "tree":
				return dumpTree(src, stmt)
			}
			d.Fatalf(t, "unknown directive %q", d.Cmd)
			return ""
		})
	})
}

func directiveInput(t *testing.T, d *datadriven.TestData) string {
	if !d.HasArg("quoted") {
		return d.Input
	}
	s, err := strconv.Unquote(d.Input)
	if err != nil {
		d.Fatalf(t, "bad quoted input: %v", err)
	}
	return s
}

func directiveLimits(t *testing.T, d *datadriven.TestData) Limits {
	lim := DefaultLimits
	for _, a := range []struct {
		name string
		dst  *int
	}{{"max-bytes", &lim.MaxBytes}, {"max-depth", &lim.MaxDepth}, {"max-tokens", &lim.MaxTokens}, {"max-list", &lim.MaxListValues}} {
		if d.HasArg(a.name) {
			d.ScanArgs(t, a.name, a.dst)
		}
	}
	return lim
}

// dumpTree draws the AST: a node a line, children indented, each with the
// source text its span covers.
func dumpTree(src string, n Node) string {
	var b strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		s := n.Span()
		fmt.Fprintf(&b, "%s%s «%s»\n", strings.Repeat("  ", depth), describe(n), src[s.Start:s.End])
		for _, c := range children(n) {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

// describe labels a node for dumpTree.
func describe(n Node) string {
	switch n := n.(type) {
	case *TopologyStmt:
		return fmt.Sprintf("TopologyStmt keyword=%v", n.Keyword)
	case *BinaryExpr:
		if n.Op == OpExcept {
			return "BinaryExpr EXCEPT"
		}
		return "BinaryExpr " + n.Op.String()
	case *CompareExpr:
		return "CompareExpr " + n.Op.String()
	case *NeighborsExpr:
		return fmt.Sprintf("NeighborsExpr levels=%d all=%v direction=%s", n.Levels, n.AllLevels, n.Direction)
	case *CauseOfExpr:
		return fmt.Sprintf("CauseOfExpr levels=%d all=%v direction=%d", n.Levels, n.AllLevels, n.Direction)
	case *Key:
		return "Key " + n.Name
	case *Value:
		return describeValue(n)
	case *TimeValue:
		return describeTime(n)
	case *DurationValue:
		return "DurationValue " + n.D.String()
	case *Aggregate:
		return fmt.Sprintf("Aggregate %s p=%g", n.Method, n.Percentile)
	case *OrderBy:
		return fmt.Sprintf("OrderBy desc=%v", n.Desc)
	case *Limit:
		return fmt.Sprintf("Limit %d", n.N)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", n), "*lang.")
}

func describeValue(v *Value) string {
	s := fmt.Sprintf("Value %s %q", v.Kind, v.Text)
	switch {
	case v.Kind == ValNumber:
		s += fmt.Sprintf(" number=%g", v.Number)
	case v.Kind == ValDuration:
		s += " dur=" + v.Dur.String()
	case v.Pattern != nil:
		s += fmt.Sprintf(" pattern=%q", v.Pattern)
	}
	return s
}

func describeTime(t *TimeValue) string {
	switch t.Kind {
	case TimeRelative:
		return "TimeValue relative " + t.Offset.String()
	case TimeAbsolute, TimeEpochMs:
		return fmt.Sprintf("TimeValue %s %s", t.Kind, t.Abs.Format(time.RFC3339Nano))
	}
	return "TimeValue " + t.Kind.String()
}

// checkSpans checks that every span lies within the source and within its
// parent's span.
func checkSpans(t testing.TB, src string, root Node) {
	t.Helper()
	var walk func(n Node, outer Span)
	walk = func(n Node, outer Span) {
		s := n.Span()
		if s.Start < outer.Start || s.End > outer.End || s.Start > s.End {
			t.Errorf("%s: span %v of %T is outside %v (%q)", src, s, n, outer, src)
			return
		}
		if s.Start == s.End {
			t.Errorf("%s: empty span %v of %T", src, s, n)
		}
		checkLeafSpan(t, src[s.Start:s.End], n)
		for _, c := range children(n) {
			walk(c, s)
		}
	}
	walk(root, Span{0, len(src)})
}

// checkLeafSpan checks that a key or value spans exactly its token.
func checkLeafSpan(t testing.TB, text string, n Node) {
	t.Helper()
	switch n := n.(type) {
	case *Key:
		if strings.ContainsAny(text, " \t\n(),=") {
			t.Errorf("key %q spans %q", n.Name, text)
		}
	case *Value:
		got := text
		if text[0] == '"' || text[0] == '\'' {
			got, _ = unquote(text)
		}
		if got != n.Text {
			t.Errorf("value %q spans %q", n.Text, text)
		}
	}
}

// checkError checks the shape of a parse error: language errors only, none
// internal, spans within the source, and a renderer that copes.
func checkError(t testing.TB, src string, err error) {
	t.Helper()
	errs := Errors(err)
	if len(errs) == 0 {
		t.Errorf("%q: error %v is not a language error", src, err)
	}
	for _, e := range errs {
		if strings.HasPrefix(e.Message, internalErrorPrefix) {
			t.Errorf("%q: %s", src, e.Message)
		}
		if e.Span.Start < 0 || e.Span.End > len(src) || e.Span.Start > e.Span.End || e.Offset != e.Span.Start {
			t.Errorf("%q: bad error span %v", src, e.Span)
		}
	}
	if r := Render(src, err); !strings.HasPrefix(r, "error: ") {
		t.Errorf("%q: rendered error %q", src, r)
	}
}

// datadrivenInputs returns the inputs of every parse and tree directive
// under testdata/parse, to seed the fuzzer.
func datadrivenInputs(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, directiveInputs(string(b))...)
	}
	return out
}

// directiveInputs extracts the inputs of a datadriven file: the lines
// between a directive line and its "----".
func directiveInputs(file string) []string {
	var out, input []string
	var in, quoted bool
	for _, line := range strings.Split(file, "\n") {
		switch {
		case !in && (strings.HasPrefix(line, "parse") || strings.HasPrefix(line, "tree")):
			in, quoted, input = true, strings.Contains(line, "quoted"), nil
		case in && line == "----":
			in = false
			s := strings.Join(input, "\n")
			if quoted {
				s, _ = strconv.Unquote(s)
			}
			out = append(out, s)
		case in:
			input = append(input, line)
		}
	}
	return out
}
