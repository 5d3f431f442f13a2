package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
)

// start is the wall time the tests' scenarios start at.
var start = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// harness runs a simulation through ingest's decoder and applier into
// the reference store, as the receiver does, on a fake clock.
type harness struct {
	t     *testing.T
	sim   *Sim
	now   time.Time
	store *memstore.Store
	apply *ingest.Applier
	eng   *exec.Engine
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, sim: New(cfg, start), now: start}
	h.store = memstore.New(memstore.Options{Now: func() time.Time { return h.now }})
	h.apply = ingest.NewApplier(h.store)
	h.eng = exec.New(h.store, exec.Options{Now: func() time.Time { return h.now }})
	return h
}

// step runs one Step at the harness's time and applies its topology; it
// returns what happened, one line each, for the scenario file.
func (h *harness) step() []string {
	var out []string
	for _, rep := range h.sim.Step(h.now) {
		b, err := json.Marshal(rep.Intake)
		if err != nil {
			h.t.Fatal(err)
		}
		topos, err := ingest.Decoder{}.DecodeBytes(b)
		if err != nil {
			h.t.Fatalf("%s's report does not decode: %v", rep.Agent, err)
		}
		if len(topos) > 0 {
			sum, err := h.apply.Apply(context.Background(), topos, h.now)
			if err != nil {
				h.t.Fatalf("%s's topology does not apply: %v", rep.Agent, err)
			}
			if c := sum.Commit; c != nil {
				out = append(out, fmt.Sprintf("commit from %s: %d added, %d changed, %d removed", rep.Agent, c.Added, c.Changed, c.Removed))
			}
		}
		out = append(out, describeEvents(rep.Intake)...)
		out = append(out, describeHealth(rep.Intake)...)
	}
	return out
}

func describeEvents(in *Intake) []string {
	var out []string
	for _, k := range sortedKeys(in.Events) {
		for _, e := range in.Events[k] {
			out = append(out, fmt.Sprintf("event %s %s: %s", e.Context.Category, e.EventType, e.MsgTitle))
		}
	}
	return out
}

// describeHealth lists the check states that are not CLEAR.
func describeHealth(in *Intake) []string {
	var out []string
	for _, h := range in.Health {
		for _, c := range h.CheckStates {
			if c.Health != clear {
				out = append(out, fmt.Sprintf("health %s %s: %s %s", c.Name, c.TopologyElementIdentifier, c.Health, c.Message))
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestScenario runs the datadriven files of testdata/scenario. Commands:
//
//	start [seed=N] [speed=X]      a new simulation at start
//	run to=D [step=D]             Step every step (2s) until wall time
//	                              start+to; each step's commits, events and
//	                              check states other than CLEAR, by time
//	query                         the input TQL at the current time: the
//	                              components' names, sorted, and a count
func TestScenario(t *testing.T) {
	datadriven.RunTest(t, "testdata/scenario", func(t *testing.T, d *datadriven.TestData) string {
		return scenarioCommand(t, d)
	})
}

var current *harness

func scenarioCommand(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "start":
		cfg := Config{Seed: 1, Speed: 1}
		if d.HasArg("seed") {
			var s int
			d.ScanArgs(t, "seed", &s)
			cfg.Seed = uint64(s)
		}
		if d.HasArg("speed") {
			var s string
			d.ScanArgs(t, "speed", &s)
			cfg.Speed, _ = strconv.ParseFloat(s, 64)
		}
		current = newHarness(t, cfg)
		return ""
	case "run":
		var to, step string
		d.ScanArgs(t, "to", &to)
		stepD := 2 * time.Second
		if d.HasArg("step") {
			d.ScanArgs(t, "step", &step)
			stepD = mustDuration(t, step)
		}
		end := start.Add(mustDuration(t, to))
		var buf strings.Builder
		for ; !current.now.After(end); current.now = current.now.Add(stepD) {
			for _, line := range current.step() {
				fmt.Fprintf(&buf, "%s %s\n", current.now.Sub(start), line)
			}
		}
		current.now = current.now.Add(-stepD)
		return buf.String()
	case "query":
		res, err := current.eng.Query(context.Background(), strings.TrimSpace(d.Input))
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		var names []string
		for _, c := range res.Topology.Components.All() {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		return fmt.Sprintf("%s\n%d components\n", strings.Join(names, "\n"), len(names))
	}
	t.Fatalf("unknown command %s", d.Cmd)
	return ""
}

func mustDuration(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeterministic: the same seed and moments give the same reports, byte
// for byte; another seed gives other names.
func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []byte {
		s := New(Config{Seed: seed, Speed: 7, Backfill: time.Minute}, start)
		var buf bytes.Buffer
		for i := 0; i < 60; i++ {
			for _, r := range s.Step(start.Add(time.Duration(i) * 1500 * time.Millisecond)) {
				buf.Write(mustJSON(r))
			}
		}
		return buf.Bytes()
	}
	a, b := run(1), run(1)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with seed 1 differ")
	}
	if bytes.Equal(a, run(2)) {
		t.Fatal("seeds 1 and 2 give the same reports")
	}
}

// TestStateIsAFunctionOfTime: asking for a moment gives the same state
// whatever was asked before, at every moment of two cycles.
func TestStateIsAFunctionOfTime(t *testing.T) {
	for u := 0.0; u < 2*Cycle; u += 0.5 {
		a := stateAt(3, u)
		if math.Mod(u, 5) == 0 && !bytes.Equal(mustJSON(kubernetesTopology(3, a)), mustJSON(kubernetesTopology(3, stateAt(3, u)))) {
			t.Fatalf("state at %v differs between two calls", u)
		}
		// At every moment each deployment runs at least its replicas of
		// ready pods, minus none: maxUnavailable is 0.
		for _, d := range a.deploys {
			ready := 0
			for _, p := range d.pods {
				if p.ready {
					ready++
				}
			}
			if ready < d.svc.replicas {
				t.Fatalf("at %vs %s has %d ready pods of %d", u, d.svc.name, ready, d.svc.replicas)
			}
		}
	}
}
