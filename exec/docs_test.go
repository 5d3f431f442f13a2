package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/lang"
)

// docExamplesFile holds every topology example of docs/query-language.md
// with its result on the bundled web shop sample; TestQueries runs it on
// every store like the other files.
const docExamplesFile = "testdata/docs"

// docExamples returns the statements of the language doc's plain ``` blocks
// (skipping the statement synopses).
func docExamples(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join("..", "docs", "query-language.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	block := "" // the opening line of the ``` block we are in, or ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```") && block == "":
			block = line
		case strings.HasPrefix(line, "```"):
			block = ""
		case block == "```" && line != "" && !strings.Contains(line, "[WHERE <filter>]"):
			out = append(out, line)
		}
	}
	return out
}

// TestDocExamples holds docs/query-language.md to its promise that its
// examples all parse and run: every topology example must appear, verbatim,
// as a query of testdata/docs, where its result on the bundled sample is
// asserted (and every query there must still be in the doc); every
// telemetry example must run (on empty data stores).
func TestDocExamples(t *testing.T) {
	var topo []string
	st := stores["memstore"](t)
	defer st.Close()
	eng := exec.New(st, exec.Options{Now: graphtest.Clock, Data: emptyDataStores(t)})
	for _, line := range docExamples(t) {
		stmt, err := lang.Parse(line)
		if err != nil {
			t.Errorf("%s", lang.Render(line, err))
			continue
		}
		if _, ok := stmt.(*lang.TopologyStmt); ok {
			topo = append(topo, line)
			continue
		}
		if _, err := eng.Run(context.Background(), stmt); err != nil {
			t.Errorf("%s", lang.Render(line, err))
		}
	}
	var asserted []string
	datadriven.RunTest(t, docExamplesFile, func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd == "query" {
			asserted = append(asserted, strings.TrimSpace(d.Input))
		}
		return d.Expected // only collecting: TestQueries checks the results
	})
	for _, q := range topo {
		if !slices.Contains(asserted, q) {
			t.Errorf("the doc's example\n  %s\nhas no asserted result in %s: add a query block for it", q, docExamplesFile)
		}
	}
	for _, q := range asserted {
		if !slices.Contains(topo, q) {
			t.Errorf("%s asserts\n  %s\nwhich is no longer an example of the doc", docExamplesFile, q)
		}
	}
	if len(topo) < 8 {
		t.Errorf("found %d topology examples in the doc, want at least 8", len(topo))
	}
}

// sampleLoads is the bundled web shop as the doc's examples see it: the
// Kubernetes view two hours before the test clock, the agent and the traces
// an hour later, and a rollout of checkout half an hour before the clock.
var sampleLoads = []struct {
	ago   time.Duration
	files []string
}{
	{2 * time.Hour, []string{"webshop-kubernetes.json"}},
	{time.Hour, []string{"webshop-agent.json", "webshop-traces.json"}},
	{30 * time.Minute, []string{"webshop-kubernetes-rollout-1.json", "webshop-kubernetes-rollout-2.json"}},
}

// loadSample loads the bundled web shop into st, one version per file, as
// tetra load does.
func loadSample(st graphstore.Store) (string, error) {
	ap := ingest.NewApplier(st)
	var b strings.Builder
	for _, l := range sampleLoads {
		for _, f := range l.files {
			raw, err := os.ReadFile(filepath.Join("..", "testdata", "topology", f))
			if err != nil {
				return "", err
			}
			topos, err := ingest.Decoder{DefaultSource: "file:" + f}.DecodeBytes(raw)
			if err != nil {
				return "", err
			}
			sum, err := ap.Apply(context.Background(), topos, graphtest.Clock().Add(-l.ago))
			if err != nil {
				return "", fmt.Errorf("%s: %w", f, err)
			}
			fmt.Fprintf(&b, "%s at -%s: %d added, %d changed, %d removed\n", f, l.ago,
				sum.Commit.Added, sum.Commit.Changed, sum.Commit.Removed)
		}
	}
	return b.String(), nil
}
