package pebblestore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

// TestDenseBlocks: a set's dense blocks hold exactly its ids in every
// block of 65,536 ids where it has at least denseMin of them, and are nil
// everywhere else, through random commits that open and close ids across
// that threshold both ways; a commit leaves the blocks of the set it
// started from as they were (readers share them).
func TestDenseBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const blocks = 5
	// A per-block density, so that some blocks sit near the threshold.
	density := func() []int {
		d := make([]int, blocks)
		for b := range d {
			d[b] = []int{0, 40, 900, 1100, 3000, 20000}[r.IntN(6)]
		}
		return d
	}
	var ids []uint32
	for b, n := range density() {
		for range n {
			ids = append(ids, uint32(b<<16|r.IntN(1<<16)))
		}
	}
	slices.Sort(ids)
	set := newPset(slices.Compact(ids))
	checkDense(t, set)
	for round := range 300 {
		before := deepBlocks(set.dense)
		// Each block moves towards a new target: ids open at random, and
		// close among those the block holds.
		var chs []postingChange
		target := density()
		held := set.ids()
		for range r.IntN(6000) {
			b := r.IntN(blocks)
			lo, _ := slices.BinarySearch(held, graphstore.ID(b<<16))
			hi, _ := slices.BinarySearch(held, graphstore.ID((b+1)<<16))
			if hi-lo < target[b] || hi == lo {
				chs = append(chs, postingChange{id: graphstore.ID(b<<16 | r.IntN(1<<16))})
			} else {
				chs = append(chs, postingChange{id: held[lo+r.IntN(hi-lo)], close: true})
			}
		}
		next := set.withChanges(chs)
		if !slices.EqualFunc(before, deepBlocks(set.dense), func(a, b *[1024]uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }) {
			t.Fatalf("round %d: a commit changed the blocks of the set it started from", round)
		}
		checkDense(t, next)
		set = next
	}
}

func deepBlocks(d graphstore.DenseBlocks) []*[1024]uint64 {
	out := make([]*[1024]uint64, len(d))
	for i, b := range d {
		if b != nil {
			c := *b
			out[i] = &c
		}
	}
	return out
}

func checkDense(t *testing.T, set pset) {
	t.Helper()
	want := map[uint64]*[1024]uint64{}
	count := map[uint64]int{}
	for _, id := range set.ids() {
		b := uint64(id) >> 16
		if want[b] == nil {
			want[b] = new([1024]uint64)
		}
		want[b][id>>6&1023] |= 1 << (id & 63)
		count[b]++
	}
	if len(set.dense) > 0 && set.dense[len(set.dense)-1] == nil {
		t.Fatalf("dense blocks end in a nil block")
	}
	for b := range uint64(max(len(set.dense), 16)) {
		var got *[1024]uint64
		if b < uint64(len(set.dense)) {
			got = set.dense[b]
		}
		switch {
		case count[b] >= denseMin && got == nil:
			t.Fatalf("block %d holds %d ids but has no dense block", b, count[b])
		case count[b] < denseMin && got != nil:
			t.Fatalf("block %d holds %d ids but has a dense block", b, count[b])
		case got != nil && *got != *want[b]:
			t.Fatalf("block %d's words differ from its ids", b)
		}
	}
}
