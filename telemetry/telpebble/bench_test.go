package telpebble_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
)

// The metric benchmarks of issue 9: 10,000 series × one day at 10 s (86.4M
// samples) whose values are random walks of full-precision floats. The
// store is generated once (the append rate and bytes per sample are
// measured then) and kept in $TETRA_BENCH_DATA/telemetry-walk (a temporary
// directory when unset) for the query benchmarks:
//
//	TETRA_BENCH_DATA=/work/benchdata flock /tmp/tetra-bench.lock \
//	  go test ./telemetry/telpebble -run '^$' -bench . -benchtime 3x -timeout 60m -v
//
// The query benchmarks open the store with a 1 GiB block cache, which
// holds the day's chunks (about 550 MiB) once a first query has read them,
// as Prometheus' engine reads chunks it holds in memory; the first of the
// iterations reads them from the files.
const (
	benchSeries   = 10_000
	benchInterval = 10_000                   // ms
	benchSamples  = 8640                     // one day
	benchStart    = int64(1_790_000_000_000) // 2026-09-21, a multiple of a day
	benchDay      = int64(24 * 60 * 60 * 1000)
)

func benchDir(b *testing.B, name string) string {
	root := os.Getenv("TETRA_BENCH_DATA")
	if root == "" {
		root = filepath.Join(os.TempDir(), "tetra-bench")
	}
	return filepath.Join(root, name)
}

// walkSeries names series i: tag dc has 10 values (for GROUP BY), host one
// per series.
func walkSeries(i int) telemetry.Series {
	return telemetry.Series{Name: "walk", Tags: telemetry.Tags{
		{Key: "dc", Value: fmt.Sprintf("dc-%d", i%10)}, {Key: "host", Value: fmt.Sprintf("host-%05d", i)}}}
}

// generate appends the data in batches of one minute of every series (as
// a fleet of agents reports) and returns the CPU time spent in
// AppendMetrics (the process's, Pebble's background flushes and
// compactions included; wall-clock time on a shared machine mostly says
// how busy the others were).
func generate(b *testing.B, s *telpebble.Store, series, samples int, value func(r *rand.Rand, prev float64) float64) time.Duration {
	r := rand.New(rand.NewPCG(42, 7))
	vals := make([]float64, series)
	for i := range vals {
		vals[i] = 100 * r.Float64()
	}
	names := make([]telemetry.Series, series)
	for i := range names {
		names[i] = walkSeries(i)
	}
	const perBatch = 6 // samples of each series per batch: one minute
	var spent time.Duration
	batch := make([]telemetry.SeriesSamples, series)
	buf := make([]telemetry.Sample, series*perBatch)
	for k := 0; k < samples; k += perBatch {
		for i := range batch {
			ss := buf[i*perBatch : (i+1)*perBatch]
			for j := range ss {
				vals[i] = value(r, vals[i])
				ss[j] = telemetry.Sample{T: benchStart + int64(k+j)*benchInterval, V: vals[i]}
			}
			batch[i] = telemetry.SeriesSamples{Series: names[i], Samples: ss}
		}
		t0 := cpuTime()
		if err := s.AppendMetrics(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		spent += cpuTime() - t0
	}
	t0 := cpuTime()
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	return spent + cpuTime() - t0
}

func randomWalk(r *rand.Rand, prev float64) float64 { return prev + r.NormFloat64() }

// gauge has few significant digits: a percentage with one decimal.
func gauge(r *rand.Rand, prev float64) float64 {
	return float64(int(prev*10+float64(r.IntN(21)-10))%1000) / 10
}

// benchFormat marks a generated store with the data format it was
// generated in: a store of an older one is generated again.
const benchFormat = "format 2 (chunk summaries)\n"

// openWalk opens the random-walk store, generating it first when needed,
// and reports the append rate and bytes per sample when it generates.
func openWalk(b *testing.B) *telpebble.Store {
	dir := benchDir(b, "telemetry-walk")
	if ready, _ := os.ReadFile(filepath.Join(dir, "READY")); string(ready) != benchFormat {
		// Absent, half generated, or of an older data format.
		os.RemoveAll(dir)
		s, err := telpebble.Open(dir, telpebble.Options{NoSync: true, MetricRetention: 1 << 62})
		if err != nil {
			b.Fatal(err)
		}
		spent := generate(b, s, benchSeries, benchSamples, randomWalk)
		n := float64(benchSeries * benchSamples)
		bytes, err := s.DiskUsage()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d samples in %s of CPU time in appends: %.2fM samples/s; %.2f bytes/sample on disk",
			int(n), spent.Round(time.Millisecond), n/spent.Seconds()/1e6, float64(bytes)/n)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "READY"), []byte(benchFormat), 0o644)
	}
	// A cache that holds the day, as Prometheus holds its chunks in memory.
	s, err := telpebble.Open(dir, telpebble.Options{MetricRetention: 1 << 62, BlockCacheBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAppend appends the random-walk day into a fresh store each
// iteration: samples/s and bytes/sample.
func BenchmarkAppend(b *testing.B) {
	for _, shape := range []struct {
		name   string
		series int
		value  func(*rand.Rand, float64) float64
	}{{"walk", benchSeries, randomWalk}, {"gauge", 1000, gauge}} {
		b.Run(shape.name, func(b *testing.B) {
			var spent time.Duration
			var bytes uint64
			for range b.N {
				dir := b.TempDir()
				s, err := telpebble.Open(dir, telpebble.Options{NoSync: true, MetricRetention: 1 << 62})
				if err != nil {
					b.Fatal(err)
				}
				spent += generate(b, s, shape.series, benchSamples, shape.value)
				if bytes, err = s.DiskUsage(); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			n := float64(shape.series * benchSamples)
			b.ReportMetric(n*float64(b.N)/spent.Seconds(), "samples/cpu-s")
			b.ReportMetric(float64(bytes)/n, "bytes/sample")
		})
	}
}

func drainSet(b *testing.B, set telemetry.SeriesSet, err error) (series, points int) {
	if err != nil {
		b.Fatal(err)
	}
	for set.Next() {
		series++
		points += len(set.At().Points)
	}
	if err := set.Err(); err != nil {
		b.Fatal(err)
	}
	set.Close()
	return series, points
}

// BenchmarkQuery runs the four queries of the issue over the whole day of
// every series, reporting samples/s read.
func BenchmarkQuery(b *testing.B) {
	s := openWalk(b)
	defer s.Close()
	day := telemetry.MetricQuery{Start: benchStart, End: benchStart + benchDay - 1,
		Filter: &telemetry.Match{Field: "name", Values: []string{"walk"}}}
	for _, q := range []struct {
		name   string
		agg    telemetry.Aggregation
		series int
	}{
		{"mean-1m", telemetry.Aggregation{Method: telemetry.Mean, Step: 60_000}, benchSeries},
		{"mean-1m-by-dc", telemetry.Aggregation{Method: telemetry.Mean, Step: 60_000, GroupBy: []string{"dc"}}, 10},
		{"max-day", telemetry.Aggregation{Method: telemetry.Max}, benchSeries},
		{"p99-5m", telemetry.Aggregation{Method: telemetry.Percentile, Percentile: 99, Step: 300_000}, benchSeries},
	} {
		b.Run(q.name, func(b *testing.B) {
			qq := day
			qq.Agg = &q.agg
			cpu0 := cpuTime()
			for range b.N {
				set, err := s.SelectMetrics(context.Background(), qq)
				if n, _ := drainSet(b, set, err); n != q.series {
					b.Fatalf("%d series, want %d", n, q.series)
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(benchSeries*benchSamples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine it says what a query costs when wall-clock time says how busy
// the others were.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
