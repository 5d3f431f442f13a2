// Command generate generates a benchmark graph as the benchmarks do
// (benchgraph.Open: the initial graph, then hourly churn, through the bulk
// loader) and prints its progress to standard error, so that the long
// generations (1M components with 30 days of churn) can be run, timed and
// profiled on their own:
//
//	go run ./internal/benchgraph/generate -data /work/benchdata -size 1m -shape uniform
//
// The graph lands in <data>/<shape>-<components>[-h<hours>], where the
// benchmarks find it (TETRA_BENCH_DATA=<data>). An existing graph of the
// same configuration is opened, not generated again.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tetrahq/tetra/internal/benchgraph"
	"github.com/tetrahq/tetra/internal/topogen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", os.Getenv("TETRA_BENCH_DATA"), "directory the graph is generated under (default $TETRA_BENCH_DATA)")
	size := flag.String("size", "100k", "components: 100k, 1m or a number")
	shape := flag.String("shape", "local", "local or uniform")
	hours := flag.String("hours", "720", "hours of churn")
	every := flag.Duration("every", 10*time.Second, "at most one progress line per interval")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the generation to this file")
	heapProfile := flag.String("heapprofile", "", "write a heap profile to this file when the churn is half done (or at the end without churn)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if *data == "" {
		return fmt.Errorf("no data directory: give -data or set TETRA_BENCH_DATA")
	}
	cfg, err := benchgraph.Config(*size, *shape, *hours)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
		// A generation stopped early (Ctrl-C, kill) still leaves the
		// profile of what it did: often the point of profiling one.
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		go func() {
			s := <-stop
			pprof.StopCPUProfile()
			f.Close()
			fmt.Fprintf(os.Stderr, "generate: stopped by %s; the CPU profile is written, the graph is incomplete\n", s)
			os.Exit(1)
		}()
	}
	heapAt := func(topogen.Progress) {}
	if *heapProfile != "" {
		written := false
		heapAt = func(p topogen.Progress) {
			half := p.Phase == topogen.PhaseChurn && p.Done >= (p.Total+1)/2 ||
				cfg.Hours == 0 && p.Done == p.Total
			if written || !half {
				return
			}
			written = true
			if err := writeHeap(*heapProfile); err != nil {
				fmt.Fprintln(os.Stderr, "generate: heap profile:", err)
			}
		}
	}
	g, err := benchgraph.OpenWith(*data, cfg, benchgraph.Generation{Log: os.Stderr, Every: *every, Progress: heapAt})
	if err != nil {
		return err
	}
	defer g.Store.Close()
	if g.OpenTime > 0 {
		fmt.Fprintf(os.Stderr, "%s holds this graph already (generated in %s); opened in %s\n",
			g.Dir, g.Meta.Generated.Round(time.Second), g.OpenTime.Round(time.Millisecond))
	}
	return nil
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
