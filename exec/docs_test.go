package exec_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// TestDocExamplesRun runs every topology example of docs/query-language.md
// (which promises they "all must parse and run") on a generated graph with
// a day of history; the language's own test checks that they parse and
// print back. Telemetry statements must say they are not supported yet.
func TestDocExamplesRun(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "query-language.md"))
	if err != nil {
		t.Fatal(err)
	}
	st, now := generatedStore(t, 300, 48)
	eng := exec.New(st, exec.Options{Now: now})
	ran := 0
	block := "" // the opening line of the ``` block we are in, or ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```") && block == "":
			block = line
			continue
		case strings.HasPrefix(line, "```"):
			block = ""
			continue
		case block != "```" || line == "" || strings.Contains(line, "[WHERE <filter>]"):
			continue // prose, code in other languages, the statement synopses
		}
		stmt, err := lang.Parse(line)
		if err != nil {
			t.Errorf("%s", lang.Render(line, err))
			continue
		}
		_, err = eng.Run(context.Background(), stmt)
		if _, topo := stmt.(*lang.TopologyStmt); !topo {
			if !errors.Is(err, exec.ErrUnsupported) {
				t.Errorf("%s: %v, want ErrUnsupported", line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s", lang.Render(line, err))
		}
		ran++
	}
	if ran < 8 {
		t.Errorf("ran %d topology examples, want at least 8", ran)
	}
}
