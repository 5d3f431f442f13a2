package pebblestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/crashtest"
)

// TestPowerLossLoader cuts the power under a bulk load whose batches are
// each larger than the run's budget, so that every batch is spilled to
// files while it is gathered and ingested at its end (as tetra load does
// with each file, flushing after it). The store recovered from each image
// must hold every batch flushed before the cut, and each batch whole or
// not at all: never the part of one that was spilled.
func TestPowerLossLoader(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerLossLoader(t, seed) })
	}
}

func powerLossLoader(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 91))
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 40, Idents: 40}
	batches := make([]*graphstore.Batch, 20)
	for i := range batches {
		batches[i] = gen.Batch(60)
		batches[i].Time = graphtest.At(int64(10 * (i + 1)))
	}
	fs := vfs.NewCrashableMem()
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, FS: fs}
	st, err := pebblestore.Open("/db", opts)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := st.NewLoader(2 << 10)
	if err != nil {
		t.Fatal(err)
	}
	images := crashtest.Run(t, r, seed, fs, 3*time.Millisecond, func(ack func(int)) error {
		ctx := context.Background()
		for i, b := range batches {
			if _, err := ld.Apply(ctx, b); err != nil {
				return err
			}
			if err := ld.Flush(ctx); err != nil {
				return err
			}
			ack(i)
		}
		return nil
	})
	if err := ld.Close(); err != nil {
		t.Fatal(err)
	}
	if ld.Spills() < len(batches) {
		t.Fatalf("%d spills in %d batches: want every batch to spill", ld.Spills(), len(batches))
	}
	st.Close()
	for _, img := range images {
		checkImage(t, img, batches, opts)
	}
	t.Logf("%d power cuts", len(images))
}
