package exec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/lang"
)

// The benchmarks of the graph-store issue, on a generated topology of
// 100,000 components and 300,000 relations with 30 days of hourly churn
// (each hour 1% of components get a new version, 1% of relations are
// replaced, 20 components come and 20 go).
//
//	go test ./exec -run '^$' -bench 'History|Selective|Neighbors|BroadLabel|Changes24h' -benchtime 2000x
//	go test ./exec -run '^$' -bench BulkLoad -benchtime 1x
//
// Generating the history takes minutes. Set TETRA_BENCH_DATA to a directory
// to keep the generated store there and reuse it on the next run.

var benchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// benchNow is the clock of the benchmark store and engine: just after the
// last churn batch.
func benchNow() time.Time { return benchEnd.Add(time.Minute) }

type benchEnv struct {
	store    *pebblestore.Store
	engine   *exec.Engine
	cfg      topogen.Config
	stats    topogen.Stats
	versions int
	err      error
}

var (
	benchOnce sync.Once
	bench     benchEnv
)

// benchStore builds (or reopens) the benchmark topology once per process.
func benchStore(b *testing.B) *benchEnv {
	benchOnce.Do(func() {
		bench.cfg = topogen.Default(benchEnd)
		dir := os.Getenv("TETRA_BENCH_DATA")
		if dir == "" {
			d, err := os.MkdirTemp("", "tetra-bench-")
			if err != nil {
				bench.err = err
				return
			}
			dir = d
		}
		bench.err = openOrGenerate(dir)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return &bench
}

func openOrGenerate(dir string) error {
	marker := filepath.Join(dir, "topogen.json")
	want, _ := json.Marshal(bench.cfg)
	have, _ := os.ReadFile(marker)
	reuse := string(have) != "" && strings.HasPrefix(string(have), string(want))
	if !reuse {
		os.RemoveAll(dir)
	}
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: benchNow, Retention: 40 * 24 * time.Hour})
	if err != nil {
		return err
	}
	bench.store = st
	bench.engine = exec.New(st, exec.Options{Now: benchNow, MaxElements: 50_000, Timeout: time.Minute})
	if reuse {
		lines := strings.Split(string(have), "\n")
		if len(lines) > 1 {
			json.Unmarshal([]byte(lines[1]), &bench.stats)
		}
		return nil
	}
	fmt.Fprintf(os.Stderr, "generating %d components, %d hours of churn in %s …\n", bench.cfg.Components, bench.cfg.Hours, dir)
	g := topogen.New(bench.cfg)
	stats, err := g.Load(context.Background(), st)
	if err != nil {
		return err
	}
	bench.stats = stats
	statsJSON, _ := json.Marshal(stats)
	return os.WriteFile(marker, append(append(want, '\n'), statsJSON...), 0o644)
}

// peakRSS reads the process's high-water resident set size, in MiB.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkBulkLoad loads the initial graph (100,000 components and 300,000
// relations, in batches of 10,000) into a fresh store, synced commits.
func BenchmarkBulkLoad(b *testing.B) {
	cfg := topogen.Default(benchEnd)
	cfg.Hours = 0
	var elems int
	var dur time.Duration
	for range b.N {
		st, err := pebblestore.Open(b.TempDir(), pebblestore.Options{Now: benchNow, Retention: 40 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		stats, err := topogen.New(cfg).Load(context.Background(), st)
		if err != nil {
			b.Fatal(err)
		}
		elems += stats.InitialElements
		dur += stats.LoadTime
		st.Close()
	}
	b.ReportMetric(float64(elems)/dur.Seconds(), "elements/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// BenchmarkHistory reports the size of the generated store with its 30
// days of history.
func BenchmarkHistory(b *testing.B) {
	env := benchStore(b)
	if err := env.store.Flush(); err != nil {
		b.Fatal(err)
	}
	for range b.N {
	}
	b.ReportMetric(float64(env.store.DiskUsage())/float64(env.stats.Versions), "disk-bytes/version")
	b.ReportMetric(float64(env.stats.Versions), "versions")
	b.ReportMetric(float64(env.store.DiskUsage())/(1<<20), "disk-MiB")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// latencies runs one query per iteration, built by q from a random source,
// and reports the median and 99th percentile.
func latencies(b *testing.B, q func(r *rand.Rand) string, check func(*exec.Result) error) {
	env := benchStore(b)
	r := rand.New(rand.NewPCG(7, 7))
	stmts := make([]lang.Statement, 256)
	for i := range stmts {
		src := q(r)
		s, err := lang.Parse(src)
		if err != nil {
			b.Fatal(lang.Render(src, err))
		}
		stmts[i] = s
	}
	// Warm up: the steady state of a server that has seen the graph.
	for _, s := range stmts {
		if _, err := env.engine.Run(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		res, err := env.engine.Run(context.Background(), stmts[i%len(stmts)])
		times = append(times, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 && check != nil {
			if err := check(res); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

func components(lo, hi int) func(*exec.Result) error {
	return func(res *exec.Result) error {
		n := len(res.Topology.Components)
		if n < lo || n > hi {
			return fmt.Errorf("%d components, want %d–%d", n, lo, hi)
		}
		return nil
	}
}

// seed names a random component of the initial graph.
func seed(r *rand.Rand) string { return fmt.Sprintf("c-%d", r.IntN(100_000)) }

// (a) a selective filter returning about 100 components.
func BenchmarkSelectiveFilter(b *testing.B) {
	latencies(b, func(r *rand.Rand) string {
		return fmt.Sprintf(`label = "app:%d"`, r.IntN(1000))
	}, components(80, 110))
}

// (b) withNeighborsOf, two levels both ways, from one seed.
func BenchmarkNeighbors(b *testing.B) {
	latencies(b, func(r *rand.Rand) string {
		return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both")`, seed(r))
	}, nil)
}

// (c) the same seven days ago.
func BenchmarkNeighborsPast(b *testing.B) {
	latencies(b, func(r *rand.Rand) string {
		return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both") AT "-7d"`, seed(r))
	}, nil)
}

// (d) label = "x" over 10% of the graph.
func BenchmarkBroadLabel(b *testing.B) {
	latencies(b, func(*rand.Rand) string { return `label = "x"` }, components(9_500, 10_500))
}

// (e) CHANGES over 24 hours, among the 10% labelled x.
func BenchmarkChanges24h(b *testing.B) {
	latencies(b, func(*rand.Rand) string { return `label = "x" CHANGES FROM "-24h" TO "now"` }, nil)
}
