package pebblestore_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// TestLoaderSameBytes applies the same batches with Apply and with a
// Loader (in small runs, so that runs overlap, postings open in one run and
// close in another, and a read in the middle forces a run out; or with a
// second Loader from the middle on, which finds half the graph in the
// store, written before it began) and checks
// that the two stores hold the same keys with the same values, byte for
// byte, and that the loaded one reads and compacts like the other.
func TestLoaderSameBytes(t *testing.T) {
	for name, batches := range map[string][]*graphstore.Batch{
		"topogen": topogenBatches(t),
		"random":  randomBatches(),
	} {
		t.Run(name, func(t *testing.T) { loaderSameBytes(t, batches, 64<<10, false, false) })
		// Without the present graph the loader keeps the adjacency it
		// wrote in the run itself.
		t.Run(name+"-no-present", func(t *testing.T) { loaderSameBytes(t, batches, 64<<10, true, false) })
		t.Run(name+"-two-loaders", func(t *testing.T) { loaderSameBytes(t, batches, 64<<10, false, true) })
	}
}

// TestLoaderSpillSameBytes loads batches far larger than the run's budget
// (as tetra load applies a file of 400,000 elements as one batch): each
// batch's writes are spilled to files several times while it is gathered
// and merged into the run's tables at its end, and the store must still be
// byte for byte the one Apply builds.
func TestLoaderSpillSameBytes(t *testing.T) {
	for name, batches := range map[string][]*graphstore.Batch{
		"topogen": topogenBatches(t),
		"random":  randomBatches(),
	} {
		t.Run(name, func(t *testing.T) {
			ld := loaderSameBytes(t, batches, 4<<10, false, false)
			if ld.Spills() < len(batches) {
				t.Fatalf("%d spills in %d batches: want every batch to spill", ld.Spills(), len(batches))
			}
		})
	}
}

// topogenBatches is a small generated topology with churn, bulk loaded
// into a reference store to collect its batches.
func topogenBatches(t *testing.T) []*graphstore.Batch {
	cfg := topogen.Default(graphtest.Base.Add(48 * time.Hour))
	cfg.Components, cfg.Hours, cfg.BatchSize, cfg.AddRemove = 600, 24, 500, 5
	rec := &recorder{}
	if _, err := topogen.New(cfg).Load(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec.batches
}

// randomBatches merge, split and re-resolve a lot.
func randomBatches() []*graphstore.Batch {
	gen := &graphtest.RandomHistory{R: rand.New(rand.NewPCG(5, 5)), Sources: 3, Exts: 30, Idents: 30}
	var out []*graphstore.Batch
	for i := range 150 {
		b := gen.Batch(12)
		b.Time = graphtest.At(int64(10 * (i + 1)))
		out = append(out, b)
	}
	return out
}

func loaderSameBytes(t *testing.T, batches []*graphstore.Batch, budget int, noPresent, twoLoaders bool) *pebblestore.Loader {
	ctx := context.Background()
	opts := pebblestore.Options{Now: func() time.Time { return graphtest.Base.Add(1000 * time.Hour) }, Retention: 1000 * time.Hour, NoSync: true}
	applied, err := pebblestore.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer applied.Close()
	lopts := opts
	lopts.NoPresentIndex = noPresent
	dir := t.TempDir()
	loaded, err := pebblestore.Open(dir, lopts)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	ld, err := loaded.NewLoader(budget)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ld.Close() }() // before the store's Close, which waits for it
	for i, b := range batches {
		want, err := applied.Apply(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ld.Apply(ctx, b)
		if err != nil || *got != *want {
			t.Fatalf("batch %d: Apply committed %+v, the loader %+v (%v)", i, want, got, err)
		}
		if i == len(batches)/2 { // a read in the middle sees everything so far
			sn, err := ld.Snapshot(time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			sa, _ := applied.Snapshot(time.Time{})
			g1, _ := graphtest.DumpGraph(sa)
			g2, _ := graphtest.DumpGraph(sn)
			sn.Close()
			sa.Close()
			if g1 != g2 {
				ka, _ := applied.RawKVs()
				kb, _ := loaded.RawKVs()
				t.Logf("keys: applied %d loaded %d", len(ka), len(kb))
				t.Fatalf("a read during the load differs:\napplied\n%s\nloaded\n%s", g1, g2)
			}
			if twoLoaders {
				if err := ld.Close(); err != nil {
					t.Fatal(err)
				}
				if ld, err = loaded.NewLoader(budget); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := ld.Close(); err != nil {
		t.Fatal(err)
	}
	if inLine, background := ld.Runs(); inLine == 0 || background == 0 {
		// The batches begin with a first load (runs in line) and go on
		// churning (runs in the background): both ways must be compared.
		t.Fatalf("the loader ingested %d runs in line and %d in the background: want some of each", inLine, background)
	}
	compareKVs(t, applied, loaded)
	if !noPresent {
		comparePresent(t, applied, loaded)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tetra-load-*")); len(left) > 0 {
		t.Fatalf("the load left its files behind: %v", left)
	}
	if !loaded.LastCommit().Equal(applied.LastCommit()) {
		t.Fatalf("last commit: applied %v, loaded %v", applied.LastCommit(), loaded.LastCommit())
	}
	// Both go on the same way.
	extra := &graphstore.Batch{Time: applied.LastCommit().Add(time.Second)}
	extra.PutComponent("after", "x", graphstore.ComponentData{Name: "after", Type: "t"})
	for _, st := range []*pebblestore.Store{applied, loaded} {
		if _, err := st.Apply(ctx, extra); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Compact(ctx, st.LastCommit().Add(opts.Retention/2)); err != nil {
			t.Fatal(err)
		}
	}
	compareKVs(t, applied, loaded)
	return ld
}

// comparePresent checks that the loader kept the present graph in memory
// as Apply keeps it (the loader follows it batch by batch instead of
// rebuilding it at the end).
func comparePresent(t *testing.T, a, b *pebblestore.Store) {
	t.Helper()
	da, _ := a.DumpPresent()
	db, _ := b.DumpPresent()
	if da != db {
		t.Fatalf("present graph: applied\n%s\nloaded\n%s", da, db)
	}
}

func compareKVs(t *testing.T, a, b *pebblestore.Store) {
	t.Helper()
	ka, err := a.RawKVs()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.RawKVs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ka, kb) {
		for i := range min(len(ka), len(kb)) {
			if ka[i] != kb[i] {
				t.Fatalf("%d and %d keys; first difference at %d:\napplied %s\nloaded  %s", len(ka), len(kb), i, ka[i], kb[i])
			}
		}
		t.Fatalf("applied %d keys, loaded %d", len(ka), len(kb))
	}
}

// recorder is a store that keeps the batches it is given (and commits
// nothing): to collect what a generator writes.
type recorder struct {
	graphstore.Store
	batches []*graphstore.Batch
}

func (r *recorder) Apply(_ context.Context, b *graphstore.Batch) (*graphstore.Commit, error) {
	r.batches = append(r.batches, b)
	return &graphstore.Commit{}, nil
}

// TestLoaderRemovesLeftovers checks that a load removes the spills and
// tables a load that crashed left in the store's directory.
func TestLoaderRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, n := range []string{"tetra-load-3.spill", "tetra-load-17-001.sst"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("left by a crash"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ld, err := st.NewLoader(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ld.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tetra-load-*")); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
