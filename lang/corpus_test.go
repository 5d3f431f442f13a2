package lang

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusPath is the shared STQL corpus at the repository root.
var corpusPath = filepath.Join("..", "testdata", "stql", "docs-corpus.tsv")

// corpusLine is one query of the corpus.
type corpusLine struct {
	line   int
	source string
	query  string
}

func (c corpusLine) curly() bool { return strings.Contains(c.source, "[doc typo: curly quote]") }

func readCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		source, query, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			tb.Fatalf("%s:%d: no tab", corpusPath, n)
		}
		out = append(out, corpusLine{line: n, source: source, query: query})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCorpus parses every query of the corpus: all parse and round-trip
// through Format, except the documentation typos with a typographic quote,
// which fail with the caret on that quote.
func TestCorpus(t *testing.T) {
	lines := readCorpus(t)
	if len(lines) != 262 {
		t.Errorf("corpus has %d queries, want 262", len(lines))
	}
	var parsed, curly, placeholders int
	for _, c := range lines {
		if c.curly() {
			checkCurly(t, c)
			curly++
			continue
		}
		stmt, err := Parse(c.query)
		if err != nil {
			t.Errorf("line %d (%s):\n%s", c.line, c.source, Render(c.query, err))
			continue
		}
		checkRoundTrip(t, c.query, stmt)
		checkSpans(t, c.query, stmt)
		parsed++
		if strings.Contains(c.source, "template placeholder") {
			placeholders++
		}
	}
	if parsed != 254 || curly != 8 || placeholders != 57 {
		t.Errorf("%d parsed (%d with template placeholders), %d typographic-quote typos; want 254 (57) and 8", parsed, placeholders, curly)
	}
}

// checkCurly checks that q fails with one error whose span is exactly the
// typographic quote.
func checkCurly(t *testing.T, c corpusLine) {
	t.Helper()
	_, err := Parse(c.query)
	errs := Errors(err)
	if len(errs) != 1 {
		t.Errorf("line %d: want one error, got %v", c.line, err)
		return
	}
	e := errs[0]
	r, size := utf8.DecodeRuneInString(c.query[e.Span.Start:])
	if typographicQuote(r) == 0 || e.Span.End != e.Span.Start+size {
		t.Errorf("line %d: caret not on the typographic quote:\n%s", c.line, Render(c.query, err))
	}
	if !strings.Contains(e.Hint, "typographic quote") {
		t.Errorf("line %d: hint %q does not explain the typographic quote", c.line, e.Hint)
	}
}

// roundTripLimits are the limits the canonical text is parsed back with. It
// can be longer than the query it came from (bare values get quotes,
// withNeighborsOf its default arguments: at most about four times the bytes
// and tokens), never deeper, so a query near MaxBytes or MaxTokens is checked
// with room for its canonical form.
var roundTripLimits = Limits{MaxBytes: 1 << 24, MaxTokens: 1 << 22, MaxDepth: 1 << 20, MaxListValues: 1 << 20}

// checkRoundTrip checks the law Parse(Format(Parse(q))) = Parse(q), and that
// Format is idempotent.
func checkRoundTrip(t testing.TB, q string, stmt Statement) {
	t.Helper()
	text := Format(stmt)
	again, err := ParseWithLimits(text, roundTripLimits)
	if err != nil {
		t.Errorf("Format(Parse(%.200q)) = %.200q does not parse:\n%s", q, text, Render(text, err))
		return
	}
	if !Equal(stmt, again) {
		t.Errorf("round trip changed the AST:\n  query:  %.300s\n  format: %.300s\n  again:  %.300s", q, text, Format(again))
	}
	if f2 := Format(again); f2 != text {
		t.Errorf("Format is not idempotent:\n  once:  %.300s\n  twice: %.300s", text, f2)
	}
}
