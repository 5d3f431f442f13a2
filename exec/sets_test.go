package exec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// TestMembers: each of the membership tests (a bitmap over the range, a
// binary search behind a hash filter, the id set) answers exactly for ids
// inside, between, below and above the list. Each is released before the
// next is built, so pooled words come back dirty and must be cleared.
func TestMembers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	kinds := map[string]int{}
	for _, c := range []struct{ n, spread int }{{1, 1}, {10, 2}, {10, 100000}, {300, 3}, {300, 100000}, {2000, 300}, {5000, 4}, {5000, 1000}} {
		set := map[graphstore.ID]bool{}
		for len(set) < c.n {
			set[graphstore.ID(1+r.IntN(c.n*c.spread))] = true
		}
		var ids []graphstore.ID
		for id := range set {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		m := membersOf(ids)
		switch {
		case m.bits != nil:
			kinds["bitmap"]++
		case m.set != nil:
			kinds["set"]++
		default:
			kinds["search"]++
			if len(m.filter) != filterWords {
				t.Fatalf("%d ids over %d: a search without its filter", c.n, c.n*c.spread)
			}
		}
		for id := graphstore.ID(0); id <= ids[len(ids)-1]+130; id++ {
			if m.has(id) != set[id] {
				t.Fatalf("%d ids over %d: has(%d) = %v", c.n, c.n*c.spread, id, m.has(id))
			}
		}
		m.release()
	}
	if len(kinds) != 3 {
		t.Fatalf("the cases covered %v, want all three kinds of test", kinds)
	}
}

// TestIDSetReset: a set used again after reset holds exactly what was
// added since, its spare blocks cleared (ids scattered over many blocks,
// then others); a set grown past maxKeptBlocks is not kept.
func TestIDSetReset(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	s := newIDSet()
	for round := range 4 {
		want := map[graphstore.ID]bool{}
		for range 300 {
			id := graphstore.ID(r.IntN(1 << 22))
			if s.add(id) == want[id] {
				t.Fatalf("round %d: add(%d) said new=%v, had it: %v", round, id, !want[id], want[id])
			}
			want[id] = true
		}
		if s.len() != len(want) {
			t.Fatalf("round %d: len %d, want %d", round, s.len(), len(want))
		}
		for id := graphstore.ID(0); id < 1<<22; id += 1 + graphstore.ID(r.IntN(64)) {
			if s.has(id) != want[id] {
				t.Fatalf("round %d: has(%d) = %v", round, id, s.has(id))
			}
		}
		for id := range want {
			if !s.has(id) {
				t.Fatalf("round %d: lost %d", round, id)
			}
		}
		if !s.reset() {
			t.Fatalf("round %d: a set of %d blocks not kept", round, len(s.spare))
		}
		if s.len() != 0 || len(s.blocks) != 0 {
			t.Fatalf("round %d: reset left %d ids in %d blocks", round, s.len(), len(s.blocks))
		}
	}
	for id := range graphstore.ID(maxKeptBlocks + 1) {
		s.add(id << idBlockBits)
	}
	if s.reset() {
		t.Fatal("a set of more than maxKeptBlocks blocks was kept")
	}
}

// TestAppendSet: a bitmap's ids come out ascending after what out held,
// for empty, sparse, dense and run-length sets, into a buffer with and
// without room.
func TestAppendSet(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for _, n := range []int{0, 1, 255, 256, 257, 5000, 100000} {
		bm := roaring.New()
		for int(bm.GetCardinality()) < n {
			bm.Add(uint32(r.IntN(8*n + 1)))
		}
		if n == 100000 {
			bm.AddRange(1<<20, 1<<20+70000) // a run
			bm.RunOptimize()
		}
		want := []graphstore.ID{7, 8}
		for _, v := range bm.ToArray() {
			want = append(want, graphstore.ID(v))
		}
		for _, room := range []int{0, len(want)} {
			out := append(make([]graphstore.ID, 0, 2+room), 7, 8)
			if got := appendSet(out, bm); !slices.Equal(got, want) {
				t.Fatalf("%d ids, room %d: got %d ids, want %d", bm.GetCardinality(), room, len(got), len(want))
			}
		}
	}
}

// TestIntersectAll: the intersection of sets in memory, with and without
// dense blocks (all of a set's dense blocks, some, none; blocks where
// every set is dense and blocks where one is sparse), is exactly the
// bitmaps' intersection, and so is each set's membership test.
func TestIntersectAll(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		n := 2 + r.IntN(3)
		sets := make([]memSet, n)
		want := roaring.New()
		for i := range sets {
			bm := roaring.New()
			for b := range 4 {
				per := []int{0, 5, 500, 4000, 30000}[r.IntN(5)]
				for range per {
					bm.Add(uint32(b<<16 | r.IntN(1<<16)))
				}
			}
			if r.IntN(3) == 0 {
				bm.RunOptimize()
			}
			sets[i] = memSet{bm: bm}
			if r.IntN(4) > 0 { // dense blocks where the set has many ids, and not always all of them
				for b := range 4 {
					lo, hi := uint64(b<<16), uint64(b+1)<<16
					if bm.Rank(uint32(hi-1))-rankBelow(bm, lo) < 1000 || r.IntN(5) == 0 {
						continue
					}
					blk := new([1024]uint64)
					it := bm.Iterator()
					it.AdvanceIfNeeded(uint32(lo))
					for it.HasNext() && uint64(it.PeekNext()) < hi {
						id := it.Next()
						blk[id>>6&1023] |= 1 << (id & 63)
					}
					for len(sets[i].dense) <= b {
						sets[i].dense = append(sets[i].dense, nil)
					}
					sets[i].dense[b] = blk
				}
			}
			if i == 0 {
				want = bm.Clone()
			} else {
				want.And(bm)
			}
			for range 200 {
				id := graphstore.ID(r.IntN(5 << 16))
				if sets[i].has(id) != bm.Contains(uint32(id)) {
					t.Fatalf("round %d: set %d's membership test is wrong for %d", round, i, id)
				}
			}
		}
		got := intersectAll(slices.Clone(sets))
		if !got.bm.Equals(want) {
			t.Fatalf("round %d: intersection has %d ids, want %d", round, got.bm.GetCardinality(), want.GetCardinality())
		}
		// Block by block whatever the share of dense blocks, so that
		// every path of it is taken.
		if got := intersectBlocks(slices.Clone(sets)); !got.Equals(want) {
			t.Fatalf("round %d: intersection block by block has %d ids, want %d", round, got.GetCardinality(), want.GetCardinality())
		}
	}
}

// TestSortIDs: sortIDs orders lists short and long, narrow and wide
// (one, two and three radix passes, and beyond them), with duplicates,
// exactly as slices.Sort does.
func TestSortIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, n := range []int{0, 1, 511, 512, 3000, 40000} {
		for _, span := range []uint64{1, 2000, 1 << 22, 1 << 33, 1 << 40} {
			ids := make([]graphstore.ID, n)
			base := graphstore.ID(r.Uint64N(1 << 20))
			for i := range ids {
				ids[i] = base + graphstore.ID(r.Uint64N(span))
			}
			want := slices.Sorted(slices.Values(ids))
			sortIDs(ids)
			if !slices.Equal(ids, want) {
				t.Fatalf("%d ids over %d: not sorted as slices.Sort sorts them", n, span)
			}
		}
	}
}
