// Package benchgraph opens the generated benchmark graphs that exec's and
// api's benchmarks share: a topogen topology of a size and shape with 30
// days of hourly churn, generated once through the bulk loader into
// <root>/<shape>-<components> and reused by every later run (a marker file
// records the configuration it was generated with). Only benchmarks use
// it; it is the one place besides cmd that opens a concrete store.
package benchgraph

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// End is the time of the last churn batch.
var End = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Now is the clock of the benchmark stores and engines: just after the
// last churn batch.
func Now() time.Time { return End.Add(time.Minute) }

// Options are the store options the benchmarks open with.
func Options() pebblestore.Options {
	return pebblestore.Options{Now: Now, Retention: 40 * 24 * time.Hour}
}

// Config reads a size ("100k", "1m" or a number of components; "" is
// 100k), a shape ("local" or "uniform"; "" is local) and the hours of churn
// ("" is 720, 30 days).
func Config(size, shape, hours string) (topogen.Config, error) {
	n := 100_000
	switch s := strings.ToLower(size); s {
	case "", "100k":
	case "1m":
		n = 1_000_000
	default:
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			return topogen.Config{}, fmt.Errorf("benchmark size %q: want a number of components ≥ 1000, 100k or 1m", s)
		}
		n = v
	}
	sh := topogen.Local
	switch s := strings.ToLower(shape); s {
	case "", "local":
	case "uniform":
		sh = topogen.Uniform
	default:
		return topogen.Config{}, fmt.Errorf("benchmark shape %q: want local or uniform", s)
	}
	cfg := topogen.Sized(End, n, sh)
	if hours != "" {
		h, err := strconv.Atoi(hours)
		if err != nil || h < 0 {
			return topogen.Config{}, fmt.Errorf("benchmark hours %q: want a number of hours of churn", hours)
		}
		cfg.Hours = h
	}
	return cfg, nil
}

// Graph is an open benchmark store.
type Graph struct {
	Dir      string
	Store    *pebblestore.Store
	Config   topogen.Config
	Gen      *topogen.Generator // for names; its state is not the store's
	Meta     Meta
	OpenTime time.Duration // how long opening the existing store took
}

// Meta is what a generation wrote, kept beside the store.
type Meta struct {
	Config    topogen.Config
	Stats     topogen.Stats
	Generated time.Duration // wall time of the whole generation
}

// Generation says how Open reports a generation.
type Generation struct {
	Log   io.Writer     // progress lines (nil: none)
	Every time.Duration // at most one progress line per interval (0: 10 s)
	// Progress, when set, is also called after every batch (a command
	// writes a heap profile at a chosen point with it).
	Progress func(topogen.Progress)
}

// Open opens the graph of cfg under root, generating it first when it is
// not there (root "" generates into a temporary directory), with progress
// on standard error every 10 s.
func Open(root string, cfg topogen.Config) (*Graph, error) {
	return OpenWith(root, cfg, Generation{Log: os.Stderr})
}

// OpenWith is Open with the generation reported as gen says.
func OpenWith(root string, cfg topogen.Config, gen Generation) (*Graph, error) {
	if root == "" {
		d, err := os.MkdirTemp("", "tetra-bench-")
		if err != nil {
			return nil, err
		}
		root = d
	}
	shape := string(cfg.Shape)
	if shape == "" {
		shape = "local"
	}
	name := fmt.Sprintf("%s-%d", shape, cfg.Components)
	if cfg.Hours != 720 {
		name += fmt.Sprintf("-h%d", cfg.Hours)
	}
	g := &Graph{Dir: filepath.Join(root, name), Config: cfg, Gen: topogen.New(cfg)}
	marker := filepath.Join(g.Dir, "tetra-bench.json")
	if raw, err := os.ReadFile(marker); err == nil && json.Unmarshal(raw, &g.Meta) == nil && sameConfig(g.Meta.Config, cfg) {
		t0 := time.Now()
		st, err := pebblestore.Open(g.Dir, Options())
		if !errors.Is(err, pebblestore.ErrSchema) { // a store of an older format is generated anew
			g.OpenTime, g.Store = time.Since(t0), st
			return g, err
		}
	}
	return g, g.generate(marker, gen)
}

func (g *Graph) generate(marker string, how Generation) error {
	if err := os.RemoveAll(g.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(g.Dir, 0o755); err != nil {
		return err
	}
	st, err := pebblestore.Open(g.Dir, Options())
	if err != nil {
		return err
	}
	g.Store = st
	log := how.Log
	if log == nil {
		log = io.Discard
	}
	shape := g.Config.Shape
	if shape == "" {
		shape = "local"
	}
	fmt.Fprintf(log, "generating %d components (%s), %d hours of churn in %s …\n",
		g.Config.Components, shape, g.Config.Hours, g.Dir)
	t0 := time.Now()
	gen := topogen.New(g.Config)
	p := newProgress(log, cmp.Or(how.Every, 10*time.Second))
	gen.Progress = func(pr topogen.Progress) {
		p.report(pr)
		if how.Progress != nil {
			how.Progress(pr)
		}
	}
	ld, err := st.NewLoader(0)
	if err != nil {
		return err
	}
	_, err = gen.Load(context.Background(), ld)
	t1 := time.Now()
	if cerr := ld.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	g.Meta = Meta{Config: g.Config, Stats: gen.Stats, Generated: time.Since(t0)}
	fmt.Fprintf(log, "generated in %s (closing the loader %s; %d versions in %d batches)%s\n",
		g.Meta.Generated.Round(time.Second), time.Since(t1).Round(time.Second), gen.Stats.Versions, gen.Stats.Batches, p.resources())
	raw, _ := json.Marshal(g.Meta)
	return os.WriteFile(marker, raw, 0o644)
}

func sameConfig(a, b topogen.Config) bool {
	a.End, b.End = a.End.UTC(), b.End.UTC()
	return a == b
}

// Settle brings a benchmark process to the steady state of a server that
// has been answering for a while: it calls fn (one query) over and over,
// at least min times, until the Go runtime has finished two garbage
// collections since Settle began (or 60 s have passed).
//
// Why: a fresh process's heap grows into memory it has never touched, and
// on the project's VM the first touch of a 4 KiB page costs 50–70 µs
// (measured 2026-12-01: nested paging), so the first few thousand queries
// after the store opens pay for page faults, not for reading the graph.
// After a collection the runtime reuses the pages it freed, as a server
// does once its heap has grown to its working size. Warming up by a fixed
// count measured page faults instead (p50 of the selective filter 130 µs
// while its heap grew, 20 µs once it had).
func Settle(min int, fn func(i int) error) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	target := ms.NumGC + 2
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		if i >= min {
			if i%64 == 0 {
				runtime.ReadMemStats(&ms)
			}
			if ms.NumGC >= target || time.Now().After(deadline) {
				return nil
			}
		}
		if err := fn(i); err != nil {
			return err
		}
	}
}
