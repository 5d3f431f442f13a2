package automation_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/scriptrt/automation"
)

// TestDocDefinitions: every definition in docs/automations.md decodes and
// checks, and applies; the scheduled script runs against the test graph.
func TestDocDefinitions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "automations.md"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, automation.Config{})
	var n int
	for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
		src, _, _ := strings.Cut(block, "```")
		defs, err := automation.Decode(strings.NewReader(src))
		if err != nil {
			t.Fatalf("a definition of the doc does not decode: %v\n%s", err, src)
		}
		for _, d := range defs {
			if _, err := f.m.Apply(d); err != nil {
				t.Errorf("a definition of the doc does not apply: %v", err)
			}
			n++
		}
	}
	if n < 3 {
		t.Fatalf("found %d definitions in docs/automations.md, want 3", n)
	}
	r, err := f.m.RunNow(context.Background(), "services-without-pods", nil)
	if err != nil || r.Outcome != "ok" || string(r.Result.Value) != `["checkout"]` {
		t.Errorf("services-without-pods: %+v %v", r, err)
	}
}
