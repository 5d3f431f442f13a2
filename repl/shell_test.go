package repl

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/scriptrt"
)

// The sample web shop is loaded at these times, and the tests' clock reads
// testNow.
var (
	kubernetesAt = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	agentAt      = time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC)
	testNow      = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
)

// webshop returns a store holding the repository's sample web shop.
func webshop(t testing.TB) graphstore.Store {
	t.Helper()
	st, err := loadWebshop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// loadWebshop loads the sample web shop into a new store: the Kubernetes
// source at 10:00, the agent and the traces at 11:00.
func loadWebshop() (graphstore.Store, error) {
	st := memstore.New(memstore.Options{Now: func() time.Time { return testNow }, Retention: 1000 * time.Hour})
	ap := ingest.NewApplier(st)
	for _, f := range []struct {
		name string
		at   time.Time
	}{{"webshop-kubernetes.json", kubernetesAt}, {"webshop-agent.json", agentAt}, {"webshop-traces.json", agentAt.Add(time.Second)}} {
		r, err := os.Open(filepath.Join("..", "testdata", "topology", f.name))
		if err != nil {
			return nil, err
		}
		topos, err := (&ingest.Decoder{DefaultSource: "file:" + f.name}).Decode(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		if _, err := ap.Apply(context.Background(), topos, f.at); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// steppingClock reads testNow and moves on by step at every reading, so
// timing is the same on every run.
func steppingClock(step time.Duration) func() time.Time {
	t := testNow
	return func() time.Time {
		now := t
		t = t.Add(step)
		return now
	}
}

// TestShellScripts runs testdata/shell: each "shell" directive is one
// session without a terminal (a script read from its standard input) over
// the sample web shop; the output is what it printed, results and errors
// in order, and "failed" when Run reported a failed statement.
func TestShellScripts(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "shell"), func(t *testing.T, path string) {
		st := webshop(t)
		backend := embeddedBackend(t, st)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "shell" {
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			var out strings.Builder
			err := Run(context.Background(), Config{
				Backend: backend,
				In:      strings.NewReader(d.Input),
				Out:     &out,
				Err:     &out,
				Now:     steppingClock(1500 * time.Microsecond),
			})
			if err != nil {
				out.WriteString("failed: " + err.Error() + "\n")
			}
			return out.String()
		})
	})
}

// embeddedBackend is the backend tetra repl --data makes: the engine, live
// subscriptions and scripts over the store.
func embeddedBackend(t testing.TB, st graphstore.Store) *Embedded {
	t.Helper()
	now := func() time.Time { return testNow }
	eng := exec.New(st, exec.Options{Now: now})
	b := NewEmbedded(eng)
	hub, err := live.New(live.Config{Engine: eng, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close(context.Background()) })
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b.Hub, b.Scripts = hub, rt
	return b
}

// TestShellLongLine checks that a line too long to be a query is reported
// and skipped, and the script goes on.
func TestShellLongLine(t *testing.T) {
	eng := exec.New(webshop(t), exec.Options{Now: func() time.Time { return testNow }})
	in := "name = \"catalog\";\n" + `name = "` + strings.Repeat("x", maxLine+10) + "\"\n" + "name = \"frontend\"\n"
	var out strings.Builder
	err := Run(context.Background(), Config{Backend: NewEmbedded(eng), In: strings.NewReader(in), Out: &out, Err: &out})
	got := out.String()
	if !errors.Is(err, ErrFailed) || !strings.Contains(got, "error: line 2 is longer than 1048576 bytes; it was skipped, with the statement it was part of\n") ||
		!strings.Contains(got, "7   catalog") || !strings.Contains(got, "5   frontend") {
		t.Errorf("Run = %v, output:\n%s", err, got)
	}
	// A query under the line limit but over the language's is refused by
	// the parser with its limit named.
	out.Reset()
	Run(context.Background(), Config{Backend: NewEmbedded(eng), In: strings.NewReader(`name = "` + strings.Repeat("x", 70_000) + "\"\n"), Out: &out, Err: &out})
	if !strings.Contains(out.String(), "MaxBytes") {
		t.Errorf("a 70 kB query:\n%.300s", out.String())
	}
}
