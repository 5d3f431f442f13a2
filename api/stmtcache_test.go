package api

import (
	"fmt"
	"testing"
)

// The statement cache hands back the statement it parsed for the same
// text, never keeps a text that did not parse, and stays within its
// bound however many distinct texts arrive.
func TestStmtCache(t *testing.T) {
	c := newStmtCache()
	a, err := c.parse(`type = "service"`)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.parse(`type = "service"`); b != a {
		t.Fatalf("the same text parsed twice: %p and %p", a, b)
	}
	for range 2 {
		if _, err := c.parse(`type = `); err == nil {
			t.Fatal("a bad query parsed")
		}
	}
	if _, ok := c.m[`type = `]; ok {
		t.Fatal("a query that did not parse was kept")
	}
	for i := range 3 * stmtCacheEntries {
		if _, err := c.parse(fmt.Sprintf(`name = "c-%d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > stmtCacheEntries {
		t.Fatalf("%d statements kept, over the bound of %d", len(c.m), stmtCacheEntries)
	}
}
