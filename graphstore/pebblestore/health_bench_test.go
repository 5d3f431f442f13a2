package pebblestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// What a change of health costs a batch, on the generated graph of the
// graph-store benchmarks (100,000 components, each depending ONE_WAY on
// three others, so that nearly every component depends on nearly every
// other one transitively). Each iteration is two synced batches: a check
// state turning CRITICAL, then CLEAR again.
//
//	flock /tmp/tetra-bench.lock go test ./graphstore/pebblestore -run '^$' -bench Health -benchtime 5x -timeout 30m
//
// HealthClosure: all components CLEAR; one random component turns CRITICAL,
// and with it its whole upward closure (nearly the graph), then recovers.
// HealthHub: the same with one more component that every component
// depends on directly (100,000 relations into it).
// HealthChurn: the generated health (a sixth of the components CRITICAL,
// so nearly all are CRITICAL by propagation); a random component's check
// state flips, the everyday case.

func BenchmarkHealthClosure(b *testing.B) {
	st := healthBenchStore(b, true, false)
	defer st.Close()
	r := rand.New(rand.NewPCG(3, 3))
	flips(b, st, func() string { return fmt.Sprintf("urn:c:%d", r.IntN(benchComponents())) })
}

func BenchmarkHealthHub(b *testing.B) {
	st := healthBenchStore(b, true, true)
	defer st.Close()
	flips(b, st, func() string { return "urn:hub" })
}

func BenchmarkHealthChurn(b *testing.B) {
	st := healthBenchStore(b, false, false)
	defer st.Close()
	r := rand.New(rand.NewPCG(5, 5))
	flips(b, st, func() string { return fmt.Sprintf("urn:c:%d", r.IntN(benchComponents())) })
}

// benchComponents is the size of the generated graph: 100,000, or
// TETRA_HEALTH_BENCH_COMPONENTS.
func benchComponents() int {
	if n, err := strconv.Atoi(os.Getenv("TETRA_HEALTH_BENCH_COMPONENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// flips runs b.N iterations of a check state on the component target()
// names turning CRITICAL and then CLEAR, and reports the latency of each
// kind of batch and how many component versions each wrote.
func flips(b *testing.B, st *pebblestore.Store, target func() string) {
	ctx := context.Background()
	var raise, recover []time.Duration
	var raised, recovered int
	at := time.Now()
	b.ResetTimer()
	for range b.N {
		id := target()
		for _, state := range []graphstore.HealthState{graphstore.HealthCritical, graphstore.HealthClear} {
			at = at.Add(time.Second)
			batch := &graphstore.Batch{Time: at}
			batch.PutCheck("urn:health:bench:monitor", id, graphstore.CheckData{Name: "bench", State: state, Identifier: id})
			t0 := time.Now()
			c, err := st.Apply(ctx, batch)
			d := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			if state == graphstore.HealthCritical {
				raise, raised = append(raise, d), raised+c.Changed
			} else {
				recover, recovered = append(recover, d), recovered+c.Changed
			}
		}
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1e3, name+"-p50-ms")
		b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1e3, name+"-max-ms")
	}
	report("critical", raise)
	report("clear", recover)
	b.ReportMetric(float64(raised)/float64(b.N), "versions/critical")
	b.ReportMetric(float64(recovered)/float64(b.N), "versions/clear")
}

// healthBenchStore generates the initial graph (no churn) into a fresh
// store: all CLEAR when healthy, with a hub every component depends on
// when hub.
func healthBenchStore(b *testing.B, healthy, hub bool) *pebblestore.Store {
	b.Helper()
	dir := b.TempDir()
	now := func() time.Time { return time.Now().Add(time.Hour) }
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: now, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	cfg := topogen.Default(start)
	cfg.Hours, cfg.Healthy = 0, healthy
	cfg.Components = benchComponents()
	t0 := time.Now()
	if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	if hub {
		batch := &graphstore.Batch{Time: start.Add(time.Minute)}
		batch.PutComponent(topogen.Source, "hub", graphstore.ComponentData{Name: "hub", Type: "dns", Identifiers: []string{"urn:hub"}, Health: graphstore.HealthClear})
		for i := range cfg.Components {
			batch.PutRelation(topogen.Source, fmt.Sprintf("hub-%d", i), graphstore.RelationData{Type: "resolves_with", SourceRef: fmt.Sprintf("urn:c:%d", i), TargetRef: "urn:hub"})
		}
		if _, err := st.Apply(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated %d components (healthy=%v, hub=%v) in %s", cfg.Components, healthy, hub, time.Since(t0).Round(time.Second))
	if err := st.Close(); err != nil { // reopen with synced commits, as a server runs
		b.Fatal(err)
	}
	if st, err = pebblestore.Open(dir, pebblestore.Options{Now: now}); err != nil {
		b.Fatal(err)
	}
	return st
}
