package lang

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestTokensData runs testdata/tokens: each input is split with Tokens and
// printed one token a line (kind, span, text, and the value of strings),
// then the error, if any.
func TestTokensData(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "tokens"), func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "tokens" {
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			src := directiveInput(t, d)
			toks, err := Tokens(src)
			var b strings.Builder
			for _, tok := range toks {
				if src[tok.Span.Start:tok.Span.End] != tok.Text {
					t.Errorf("token %q has span %v over %q", tok.Text, tok.Span, src[tok.Span.Start:tok.Span.End])
				}
				fmt.Fprintf(&b, "%s %d-%d %s", kindName[tok.Kind], tok.Span.Start, tok.Span.End, tok.Text)
				if tok.Kind == TokenString {
					fmt.Fprintf(&b, " value=%q", tok.Value())
				}
				if tok.Open {
					b.WriteString(" open")
				}
				b.WriteByte('\n')
			}
			if err != nil {
				b.WriteString(Render(src, err))
			}
			return b.String()
		})
	})
}

var kindName = map[TokenKind]string{TokenWord: "word", TokenBool: "bool", TokenString: "string", TokenOp: "op", TokenPunct: "punct"}

// TestQuote checks that a quoted value parses back to exactly the value,
// stars included (they must not become wildcards).
func TestQuote(t *testing.T) {
	for _, v := range []string{"", "plain", `a "quoted" word`, `back\slash`, "star*", "*", `\*`, "ünïcode ✓", "new\nline"} {
		src := "name = " + Quote(v)
		stmt, err := Parse(src)
		if err != nil {
			t.Errorf("Quote(%q) = %s does not parse: %v", v, Quote(v), err)
			continue
		}
		c := stmt.(*TopologyStmt).Query.(*CompareExpr)
		if got := c.Values[0]; got.Text != v || got.IsGlob() {
			t.Errorf("Quote(%q) parses to %q (glob %v)", v, got.Text, got.IsGlob())
		}
		if toks, _ := Tokens(src); toks[2].Value() != v {
			t.Errorf("Tokens(%s) value = %q, want %q", src, toks[2].Value(), v)
		}
	}
}

// TestWords checks that the vocabulary agrees with the parser: every key,
// function, argument value and field it lists is accepted where it says.
func TestWords(t *testing.T) {
	v := Words()
	value := func(key string) string {
		switch key {
		case "healthstate":
			return "CLEAR"
		case "id":
			return "1"
		}
		return `"x"`
	}
	for _, k := range v.TopologyKeys {
		mustParse(t, k+" = "+value(k))
	}
	for alias, canon := range v.KeyAliases {
		mustParse(t, alias+" = "+value(canon))
	}
	for _, s := range v.HealthStates {
		mustParse(t, "healthstate = "+s)
	}
	for _, f := range v.Functions {
		mustParse(t, f+`(components = (name = "x"))`)
	}
	for arg, vals := range v.ArgumentValues {
		for _, val := range vals {
			mustParse(t, `withNeighborsOf(components = (name = "x"), `+arg+" = "+Quote(val)+")")
		}
	}
	for stmt, fields := range v.Fields {
		for _, f := range fields {
			key := f.Name
			if strings.HasSuffix(key, ".") {
				key += "x"
			}
			val := `"x"`
			if len(f.Values) > 0 {
				val = Quote(f.Values[0])
			}
			switch key {
			case "duration":
				val = "5ms"
			case "start":
				val = `"-5m"`
			}
			mustParse(t, stmt+" WHERE "+key+" = "+val)
		}
	}
	for _, kw := range v.Keywords {
		if !isKeyword(kw) {
			t.Errorf("keyword %s is not a keyword", kw)
		}
	}
	// The lists are copies: changing them changes nothing for the next caller.
	v.TopologyKeys[0] = "changed"
	if Words().TopologyKeys[0] == "changed" {
		t.Error("Words shares its slices")
	}
}
