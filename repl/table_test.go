package repl

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
)

// TestTables runs testdata/table and testdata/render.
//
//	table [width=N]
//	HEADER[:fixed|keep=K|min=M|middle,…] | …    the columns
//	cell | cell | …                             one row a line
//	----
//	the table as Write prints it
//
//	render [width=N]
//	an exec.Result as JSON
//	----
//	the result as Render prints it
//
// Every line printed with a width must fit it. Cells are Go-quoted when
// they start with a quote, for bytes a text file cannot hold.
func TestTables(t *testing.T) {
	for _, dir := range []string{"table", "render"} {
		datadriven.Walk(t, filepath.Join("testdata", dir), func(t *testing.T, path string) {
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				w := 0
				d.MaybeScanArgs(t, "width", &w)
				var b strings.Builder
				switch d.Cmd {
				case "table":
					tab := parseTable(t, d)
					if err := tab.Write(&b, w); err != nil {
						t.Fatal(err)
					}
				case "render":
					var res exec.Result
					if err := json.Unmarshal([]byte(d.Input), &res); err != nil {
						d.Fatalf(t, "bad result: %v", err)
					}
					if err := Render(&b, &res, Options{Width: w}); err != nil {
						t.Fatal(err)
					}
				default:
					d.Fatalf(t, "unknown directive %q", d.Cmd)
				}
				checkFits(t, b.String(), w)
				return b.String()
			})
		})
	}
}

func checkFits(t *testing.T, out string, w int) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if w > 0 && width(l) > w {
			t.Errorf("line is %d columns wide, more than %d: %q", width(l), w, l)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line ends in a blank: %q", l)
		}
		for _, r := range l {
			if unsafeRune(r) {
				t.Errorf("line holds the raw character %U: %q", r, l)
			}
		}
	}
}

func parseTable(t *testing.T, d *datadriven.TestData) Table {
	lines := strings.Split(d.Input, "\n")
	var tab Table
	for _, spec := range splitCells(t, d, lines[0]) {
		name, opts, _ := strings.Cut(spec, ":")
		c := Column{Header: name}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "":
			case "fixed":
				c.Fixed = true
			case "keep":
				c.Keep = n
			case "min":
				c.Min = n
			case "middle":
				c.ElideMiddle = true
			default:
				d.Fatalf(t, "unknown column option %q", k)
			}
		}
		tab.Columns = append(tab.Columns, c)
	}
	for _, l := range lines[1:] {
		tab.Rows = append(tab.Rows, splitCells(t, d, l))
	}
	return tab
}

func splitCells(t *testing.T, d *datadriven.TestData, l string) []string {
	var out []string
	for _, c := range strings.Split(l, "|") {
		c = strings.TrimSpace(c)
		if strings.HasPrefix(c, `"`) {
			u, err := strconv.Unquote(c)
			if err != nil {
				d.Fatalf(t, "bad quoted cell %s: %v", c, err)
			}
			c = u
		}
		out = append(out, c)
	}
	return out
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                  "plain",
		"":                       "",
		"caf\u00e9 \u4e16\u754c": "caf\u00e9 \u4e16\u754c",
		"\x1b[2Jgone":            `\x1b[2Jgone`,
		"a\x00b":                 `a\x00b`,
		"tab\there\nnl\rcr":      `tab\there\nnl\rcr`,
		"del\x7f":                `del\x7f`,
		"c1\u0085\u009b31m":      `c1\u0085\u009b31m`,
		"bidi\u202eevil":         `bidi\u202eevil`,
		"sep\u2028x":             `sep\u2028x`,
		"bad\xffutf8":            `bad\xffutf8`,
		"\xc3":                   `\xc3`,
		`back\slash`:             `back\slash`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestElide(t *testing.T) {
	for _, c := range []struct {
		in     string
		w      int
		middle bool
		want   string
	}{
		{"checkout", 10, false, "checkout"},
		{"checkout-5c6b7d8e9-h4j5k", 10, false, "checkout-…"},
		{"checkout-5c6b7d8e9-h4j5k", 12, true, "checko…h4j5k"},
		{"checkout-5c6b7d8e9-h4j5k", 4, true, "che…"},
		{"checkout", 1, false, "…"},
		{"checkout", 0, false, ""},
		{"\u4e16\u754c\u4e16\u754c", 5, false, "\u4e16\u754c…"},
		{"\u4e16\u754c\u4e16\u754cabc", 7, true, "\u4e16…abc"},
	} {
		got := elide(c.in, c.w, c.middle)
		if got != c.want || width(got) > c.w {
			t.Errorf("elide(%q, %d, %v) = %q (%d wide), want %q", c.in, c.w, c.middle, got, width(got), c.want)
		}
	}
}

// TestEscapeJSON checks that the result JSON printed on a terminal holds
// nothing a terminal acts on and still decodes to the same names.
func TestEscapeJSON(t *testing.T) {
	name := "a\x1b[2J\x7f\u009b31m\u202eb\xff"
	res := &exec.Result{Topology: &exec.TopologyResult{Components: exec.RowsOf([]exec.Component{{ID: 1, Name: name}})}}
	doc, err := exec.AppendJSON(context.Background(), nil, res, exec.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	safe := escapeJSON(doc)
	for _, r := range string(safe) {
		if unsafeRune(r) && r != '\n' {
			t.Errorf("the JSON holds %U raw: %s", r, safe)
		}
	}
	back, err := exec.DecodeJSON(safe)
	if err != nil {
		t.Fatalf("%v: %s", err, safe)
	}
	if got, want := back.Topology.Components.At(0).Name, strings.ToValidUTF8(name, "\ufffd"); got != want {
		t.Errorf("name %q after the round trip, want %q", got, want)
	}
}
