package scriptrt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// now is the tests' clock: the web shop's Kubernetes view was loaded two
// hours before it, the agent and traces one hour before it, and the rollout
// of checkout (a new pod) half an hour before it.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// webshop loads the bundled web-shop topology into a reference store, and
// its metrics, events and spans (recorded from 10:00 to 11:00 on
// 2026-11-01) into Pebble data stores, moved to the hour before now.
func webshop(t testing.TB) *exec.Engine {
	t.Helper()
	return exec.New(webshopGraph(t), exec.Options{Now: func() time.Time { return now }, Data: webshopData(t)})
}

// webshopTopologyOnly is the web shop's topology in an engine without data
// stores, where data statements fail with the statement they built.
func webshopTopologyOnly(t testing.TB) *exec.Engine {
	t.Helper()
	return exec.New(webshopGraph(t), exec.Options{Now: func() time.Time { return now }})
}

func webshopGraph(t testing.TB) *memstore.Store {
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
	return st
}

// webshopData opens data stores in a temporary directory and appends the
// web shop's telemetry, shifted so that its last minute is now's.
func webshopData(t testing.TB) exec.DataStores {
	t.Helper()
	dir := t.TempDir()
	tel, err := telpebble.Open(filepath.Join(dir, "telemetry"), telpebble.Options{NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracepebble.Open(filepath.Join(dir, "traces"), tracepebble.Options{NoSync: true, Retention: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tel.Close()
		tr.Close()
	})
	shift := now.Sub(time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC))
	ctx := context.Background()
	for _, f := range []string{"webshop-metrics.json", "webshop-events.json", "webshop-spans.otlp.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "telemetry", f))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ingest.Decoder{DefaultSource: "file:" + f}.DecodePayloadBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		p.Shift(shift)
		if err := errors.Join(tel.AppendMetrics(ctx, p.Metrics), tel.AppendEvents(ctx, p.Events), tr.AppendSpans(ctx, p.Spans)); err != nil {
			t.Fatal(err)
		}
	}
	return exec.DataStores{Metrics: tel, Events: tel, Traces: tr}
}

// newRuntime returns a runtime over the web shop with cfg's other fields.
func newRuntime(t testing.TB, cfg scriptrt.Config) *scriptrt.Runtime {
	t.Helper()
	if cfg.Engine == nil {
		cfg.Engine = webshopTopologyOnly(t)
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
