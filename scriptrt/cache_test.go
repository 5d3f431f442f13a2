package scriptrt

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestProgramCache: a script compiles once however often it runs, the
// cache keeps at most its size (least recently used out), syntax errors
// are not kept, and a huge script is compiled but not kept.
func TestProgramCache(t *testing.T) {
	c := newProgramCache(2)
	a1, err := c.compile("s", "1 + 1")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.compile("s", "1 + 1")
	if a1 != a2 {
		t.Error("the same script compiled twice")
	}
	if _, err := c.compile("s", "2 + 2"); err != nil {
		t.Fatal(err)
	}
	c.compile("s", "1 + 1") // used again: now the most recent
	c.compile("s", "3 + 3") // evicts 2 + 2
	if c.len() != 2 {
		t.Errorf("holds %d programs, want 2", c.len())
	}
	if a3, _ := c.compile("s", "1 + 1"); a3 != a1 {
		t.Error("the most recently used script was evicted")
	}
	var syn *SyntaxError
	if _, err := c.compile("s", "1 +"); !errors.As(err, &syn) || syn.Errors[0].Line != 1 {
		t.Errorf("err %v, want a positioned SyntaxError", err)
	}
	big := strings.Repeat("var x"+strconv.Itoa(1)+" = 1;\n", maxCachedSource/10)
	before := c.len()
	if _, err := c.compile("s", big); err != nil || c.len() != before {
		t.Errorf("a huge script: err %v, cache %d → %d", err, before, c.len())
	}
}
