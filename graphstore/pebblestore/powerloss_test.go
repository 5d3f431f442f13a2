package pebblestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/crashtest"
)

// TestPowerLoss cuts the power under a writer: Pebble's crash-simulating
// file system keeps what was synced and a random share of what was not
// (never the OS page cache, as a SIGKILL does). The store recovered from
// each such image must hold every batch whose Apply had returned (and
// perhaps later ones), each whole: its graph, its change log and the feed
// read from it must equal a reference store's that applied exactly that
// prefix of batches.
func TestPowerLoss(t *testing.T) {
	seeds := uint64(2)
	if raceEnabled {
		seeds = 1
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerLoss(t, seed, 0) })
	}
}

// TestPowerLossLoader cuts the power under a bulk load whose batches are
// each larger than the run's budget, so that every batch is spilled to
// files while it is gathered and ingested at its end (as tetra load does
// with each file, flushing after it). The store recovered from each image
// must hold every batch flushed before the cut, and each batch whole or
// not at all: never the part of one that was spilled.
func TestPowerLossLoader(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerLoss(t, seed, 2<<10) })
	}
}

// powerLoss applies random batches under power cuts: through Apply, or
// with loaderBudget through a bulk loader with runs of that budget,
// flushed after each batch.
func powerLoss(t *testing.T, seed uint64, loaderBudget int) {
	r := rand.New(rand.NewPCG(seed, 77))
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 40, Idents: 40}
	batches := make([]*graphstore.Batch, 40)
	for i := range batches {
		batches[i] = gen.Batch(30)
		batches[i].Time = graphtest.At(int64(10 * (i + 1)))
	}
	fs := vfs.NewCrashableMem()
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, FS: noLinkFS{fs}}
	st, err := pebblestore.Open("/db", opts)
	if err != nil {
		t.Fatal(err)
	}
	var w graphstore.Store = st
	var ld *pebblestore.Loader
	if loaderBudget > 0 {
		if ld, err = st.NewLoader(loaderBudget); err != nil {
			t.Fatal(err)
		}
		w = ld
	}
	// The writer applies every batch and reports each one acknowledged; the
	// test cuts the power at random moments while it runs.
	images := crashtest.Run(t, r, seed, fs, 3*time.Millisecond, func(ack func(int)) error {
		ctx := context.Background()
		for i, b := range batches {
			if _, err := w.Apply(ctx, b); err != nil {
				return err
			}
			if ld != nil {
				if err := ld.Flush(ctx); err != nil {
					return err
				}
			}
			ack(i)
		}
		return nil
	})
	if ld != nil {
		if err := ld.Close(); err != nil {
			t.Fatal(err)
		}
		if ld.Spills() < len(batches) {
			t.Fatalf("%d spills in %d batches: want every batch to spill", ld.Spills(), len(batches))
		}
	}
	st.Close()
	for _, img := range images {
		checkImage(t, img, batches, opts)
	}
	t.Logf("%d power cuts", len(images))
}

// noLinkFS is a crashable MemFS that cannot hard-link, so that Pebble
// copies the tables a loader ingests (vfs.LinkOrCopy falls back to a
// copy). MemFS.Link takes the clone lock for reading twice, once around
// the whole call and again for the new name; when CrashClone asks for it
// in between, the second read waits for CrashClone, which waits for the
// first: the power-loss test of the loader hung in CI that way (Pebble
// v2.1.7, vfs/mem_fs.go). Copying writes through the file's Write, which
// takes the lock once.
type noLinkFS struct{ vfs.FS }

func (noLinkFS) Link(oldname, newname string) error {
	return errors.New("pebblestore_test: hard links are off (see noLinkFS)")
}

// checkImage recovers a store from a crash image and compares it with a
// reference store holding the same prefix of the batches: every batch
// acknowledged before the cut, and any that completed after (the writer
// runs on while the image is taken), each whole.
func checkImage(t *testing.T, img crashtest.Image, batches []*graphstore.Batch, opts pebblestore.Options) {
	t.Helper()
	opts.FS = img.FS
	st, err := pebblestore.Open("/db", opts)
	if err != nil {
		t.Fatalf("recovering after batch %d: %v", img.Acked, err)
	}
	defer st.Close()
	n := 0 // batch i commits at 10(i+1) seconds
	if last := st.LastCommit(); !last.IsZero() {
		n = int(last.Sub(graphtest.Base) / (10 * time.Second))
	}
	if n < img.Acked+1 {
		t.Fatalf("after a power cut with batch %d acknowledged, the recovered store holds only %d batches", img.Acked, n)
	}
	ref := memstore.New(memstore.Options{Now: graphtest.Clock, Retention: graphtest.Retention})
	for _, b := range batches[:n] {
		if _, err := ref.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := storeState(t, st), storeState(t, ref); got != want {
		t.Fatalf("after a power cut, the store recovered with %d batches differs from the reference of them:\n%s\nreference:\n%s", n, got, want)
	}
}

// storeState prints a store's graph now and every commit of its feed.
func storeState(t *testing.T, st graphstore.Store) string {
	t.Helper()
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	g, err := graphtest.DumpGraph(sn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Subscribe(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := "last commit " + graphtest.Sec(st.LastCommit()) + "\n" + g
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		ev, err := f.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out += graphtest.FormatCommit(ev)
	}
}
