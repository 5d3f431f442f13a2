package repl

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
)

// TestComplete runs testdata/complete: the input is the text before the
// cursor (its last line may follow earlier lines of the statement), and
// the output the word typed so far and each candidate as the line would
// read once completed with it. Values come from the sample web shop.
func TestComplete(t *testing.T) {
	st := webshop(t)
	b := NewEmbedded(exec.New(st, exec.Options{Now: func() time.Time { return testNow }}))
	cache := newValueCache(b, time.Now)
	c := newCompleter(cache.lookup)
	datadriven.Walk(t, filepath.Join("testdata", "complete"), func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "complete" {
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			text := d.Input
			if strings.HasSuffix(text, "⏎") { // a line that ends in blanks, made visible
				text = strings.TrimSuffix(text, "⏎")
			}
			pending, line := "", text
			if i := strings.LastIndexByte(text, '\n'); i >= 0 {
				pending, line = text[:i], text[i+1:]
			}
			c.setPending(pending, false)
			cands, typed := c.completeAt(line)
			var out strings.Builder
			fmt.Fprintf(&out, "typed %q\n", typed)
			for _, cand := range cands {
				fmt.Fprintf(&out, "%s%s⏎\n", line[:len(line)-len(typed)], cand)
			}
			return out.String()
		})
	})
}

// TestValueCache checks that a look-up is answered from the cache when an
// entry that holds every value under a shorter prefix is fresh, and asked
// again when it is stale.
func TestValueCache(t *testing.T) {
	b := &countingBackend{Backend: NewEmbedded(exec.New(webshop(t), exec.Options{Now: func() time.Time { return testNow }}))}
	now := testNow
	cache := newValueCache(b, func() time.Time { return now })
	if got := cache.lookup("type", ""); strings.Join(got, ",") != "cluster,database,host,namespace,pod,service" {
		t.Errorf("types: %v", got)
	}
	if got := cache.lookup("type", "Se"); strings.Join(got, ",") != "service" || b.calls != 1 {
		t.Errorf("types under Se: %v after %d look-ups, want service after 1", got, b.calls)
	}
	now = now.Add(valueTTL + time.Second)
	cache.lookup("type", "se")
	if b.calls != 2 {
		t.Errorf("%d look-ups after the entry went stale, want 2", b.calls)
	}
}

type countingBackend struct {
	Backend
	calls int
}

func (c *countingBackend) Values(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	c.calls++
	return c.Backend.Values(ctx, key, prefix, limit)
}
