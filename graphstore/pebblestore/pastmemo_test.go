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

// TestChainMemo checks a snapshot's memo of chains against a map through
// growth, replacement and the size bound, and that reset forgets all.
func TestChainMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m := memoPool.Get().(*chainMemo)
	for round := range 3 {
		want := map[graphstore.ID]*chain{}
		span := []int64{50, 5000, 4 * memoMaxEntries}[round] // dense ids, then beyond the bound
		for range 3 * memoMaxEntries {
			id := graphstore.ID(1 + r.Int64N(span))
			if r.IntN(3) == 0 {
				if got := m.get(id); got != want[id] {
					t.Fatalf("round %d: get(%d) = %p, want %p", round, id, got, want[id])
				}
				continue
			}
			ch := &chain{}
			m.put(id, ch)
			if _, ok := want[id]; ok || len(want) < memoMaxEntries/2 {
				want[id] = ch // remembered: replaced, or room left
			}
		}
		for id, ch := range want {
			if got := m.get(id); got != ch {
				t.Fatalf("round %d: get(%d) = %p, want %p", round, id, got, ch)
			}
		}
		m.reset()
		for id := range want {
			if got := m.get(id); got != nil {
				t.Fatalf("round %d: after reset get(%d) = %p", round, id, got)
			}
		}
	}
}

// TestElementIndex checks that the element cache's lock-free index holds
// exactly the chains its shards' maps hold, through caching, new versions,
// adjacency, eviction under a small budget and clearing: a read that found
// a chain the map no longer holds would miss the versions written since.
func TestElementIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 3))
	c := newElementCache(0) // 1 KiB a shard, a few chains: eviction all the time
	const ids = 3 << chainChunkBits
	ts := int64(1)
	for step := range 20000 {
		id := graphstore.ID(1 + r.IntN(ids))
		ts++
		switch op := r.IntN(10); {
		case op < 4:
			ch := &chain{}
			if r.IntN(4) > 0 { // an element without versions is not indexed
				ch.slots = []*slot{{ts: ts}}
			}
			c.put(id, ch, ts)
		case op < 8:
			c.appendVersion(id, ts, &graphstore.Element{ID: id})
		case op < 9:
			c.setAdjacency(id, r.IntN(2), newAdjacency(nil), ts)
		default:
			if r.IntN(2000) == 0 {
				c.clear(ts)
			}
		}
		if step%1000 != 999 {
			continue
		}
		for id := graphstore.ID(1); id <= ids; id++ {
			sh := &c.shards[shardOf(id)]
			want := sh.chains[id]
			var got *chain
			if cell := c.cell(id); cell != nil {
				got = cell.Load()
			}
			if got != want && (got != nil || len(want.slots) > 0) {
				t.Fatalf("step %d: index holds %p for %d, the map %p", step, got, id, want)
			}
			if c.get(id) != want {
				t.Fatalf("step %d: get(%d) = %p, want %p", step, id, c.get(id), want)
			}
		}
	}
}
