package scriptrt_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/scriptrt"
)

// now is the tests' clock: the web shop's Kubernetes view was loaded two
// hours before it, the agent and traces one hour before it, and the rollout
// of checkout (a new pod) half an hour before it.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// webshop loads the bundled web-shop topology into a reference store.
func webshop(t testing.TB) *exec.Engine {
	t.Helper()
	st := memstore.New(memstore.Options{Now: func() time.Time { return now }})
	ap := ingest.NewApplier(st)
	load := func(at time.Duration, files ...string) {
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "topology", f))
			if err != nil {
				t.Fatal(err)
			}
			topos, err := ingest.Decoder{DefaultSource: "file:" + f}.DecodeBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ap.Apply(context.Background(), topos, now.Add(at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	load(-2*time.Hour, "webshop-kubernetes.json")
	load(-time.Hour, "webshop-agent.json", "webshop-traces.json")
	load(-30*time.Minute, "webshop-kubernetes-rollout-1.json", "webshop-kubernetes-rollout-2.json")
	return exec.New(st, exec.Options{Now: func() time.Time { return now }})
}

// newRuntime returns a runtime over the web shop with cfg's other fields.
func newRuntime(t testing.TB, cfg scriptrt.Config) *scriptrt.Runtime {
	t.Helper()
	if cfg.Engine == nil {
		cfg.Engine = webshop(t)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	rt, err := scriptrt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// run runs a script and returns "_type value", or "error: …".
func run(t testing.TB, rt *scriptrt.Runtime, src string) string {
	t.Helper()
	res, err := rt.Run(context.Background(), scriptrt.Request{Script: src})
	if err != nil {
		return "error: " + err.Error()
	}
	return res.Type + " " + string(res.Value)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
