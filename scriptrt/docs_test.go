package scriptrt_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/scriptrt"
)

// example is a ```js block of a doc and what follows it: a ```json block
// with the value it returns, or a ```tql block with the statement it
// builds.
type example struct {
	line       int
	src        string
	kind, want string // "json" or "tql", and the block's text; "" when none
}

// docExamples reads the ```js blocks of a Markdown file.
func docExamples(t *testing.T, path string) []example {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```js" {
			continue
		}
		ex := example{line: i + 1}
		src, next := block(lines, i+1)
		ex.src = src
		if next < len(lines) && (lines[next] == "```json" || lines[next] == "```tql") {
			ex.kind = strings.TrimPrefix(lines[next], "```")
			ex.want, next = block(lines, next+1)
		}
		out = append(out, ex)
		i = next - 1
	}
	return out
}

// block returns the text up to the closing ``` from line i, and the line
// after the closing one.
func block(lines []string, i int) (string, int) {
	var b strings.Builder
	for ; i < len(lines) && lines[i] != "```"; i++ {
		b.WriteString(lines[i] + "\n")
	}
	return b.String(), i + 1
}

// TestDocExamples runs every example of docs/scripting.md against the web
// shop: an example with a JSON block must return that value; one with a
// TQL block must build that statement (the engine names it in its
// "unsupported" error until the telemetry and trace stores exist, and
// after that the example must run); any other must run.
func TestDocExamples(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rt := newRuntime(t, scriptrt.Config{HTTP: scriptrt.HTTPConfig{AllowHosts: []string{host}}})
	exs := docExamples(t, filepath.Join("..", "docs", "scripting.md"))
	if len(exs) < 12 {
		t.Fatalf("found %d examples, want at least 12", len(exs))
	}
	for _, ex := range exs {
		src := strings.ReplaceAll(ex.src, "http://hooks.example.internal", srv.URL)
		// A sink, so that the examples of Health.set and Events.emit run.
		res, err := rt.Run(context.Background(), scriptrt.Request{Script: src, Sink: discardSink{}})
		switch {
		case ex.kind == "tql" && errors.Is(err, exec.ErrUnsupported):
			var se *scriptrt.ScriptError
			if !errors.As(err, &se) || se.Query != strings.TrimSpace(ex.want) {
				t.Errorf("docs/scripting.md:%d: built %q, the doc says %q", ex.line, se.Query, strings.TrimSpace(ex.want))
			}
		case err != nil:
			t.Errorf("docs/scripting.md:%d: %v", ex.line, err)
		case ex.kind == "json":
			var got, want any
			if err := json.Unmarshal(res.Value, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(ex.want), &want); err != nil {
				t.Fatalf("docs/scripting.md:%d: the JSON block does not parse: %v", ex.line, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("docs/scripting.md:%d: got %s, the doc says %s", ex.line, res.Value, ex.want)
			}
		}
	}
}

// TestLanguageDocExamples runs the script examples of the language
// reference (docs/query-language.md §6), with q, ms and pattern bound.
func TestLanguageDocExamples(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{})
	exs := docExamples(t, filepath.Join("..", "docs", "query-language.md"))
	if len(exs) != 1 {
		t.Fatalf("found %d js blocks in the language doc, want 1 (§6)", len(exs))
	}
	ran := 0
	for _, line := range strings.Split(strings.TrimSpace(exs[0].src), "\n") {
		res, err := rt.Run(context.Background(), scriptrt.Request{
			Script:          line,
			ArgumentsScript: `({q: 'environment in ("Production")', ms: 1795176000000, pattern: "yyyy-MM-dd"})`,
		})
		switch {
		case errors.Is(err, exec.ErrUnsupported):
			// A METRICS, EVENTS or TRACES statement, built and checked; the
			// engine cannot run it yet.
		case err != nil:
			t.Errorf("%s: %v", line, err)
		default:
			t.Logf("%s => %s %.80s", line, res.Type, res.Value)
		}
		ran++
	}
	if ran < 7 {
		t.Errorf("ran %d examples, want 7", ran)
	}
}

// discardSink accepts every write.
type discardSink struct{}

func (discardSink) SetHealth(context.Context, scriptrt.HealthWrite) error { return nil }
func (discardSink) EmitEvents(context.Context, []scriptrt.Event) error    { return nil }
