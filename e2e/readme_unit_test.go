package e2e

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTour(t *testing.T) {
	readme := "intro\n<!-- tour -->\n```sh\ntetra query 'a'\n```\n```text\nNAME …\n```\nmore\n<!-- tour repl -->\n```text\ntetra> x\ny\n```\n"
	steps, err := ParseTour(strings.NewReader(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Kind != "tour" || steps[0].Line != 2 || !slices.Equal(steps[0].Input, []string{"tetra query 'a'"}) ||
		!slices.Equal(steps[0].Output, []string{"NAME …"}) || steps[1].Kind != "tour repl" || steps[1].Output != nil {
		t.Fatalf("%+v", steps)
	}
	if _, err := ParseTour(strings.NewReader("<!-- tour -->\ntext\n")); err == nil {
		t.Fatal("a marker without a block parsed")
	}
}

func TestMatch(t *testing.T) {
	out := "NAME      TYPE\norders-db database   x\ncheckout  service\n"
	for _, c := range []struct {
		patterns []string
		missing  string
	}{
		{[]string{"NAME TYPE", "orders-db database …"}, ""},
		{[]string{"orders-db …", "checkout service"}, ""},
		{[]string{"checkout service", "orders-db …"}, "orders-db …"}, // order matters
		{[]string{"orders-db"}, "orders-db"},                         // whole lines
		{[]string{"… service"}, ""},
		{[]string{"orders-db … x"}, ""}, // the ellipsis takes the spaces around it
		{[]string{"NAME…TYPE"}, ""},     // and stands for them alone
		{[]string{"… database x"}, ""},  // spaces between words are any spaces
		{[]string{"… database  y"}, "… database  y"},
	} {
		if got := Match(c.patterns, out); got != c.missing {
			t.Errorf("Match(%q) = %q, want %q", c.patterns, got, c.missing)
		}
	}
}

func TestWords(t *testing.T) {
	env := func(k string) string { return map[string]string{"K": "k1"}[k] }
	for line, want := range map[string][]string{
		`tetra query 'type = "service"'`:        {"tetra", "query", `type = "service"`},
		`curl -H "X-API-Key: $K" -d '{"a": 1}'`: {"curl", "-H", "X-API-Key: k1", "-d", `{"a": 1}`},
		`tetra query 'name = "x"' # a comment`:  {"tetra", "query", `name = "x"`},
		`echo ${K}x \"q\"`:                      {"echo", "k1x", `"q"`},
		`tetra script run --script "1 + \"a\""`: {"tetra", "script", "run", "--script", `1 + "a"`},
	} {
		got, err := Words(line, env)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Words(%s) = %q, %v; want %q", line, got, err, want)
		}
	}
}

func TestShownNames(t *testing.T) {
	for _, c := range []struct {
		input, output []string
		want          []string
	}{
		{[]string{`tetra query 'type = "x"'`}, []string{"3 components at …", "ID   NAME       TYPE", "…    payment    service  …", "…    fraud      service", "…",
			"", "2 relations", "ID   TYPE   SOURCE …", "…    calls  … payment  … fraud"}, []string{"payment", "fraud"}},
		{[]string{`tetra query 'l' CHANGES`}, []string{"OP  ID   NAME …", "+   …    checkout-… pod", "…", "… relations: …", "+   …    controls …"}, []string{"checkout-…"}},
		{[]string{`tetra query -o name 'q'`, `tetra query 'q AT "-30s"'`}, []string{"checkout-…", "checkout-…", "3 components at …", "…  checkout-…  pod  Pods"},
			[]string{"checkout-…", "checkout-…"}},
		{[]string{`tetra query 'METRICS …'`}, []string{"2 series from … to …", "SERIES  POINTS", `{component="frontend"}   …`, `{component="checkout"}   …`},
			[]string{"frontend", "checkout"}},
		{[]string{`tetra query 'EVENTS …'`}, []string{"TIME  CATEGORY  NAME  SOURCE", "…  Alerts  orders-db query latency CRITICAL …"}, nil},
	} {
		if got := ShownNames(Step{Input: c.input, Output: c.output}); !slices.Equal(got, c.want) {
			t.Errorf("ShownNames(%q) = %q, want %q", c.output, got, c.want)
		}
	}
}

func TestNameRE(t *testing.T) {
	text := `#130 frontend [service, Services] CLEAR` + "\n" + `+ #7 checkout-abc12-x9 [pod, Pods]` + "\n" + `{component="payment"} of #3`
	for pattern, want := range map[string]bool{"frontend": true, "front": false, "checkout-…": true, "payment": true, "checkout": false, "Services": true} {
		if got := NameRE(pattern).MatchString(text); got != want {
			t.Errorf("NameRE(%q) matched %v, want %v", pattern, got, want)
		}
	}
}
