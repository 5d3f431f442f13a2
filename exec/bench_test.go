package exec_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/benchgraph"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/lang"
)

// The benchmarks of the graph store, on a generated topology (package
// topogen) of N components and 3N relations with 30 days of hourly churn,
// in one of two shapes:
//
//	TETRA_BENCH_SIZE   components: 100000 (default) or 1000000 (also 100k, 1m)
//	TETRA_BENCH_SHAPE  local (default: relations mostly between nearby ids) or
//	                   uniform (relations to uniformly random components, labels
//	                   scattered over the ids: nothing for storage to profit from)
//	TETRA_BENCH_DATA   a directory to keep generated stores in, one per size and
//	                   shape, reused by later runs (default: a temporary one)
//
//	go test ./exec -run '^$' -bench 'Open|History|Selective|Neighbors|Broad|Changes24h|Conjunction|Name' -benchtime 2000x
//	go test ./exec -run '^$' -bench BulkLoad -benchtime 1x
//
// bench/run.sh runs every benchmark at both sizes and shapes, beside SQLite.

type benchEnv struct {
	*benchgraph.Graph
	engine *exec.Engine
	cfg    topogen.Config
	gen    *topogen.Generator
	dir    string
	err    error
}

var (
	benchOnce sync.Once
	bench     benchEnv
)

// benchConfig reads the size and shape of the benchmark graph.
func benchConfig() (topogen.Config, error) {
	return benchgraph.Config(os.Getenv("TETRA_BENCH_SIZE"), os.Getenv("TETRA_BENCH_SHAPE"), os.Getenv("TETRA_BENCH_HOURS"))
}

// benchStore opens (or generates) the benchmark topology once per process.
func benchStore(b *testing.B) *benchEnv {
	benchOnce.Do(func() {
		cfg, err := benchConfig()
		if err != nil {
			bench.err = err
			return
		}
		g, err := benchgraph.Open(os.Getenv("TETRA_BENCH_DATA"), cfg)
		if err != nil {
			bench.err = err
			return
		}
		bench = benchEnv{Graph: g, engine: benchEngine(g.Store), cfg: cfg, gen: g.Gen, dir: g.Dir}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return &bench
}

func benchOptions() pebblestore.Options { return benchgraph.Options() }

// benchEngine allows results as large as the broad filter's at 1M (10% of
// the graph).
func benchEngine(st *pebblestore.Store) *exec.Engine {
	return exec.New(st, exec.Options{Now: benchgraph.Now, MaxElements: 500_000, Timeout: 5 * time.Minute})
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

// BenchmarkBulkLoad loads the initial graph of the configured size and
// shape (N components and 3N relations, in batches of 10,000) into a fresh
// store through the bulk loader, synced, and reports elements per second.
func BenchmarkBulkLoad(b *testing.B) {
	cfg, err := benchConfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg.Hours = 0
	var elems int
	var dur time.Duration
	for range b.N {
		st, err := pebblestore.Open(b.TempDir(), benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		g := topogen.New(cfg)
		t0 := time.Now()
		ld, err := st.NewLoader(0)
		if err != nil {
			b.Fatal(err)
		}
		err = g.LoadInitial(context.Background(), ld)
		if cerr := ld.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		dur += time.Since(t0)
		elems += g.Stats.InitialElements
		st.Close()
	}
	b.ReportMetric(float64(elems)/dur.Seconds(), "elements/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// BenchmarkApplyLoad loads the same graph batch by batch through Apply, for
// comparison with the bulk loader.
func BenchmarkApplyLoad(b *testing.B) {
	cfg, err := benchConfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg.Hours = 0
	var elems int
	var dur time.Duration
	for range b.N {
		st, err := pebblestore.Open(b.TempDir(), benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		g := topogen.New(cfg)
		if err := g.LoadInitial(context.Background(), st); err != nil {
			b.Fatal(err)
		}
		dur += g.Stats.LoadTime
		elems += g.Stats.InitialElements
		st.Close()
	}
	b.ReportMetric(float64(elems)/dur.Seconds(), "elements/s")
}

// BenchmarkOpen reports how long opening the generated store takes,
// including its in-memory index of the present graph: as this process
// first opened it (first-open-s), then closed and opened again, the index
// read from the file the close wrote (open-file-s), and with that file
// moved aside, the index rebuilt from Pebble's postings (open-build-s).
// It also reports the generation's time.
func BenchmarkOpen(b *testing.B) {
	env := benchStore(b)
	for range b.N {
	}
	b.ReportMetric(env.OpenTime.Seconds(), "first-open-s")
	reopen := func(aside bool) time.Duration {
		if err := env.Store.Close(); err != nil {
			b.Fatal(err)
		}
		if aside {
			if err := os.Remove(filepath.Join(env.dir, "tetra-present")); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		st, err := pebblestore.Open(env.dir, benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		env.Store, env.engine = st, benchEngine(st)
		return d
	}
	b.ReportMetric(reopen(false).Seconds(), "open-file-s")
	b.ReportMetric(reopen(true).Seconds(), "open-build-s")
	b.ReportMetric(env.Meta.Generated.Seconds(), "generated-s")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// BenchmarkHistory reports the size of the generated store with its 30
// days of history.
func BenchmarkHistory(b *testing.B) {
	env := benchStore(b)
	if err := env.Store.Flush(); err != nil {
		b.Fatal(err)
	}
	for range b.N {
	}
	b.ReportMetric(float64(env.Store.DiskUsage())/float64(env.Meta.Stats.Versions), "disk-bytes/version")
	b.ReportMetric(float64(env.Meta.Stats.Versions), "versions")
	b.ReportMetric(float64(env.Store.DiskUsage())/(1<<20), "disk-MiB")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// latencies runs one query per iteration, built by q from a random source,
// and reports the median and 99th percentile and the mean result size.
func latencies(b *testing.B, q func(env *benchEnv, r *rand.Rand) string) {
	measureQueries(b, q, nil)
}

// latenciesReading is latencies with every row of each answer read within
// the timed query: a result hands out its rows on demand (exec.Rows), so
// the query alone no longer includes making a Component or Relation of
// each, which a surface that shows every row pays.
func latenciesReading(b *testing.B, q func(env *benchEnv, r *rand.Rand) string) {
	measureQueries(b, q, readRows)
}

// rowSink keeps readRows' reads from being optimised away.
var rowSink uint64

// readRows makes a Component of every component and a Relation of every
// relation of a topology answer, as the surfaces that show every row do
// (Rows.All).
func readRows(res *exec.Result) {
	t := res.Topology
	if t == nil {
		return
	}
	for _, c := range t.Components.All() {
		rowSink += c.ID + uint64(len(c.Name)+len(c.Labels)+len(c.HealthState)+len(c.Sources))
	}
	for _, r := range t.Relations.All() {
		rowSink += r.ID + r.Source + uint64(len(r.Type)+len(r.DependencyDirection)+len(r.Sources))
	}
}

// measureQueries is latencies, calling read (when not nil) with each
// answer inside the timed query.
func measureQueries(b *testing.B, q func(env *benchEnv, r *rand.Rand) string, read func(*exec.Result)) {
	env := benchStore(b)
	r := rand.New(rand.NewPCG(7, 7))
	stmts := make([]lang.Statement, 256)
	for i := range stmts {
		src := q(env, r)
		s, err := lang.Parse(src)
		if err != nil {
			b.Fatal(lang.Render(src, err))
		}
		stmts[i] = s
	}
	// Warm up: the steady state of a server that has seen the graph, every
	// query once and then until the heap has settled (benchgraph.Settle).
	err := benchgraph.Settle(len(stmts), func(i int) error {
		_, err := env.engine.Run(context.Background(), stmts[i%len(stmts)])
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	results := 0
	// The queries run on one OS thread, whose CPU time beside the wall
	// time tells a query's own work from waiting for a core on a shared
	// machine (the collector's background work runs on other threads).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for i := range b.N {
		c0 := threadCPU()
		t0 := time.Now()
		res, err := env.engine.Run(context.Background(), stmts[i%len(stmts)])
		if err == nil && read != nil {
			read(res)
		}
		times = append(times, time.Since(t0))
		cpu = append(cpu, threadCPU()-c0)
		if err != nil {
			b.Fatal(err)
		}
		results += resultSize(res)
	}
	b.StopTimer()
	slices.Sort(times)
	slices.Sort(cpu)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(cpu[len(cpu)/2].Nanoseconds())/1e3, "p50-cpu-µs")
	b.ReportMetric(float64(results)/float64(b.N), "results")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// threadCPU returns the CPU time of the calling OS thread so far
// (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

func resultSize(res *exec.Result) int {
	if t := res.Topology; t != nil {
		return t.Components.Len()
	}
	c := res.Changes
	return len(c.Added.Components) + len(c.Removed.Components) + len(c.Changed.Components)
}

// seed names a random component of the initial graph.
func seed(env *benchEnv, r *rand.Rand) string { return env.gen.Name(r.IntN(env.cfg.Components)) }

// (a) a selective filter returning about 100 components.
func BenchmarkSelectiveFilter(b *testing.B) { latencies(b, selective) }

// (a) with every row of the answer read (see latenciesReading).
func BenchmarkSelectiveFilterRows(b *testing.B) { latenciesReading(b, selective) }

func selective(env *benchEnv, r *rand.Rand) string {
	return fmt.Sprintf(`label = "app:%d"`, r.IntN(env.cfg.Components/100))
}

// (b) withNeighborsOf, two levels both ways, from one seed.
func BenchmarkNeighbors(b *testing.B) {
	latencies(b, func(env *benchEnv, r *rand.Rand) string {
		return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both")`, seed(env, r))
	})
}

// (c) the same seven days ago.
func BenchmarkNeighborsPast(b *testing.B) {
	latencies(b, func(env *benchEnv, r *rand.Rand) string {
		return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both") AT "-7d"`, seed(env, r))
	})
}

// (c') the same as (c) at a different past time for every query: a
// random second of the churned window (the 30 days before the benchmark's
// clock), so that what the store remembers of the last past time read
// rarely answers the next query, as when many users look at many moments.
func BenchmarkNeighborsPastSpread(b *testing.B) {
	if benchStore(b).cfg.Hours == 0 {
		b.Skip("the store has no churn (TETRA_BENCH_HOURS=0): no past to spread over")
	}
	latencies(b, func(env *benchEnv, r *rand.Rand) string {
		at := benchgraph.End.Add(-time.Duration(r.Int64N(int64(env.cfg.Hours)*3600)) * time.Second)
		return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both") AT %q`,
			seed(env, r), at.Format(time.RFC3339))
	})
}

// (d) label = "x" over 10% of the graph.
func BenchmarkBroadLabel(b *testing.B) { latencies(b, broad) }

// (d) with every row of the answer read (see latenciesReading).
func BenchmarkBroadLabelRows(b *testing.B) { latenciesReading(b, broad) }

func broad(*benchEnv, *rand.Rand) string { return `label = "x"` }

// (e) CHANGES over 24 hours, among the 10% labelled x.
func BenchmarkChanges24h(b *testing.B) {
	latencies(b, func(*benchEnv, *rand.Rand) string { return `label = "x" CHANGES FROM "-24h" TO "now"` })
}

// (f) three keys together: a type, a domain and a team label.
func BenchmarkConjunction(b *testing.B) {
	latencies(b, func(_ *benchEnv, r *rand.Rand) string {
		d := r.IntN(20)
		return fmt.Sprintf(`type = "pod" AND domain = "domain-%d" AND label = "team:t%d"`, d, d+20*r.IntN(2))
	})
}

// (g) one component by name.
func BenchmarkName(b *testing.B) {
	latencies(b, func(env *benchEnv, r *rand.Rand) string { return fmt.Sprintf(`name = %q`, seed(env, r)) })
}

// BenchmarkExportCSV writes the benchmark graph as it is now to CSV files
// in the store's directory (csv/components.csv, labels.csv,
// relations.csv), for the peer comparisons in bench/ (SQLite, PostgreSQL),
// which load exactly the graph Tetra answers on.
func BenchmarkExportCSV(b *testing.B) {
	env := benchStore(b)
	for range b.N {
	}
	dir := filepath.Join(env.dir, "csv")
	if err := exportCSV(env, dir); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(env.cfg.Components), "components")
}

func exportCSV(env *benchEnv, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sn, err := env.Store.Snapshot(time.Time{})
	if err != nil {
		return err
	}
	defer sn.Close()
	files := map[string]*os.File{}
	for _, name := range []string{"components", "labels", "relations"} {
		f, err := os.Create(filepath.Join(dir, name+".csv"))
		if err != nil {
			return err
		}
		defer f.Close()
		files[name] = f
	}
	w := map[string]*bufio.Writer{}
	for name, f := range files {
		w[name] = bufio.NewWriterSize(f, 1<<20)
	}
	for _, kind := range []string{graphstore.TermComponent, graphstore.TermRelation} {
		ids, err := sn.Postings(graphstore.IdxKind, kind)
		if err != nil {
			return err
		}
		for _, id := range ids {
			e, err := sn.Element(id)
			if err != nil {
				return err
			}
			if c := e.Component(); c != nil {
				env := ""
				if len(c.Environments) > 0 {
					env = c.Environments[0]
				}
				fmt.Fprintf(w["components"], "%d,%s,%s,%s,%s,%s,%s\n", c.ID, c.Name, c.Type, c.Layer, c.Domain, env, c.Health)
				for _, l := range c.Labels {
					fmt.Fprintf(w["labels"], "%d,%s\n", c.ID, l)
				}
			} else if e.Traversable() {
				r := e.Relation()
				fmt.Fprintf(w["relations"], "%d,%d,%d,%s\n", r.ID, r.Source, r.Target, r.Type)
			}
		}
	}
	for _, bw := range w {
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// TestMain closes the benchmark store after the run, as a server closes
// its store when it stops: the next run then opens it from the present
// graph's file, as a restarted server does.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench.Graph != nil && bench.Store != nil {
		bench.Store.Close()
	}
	os.Exit(code)
}
