package pebblestore_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// BenchmarkBulkLoad loads the initial graph of the uniform shape (N
// components and 3N relations, batches of 10,000; N is 30,000 or
// TETRA_BULK_BENCH_COMPONENTS) through the bulk loader into a fresh synced
// store, closing the loader (which rebuilds the present graph) inside the
// timer. The batches are generated before the timer starts, so the figure
// and a CPU profile are the loader's alone:
//
//	flock /tmp/tetra-bench.lock go test ./graphstore/pebblestore -run '^$' -bench BulkLoad -benchtime 3x -cpuprofile /tmp/bulk.prof
func BenchmarkBulkLoad(b *testing.B) {
	n := 30_000
	if v, err := strconv.Atoi(os.Getenv("TETRA_BULK_BENCH_COMPONENTS")); err == nil && v > 0 {
		n = v
	}
	cfg := topogen.Sized(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), n, topogen.Uniform)
	cfg.Hours = 0
	rec := &recorder{}
	g := topogen.New(cfg)
	if err := g.LoadInitial(context.Background(), rec); err != nil {
		b.Fatal(err)
	}
	elems := g.Stats.InitialElements
	opts := pebblestore.Options{Now: func() time.Time { return cfg.End.Add(time.Hour) }}
	b.ReportAllocs()
	b.ResetTimer()
	var spent time.Duration
	for range b.N {
		b.StopTimer()
		st, err := pebblestore.Open(b.TempDir(), opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := cpuTime()
		loadAll(b, st, rec.batches)
		spent += cpuTime() - t0
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(elems)*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
	b.ReportMetric(float64(elems)*float64(b.N)/spent.Seconds(), "elements/cpu-s")
}

// cpuTime is the process's CPU time so far, every goroutine's (the
// loader's table writers and Pebble's compactions too): the loader is also
// measured in CPU time, which a shared machine distorts less than wall
// time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAll(b *testing.B, st *pebblestore.Store, batches []*graphstore.Batch) {
	ld, err := st.NewLoader(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, bt := range batches {
		if _, err := ld.Apply(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	if err := ld.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkChurn measures the hourly churn of the benchmark graphs, the
// part of generating them that dominates at 30 days: the initial graph of
// the uniform shape (N components as in BenchmarkBulkLoad, loaded before
// the timer), then TETRA_BULK_BENCH_HOURS hours of churn (24 when unset)
// written through the bulk loader that loaded the graph (as benchgraph
// generates the graphs) and, for comparison, through Apply; the timer ends
// with the last run ingested:
//
//	flock /tmp/tetra-bench.lock go test ./graphstore/pebblestore -run '^$' -bench '^BenchmarkChurn$' -benchtime 1x
func BenchmarkChurn(b *testing.B) {
	n, hours := 30_000, 24
	if v, err := strconv.Atoi(os.Getenv("TETRA_BULK_BENCH_COMPONENTS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("TETRA_BULK_BENCH_HOURS")); err == nil && v > 0 {
		hours = v
	}
	cfg := topogen.Sized(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), n, topogen.Uniform)
	cfg.Hours = hours
	opts := pebblestore.Options{Now: func() time.Time { return cfg.End.Add(time.Hour) }, Retention: 40 * 24 * time.Hour}
	for _, via := range []string{"loader", "apply"} {
		b.Run(via, func(b *testing.B) {
			var (
				versions int
				spent    time.Duration
			)
			for range b.N {
				b.StopTimer()
				st, err := pebblestore.Open(b.TempDir(), opts)
				if err != nil {
					b.Fatal(err)
				}
				g := topogen.New(cfg)
				ld, err := st.NewLoader(0)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.LoadInitial(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
				var w graphstore.Store = ld
				if err := ld.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				if via == "apply" {
					if err := ld.Close(); err != nil {
						b.Fatal(err)
					}
					w = st
				}
				before := g.Stats.Versions
				b.StartTimer()
				t0 := cpuTime()
				if err := g.LoadChurn(context.Background(), w); err != nil {
					b.Fatal(err)
				}
				if via == "loader" {
					if err := ld.Close(); err != nil {
						b.Fatal(err)
					}
				}
				spent += cpuTime() - t0
				b.StopTimer()
				versions += g.Stats.Versions - before
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(hours*b.N)/b.Elapsed().Seconds(), "hours/s")
			b.ReportMetric(float64(versions)/b.Elapsed().Seconds(), "versions/s")
			b.ReportMetric(spent.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
