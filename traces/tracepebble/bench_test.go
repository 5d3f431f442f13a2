package tracepebble_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// The trace benchmarks of issue 9: 1M spans (100,000 traces of 10 spans,
// 20 services, one day, log-normal durations, 2% errors, a customer id
// attribute with 10,000 values), generated once into
// $TETRA_BENCH_DATA/traces-1m (a temporary directory when unset):
//
//	TETRA_BENCH_DATA=/work/benchdata flock /tmp/tetra-bench.lock \
//	  go test ./traces/tracepebble -run '^$' -bench Search -benchtime 200x -timeout 30m
//	flock /tmp/tetra-bench.lock go test ./traces/tracepebble -run '^$' -bench AppendSpans -benchtime 1x
//
// TETRA_BENCH_COLD measures searches on a cold page cache: before each
// search the store's files are evicted from the operating system's page
// cache (posix_fadvise DONTNEED, which needs no privilege; pages another
// process has dirty or mapped may stay). With TETRA_BENCH_COLD=open the
// store stays open, its block cache as earlier searches left it: a server
// whose page cache other work has taken. With TETRA_BENCH_COLD=reopen the
// store is also closed and opened again (an empty block cache) and
// Pebble's work after an open is waited for (compactions, reading every
// table's statistics): every search is the first of a process. None of
// that is timed.
const (
	benchTraces   = 100_000
	spansPerTrace = 10
	benchServices = 20
	benchStart    = int64(1_790_000_000) * int64(time.Second)
	benchDay      = int64(24 * time.Hour)
)

func genTrace(r *rand.Rand, n int) []traces.Span {
	tid := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
	start := benchStart + r.Int64N(benchDay-int64(time.Minute))
	customer := fmt.Sprint(r.IntN(10_000))
	out := make([]traces.Span, spansPerTrace)
	for i := range out {
		d := int64(math.Exp(r.NormFloat64()*1.2+math.Log(20)) * float64(time.Millisecond)) // median 20 ms
		s := traces.Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", r.Uint64()), Service: fmt.Sprintf("svc-%02d", r.IntN(benchServices)),
			Name: fmt.Sprintf("op-%d", r.IntN(50)), Kind: "server", Status: "ok", Start: start + int64(i)*int64(time.Millisecond), Duration: d,
			Attributes: telemetry.Tags{{Key: "customer.id", Value: customer}, {Key: "http.status_code", Value: "200"}}}
		if i > 0 {
			s.ParentID = out[0].SpanID
		}
		if r.IntN(50) == 0 {
			s.Status, s.Attributes[1].Value = "error", "500"
		}
		out[i] = s
	}
	return out
}

func generate(b *testing.B, s *tracepebble.Store) time.Duration {
	r := rand.New(rand.NewPCG(1, 2))
	var spent time.Duration
	const perBatch = 1000 // traces: 10,000 spans a batch
	for k := 0; k < benchTraces; k += perBatch {
		batch := make([]traces.Span, 0, perBatch*spansPerTrace)
		for range perBatch {
			batch = append(batch, genTrace(r, k)...)
		}
		t0 := cpuTime()
		if err := s.AppendSpans(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		spent += cpuTime() - t0
	}
	return spent
}

func benchDir() string {
	root := os.Getenv("TETRA_BENCH_DATA")
	if root == "" {
		root = filepath.Join(os.TempDir(), "tetra-bench")
	}
	return filepath.Join(root, "traces-1m")
}

// evict drops the files of dir from the page cache.
func evict(b *testing.B, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // an obsolete file Pebble deleted meanwhile
		}
		if err != nil {
			b.Fatal(err)
		}
		const dontNeed = 4 // POSIX_FADV_DONTNEED
		if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, dontNeed, 0, 0); errno != 0 {
			b.Fatal(errno)
		}
		f.Close()
	}
}

func openBench(b *testing.B) *tracepebble.Store {
	dir := benchDir()
	if _, err := os.Stat(filepath.Join(dir, "READY")); err != nil {
		os.RemoveAll(dir)
		s, err := tracepebble.Open(dir, tracepebble.Options{NoSync: true, Retention: 1 << 62})
		if err != nil {
			b.Fatal(err)
		}
		spent := generate(b, s)
		n := float64(benchTraces * spansPerTrace)
		b.Logf("appended %d spans in %s of CPU time: %.0f spans/cpu-s", int(n), spent.Round(time.Millisecond), n/spent.Seconds())
		s.Close()
		os.WriteFile(filepath.Join(dir, "READY"), nil, 0o644)
	}
	s, err := tracepebble.Open(dir, tracepebble.Options{Retention: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAppendSpans appends the million spans into a fresh store.
func BenchmarkAppendSpans(b *testing.B) {
	var spent time.Duration
	for range b.N {
		s, err := tracepebble.Open(b.TempDir(), tracepebble.Options{NoSync: true, Retention: 1 << 62})
		if err != nil {
			b.Fatal(err)
		}
		spent += generate(b, s)
		s.Close()
	}
	b.ReportMetric(float64(benchTraces*spansPerTrace*b.N)/spent.Seconds(), "spans/cpu-s")
}

// cpuTime is the process's CPU time so far (see telpebble's benchmarks):
// appends are measured in CPU time, which a shared machine distorts less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSearch runs selective searches with LIMIT 20 over the whole
// day, reporting their latency percentiles.
func BenchmarkSearch(b *testing.B) {
	s := openBench(b)
	defer func() { s.Close() }()
	cold := os.Getenv("TETRA_BENCH_COLD")
	if cold != "" && cold != "open" && cold != "reopen" {
		b.Fatalf("TETRA_BENCH_COLD=%s: want open or reopen", cold)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		name  string
		query func() telemetry.Expr
	}{
		{"service-min-duration", func() telemetry.Expr { // about 0.1% of a service's spans
			return &telemetry.And{Xs: []telemetry.Expr{
				&telemetry.Match{Field: "service", Values: []string{fmt.Sprintf("svc-%02d", r.IntN(benchServices))}},
				&telemetry.Compare{Field: "duration", Op: telemetry.Gt, Value: float64(800 * time.Millisecond)}}}
		}},
		{"attribute", func() telemetry.Expr { // one customer: about 100 spans
			return &telemetry.Match{Field: "attributes.customer.id", Values: []string{fmt.Sprint(r.IntN(10_000))}}
		}},
		{"error-status", func() telemetry.Expr { // 2% of all spans: not selective
			return &telemetry.Match{Field: "status", Values: []string{"error"}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			found := 0
			for range b.N {
				q := traces.TraceQuery{Filter: c.query(), Start: benchStart, End: benchStart + benchDay, Limit: 20, MaxTraces: 10_000}
				if cold == "reopen" {
					s.Close()
					s = openBench(b)
					tracepebble.Settle(s)
				}
				if cold != "" {
					evict(b, benchDir())
				}
				t0 := time.Now()
				it, err := s.SearchTraces(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				for it.Next() {
					found++
				}
				it.Close()
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(found)/float64(b.N), "traces/op")
		})
	}
}
