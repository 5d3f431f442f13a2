package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocExamples parses every example query of docs/query-language.md:
// the lines of its plain ``` blocks, except the statement synopses.
func TestDocExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "query-language.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	block := "" // "" outside a block, else the block's opening line
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```") && block == "":
			block = line
		case strings.HasPrefix(line, "```"):
			block = ""
		case block == "```" && line != "" && !strings.Contains(line, "[WHERE <filter>]"):
			n++
			stmt, err := Parse(line)
			if err != nil {
				t.Errorf("%s", Render(line, err))
				continue
			}
			checkRoundTrip(t, line, stmt)
		}
	}
	if n < 12 {
		t.Errorf("found %d examples, want at least 12", n)
	}
}
