package pebblestore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

// TestPastMemos checks that what chain.at and adjacency.liveAt remember of
// the last past lookup never changes an answer: reads at times that jump
// around, repeat, fall on version and interval boundaries, before the first
// version and after the last must get what a fresh search of the same
// chain or list gets.
func TestPastMemos(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	for round := range 200 {
		ch := &chain{}
		ts := int64(100)
		for range r.IntN(12) {
			ts += 1 + r.Int64N(20)
			ch.slots = append(ch.slots, &slot{ts: ts, tomb: r.IntN(4) == 0})
		}
		var l plist
		for id := graphstore.ID(1); id <= graphstore.ID(r.IntN(8)); id++ {
			from := int64(90)
			for range 1 + r.IntN(4) {
				from += r.Int64N(30)
				iv := interval{id: id, from: from, to: openEnd, aux: id + 100}
				if r.IntN(3) > 0 {
					iv.to = from + 1 + r.Int64N(30)
					from = iv.to
				}
				l = append(l, iv)
				if iv.to == openEnd {
					break
				}
			}
		}
		a := newAdjacency(l)
		for range 300 {
			at := 80 + r.Int64N(ts-40)
			if got, want := ch.at(at), searchSlot(ch, at); got != want {
				t.Fatalf("round %d: chain.at(%d) = %v, want %v", round, at, got, want)
			}
			if got, want := a.liveAt(at), filterLive(l, at); !slices.Equal(got, want) {
				t.Fatalf("round %d: liveAt(%d) = %v, want %v (list %v)", round, at, got, want, l)
			}
		}
	}
}

// searchSlot is chain.at without its memory: the last slot stamped ≤ ts.
func searchSlot(ch *chain, ts int64) *slot {
	var found *slot
	for _, sl := range ch.slots {
		if sl.ts <= ts {
			found = sl
		}
	}
	return found
}

// filterLive is adjacency.liveAt without its memory.
func filterLive(l plist, ts int64) []graphstore.Adjacency {
	var out []graphstore.Adjacency
	for _, iv := range l {
		if iv.from <= ts && ts < iv.to {
			out = append(out, graphstore.Adjacency{Relation: iv.id, Other: iv.aux})
		}
	}
	return out
}
