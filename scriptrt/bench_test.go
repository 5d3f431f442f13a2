package scriptrt_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// The benchmarks of the script runtime (the machine is shared: run them
// under the lock, and in a quiet window for figures to report):
//
//	flock /tmp/tetra-bench.lock go test ./scriptrt -run '^$' -bench . -benchtime 3s
//
// Components compares Topology.query(q).components() from a script, result
// serialised, with the same query run natively and its components
// serialised with encoding/json, on a generated Pebble store of 10,000
// components: "app" selects 1,000 components with neighbouring ids,
// "strided" 1,000 spread over the whole id space (every tenth).
// Trivial measures scripts per second of `1 + 1`, compiled once.

var benchQueries = []struct{ name, q string }{
	{"app", `label IN ("app:0", "app:1", "app:2", "app:3", "app:4", "app:5", "app:6", "app:7", "app:8", "app:9")`},
	{"strided", `label = "x"`},
}

var (
	benchOnce sync.Once
	benchEng  *exec.Engine
	benchErr  error
)

func benchEngine(b *testing.B) *exec.Engine {
	benchOnce.Do(func() {
		end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		nowFn := func() time.Time { return end.Add(time.Hour) }
		dir := b.TempDir()
		st, err := pebblestore.Open(dir, pebblestore.Options{Now: nowFn, NoSync: true})
		if err != nil {
			benchErr = err
			return
		}
		cfg := topogen.Default(end)
		cfg.Components, cfg.Hours = 10_000, 0
		if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
			benchErr = err
			return
		}
		benchEng = exec.New(st, exec.Options{Now: nowFn})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchEng
}

// native runs a query as `tetra query --json` would and serialises its
// components; it returns the bytes written.
func native(b *testing.B, eng *exec.Engine, stmt lang.Statement) int {
	res, err := eng.RunWith(context.Background(), stmt, exec.QueryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out, err := json.Marshal(res.Topology.Components)
	if err != nil || res.Topology.Components.Len() != 1000 {
		b.Fatalf("%d components, %v", res.Topology.Components.Len(), err)
	}
	return len(out)
}

// eachQuery sets up the runtime over the benchmark store and calls f for
// each benchmark query.
func eachQuery(b *testing.B, f func(eng *exec.Engine, rt *scriptrt.Runtime, name, q string, stmt lang.Statement)) {
	eng := benchEngine(b)
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	for _, bq := range benchQueries {
		stmt, err := lang.Parse(bq.q)
		if err != nil {
			b.Fatal(err)
		}
		f(eng, rt, bq.name, bq.q, stmt)
	}
}

func BenchmarkComponents(b *testing.B) {
	ctx := context.Background()
	eachQuery(b, func(eng *exec.Engine, rt *scriptrt.Runtime, name, q string, stmt lang.Statement) {
		b.Run(name+"/native", func(b *testing.B) {
			for b.Loop() {
				b.SetBytes(int64(native(b, eng, stmt)))
			}
		})
		for _, sc := range []struct{ name, src string }{
			{"script", `Topology.query('` + q + `').components()`},
			// Reading a field of every component in JS makes each one's JS
			// object: the cost of a script that looks at everything.
			{"script-names", `Topology.query('` + q + `').components().thenCollect(c => c.name)`},
		} {
			b.Run(name+"/"+sc.name, func(b *testing.B) {
				for b.Loop() {
					res, err := rt.Run(ctx, scriptrt.Request{Script: sc.src})
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(res.Value)))
				}
			})
		}
	})
}

// BenchmarkOverhead alternates the native query and the script, one of
// each per iteration, and reports the ratio of their total times: on a
// shared machine, load that comes and goes then weighs on both alike.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	eachQuery(b, func(eng *exec.Engine, rt *scriptrt.Runtime, name, q string, stmt lang.Statement) {
		src := `Topology.query('` + q + `').components()`
		b.Run(name, func(b *testing.B) {
			var nat, script time.Duration
			for b.Loop() {
				t0 := time.Now()
				native(b, eng, stmt)
				t1 := time.Now()
				if _, err := rt.Run(ctx, scriptrt.Request{Script: src}); err != nil {
					b.Fatal(err)
				}
				nat, script = nat+t1.Sub(t0), script+time.Since(t1)
			}
			b.ReportMetric(float64(script)/float64(nat), "script/native")
			b.ReportMetric(float64(nat.Microseconds())/float64(b.N), "native-µs/op")
			b.ReportMetric(float64(script.Microseconds())/float64(b.N), "script-µs/op")
		})
	})
}

func BenchmarkTrivial(b *testing.B) {
	rt, err := scriptrt.New(scriptrt.Config{Engine: webshop(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := rt.Run(ctx, scriptrt.Request{Script: `1 + 1`}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scripts/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rt.Run(ctx, scriptrt.Request{Script: `1 + 1`}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scripts/s")
	})
}
