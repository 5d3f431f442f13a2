package pebblestore

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

// adjRef is the reference adjacency: both sides of every component, each
// a map from relation to other end.
type adjRef map[graphstore.ID]*[2]map[uint32]uint32

func (ref adjRef) side(id graphstore.ID, sd int) map[uint32]uint32 {
	e := ref[id]
	if e == nil {
		e = &[2]map[uint32]uint32{{}, {}}
		ref[id] = e
	}
	return e[sd]
}

// list returns a side of the reference as the packed form would hold it.
func (ref adjRef) list(id graphstore.ID, sd int) []adjPair {
	e := ref[id]
	if e == nil {
		return nil
	}
	var l []adjPair
	for _, rel := range slices.Sorted(maps.Keys(e[sd])) {
		l = append(l, adjPair{rel: rel, other: e[sd][rel]})
	}
	return l
}

// TestPackedAdjacency: the packed adjacency with its overlay holds exactly
// the reference's lists through random commits that add relations, remove
// them, delete components (every relation of both sides) and grow a hub,
// over chunks that were packed at the start and chunks that grow later;
// chunks are packed anew once their overlay is full, and every list handed
// out before a commit is unchanged after it (readers share them). The
// file's form reads back to the same lists.
func TestPackedAdjacency(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const chunks = 3
	comps := func() graphstore.ID { return graphstore.ID(r.IntN(chunks*chunkIDs-1) + 1) }
	hub := graphstore.ID(chunkIDs + 7)
	nextRel := uint32(chunks * chunkIDs)
	ref := adjRef{}
	relate := func(from, to graphstore.ID) (rel uint32) {
		nextRel++
		ref.side(from, 0)[nextRel] = uint32(to)
		ref.side(to, 1)[nextRel] = uint32(from)
		return nextRel
	}
	// The graph at open: a built adjacency (adjBuild, as from Pebble).
	for range 20000 {
		relate(comps(), comps())
	}
	for range 3000 {
		relate(hub, comps())
	}
	var b adjBuild
	for sd := range 2 {
		for _, id := range slices.Sorted(maps.Keys(ref)) {
			for _, a := range ref.list(id, sd) {
				b.add(sd, id, a)
			}
		}
	}
	p := newPresent(0)
	packs := b.packs()
	p.adj.Store(&packs)
	check := func(round int) {
		t.Helper()
		seen := 0
		p.eachAdjacency(func(id graphstore.ID, out, in []adjPair) {
			seen++
			for sd, got := range [2][]adjPair{out, in} {
				if want := ref.list(id, sd); !slices.Equal(got, want) || !slices.Equal(adjList(*p.adj.Load(), id, sd), want) {
					t.Fatalf("round %d: side %d of %d: %v, want %v", round, sd, id, got, want)
				}
			}
		})
		if want := len(slices.DeleteFunc(slices.Collect(maps.Values(ref)), func(e *[2]map[uint32]uint32) bool {
			return len(e[0])+len(e[1]) == 0
		})); seen != want {
			t.Fatalf("round %d: %d components with lists, want %d", round, seen, want)
		}
	}
	check(-1)
	repacked := 0
	for round := range 24 {
		// What readers hold: every list, and a copy of it.
		type held struct{ l, copy []adjPair }
		var before []held
		p.eachAdjacency(func(_ graphstore.ID, out, in []adjPair) {
			before = append(before, held{out, slices.Clone(out)}, held{in, slices.Clone(in)})
		})
		packsBefore := slices.Clone(*p.adj.Load())

		changes := termChanges{}
		change := func(id graphstore.ID, sd int, ch postingChange) {
			ix := []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn}[sd]
			k := termKey{ix, graphstore.IDTerm(id)}
			changes[k] = append(changes[k], ch)
		}
		add := func(from, to graphstore.ID) {
			rel := relate(from, to)
			change(from, 0, postingChange{id: graphstore.ID(rel), aux: to})
			change(to, 1, postingChange{id: graphstore.ID(rel), aux: from})
		}
		remove := func(from graphstore.ID, rel uint32) {
			to := graphstore.ID(ref.side(from, 0)[rel])
			delete(ref.side(from, 0), rel)
			delete(ref.side(to, 1), rel)
			change(from, 0, postingChange{id: graphstore.ID(rel), aux: to, close: true})
			change(to, 1, postingChange{id: graphstore.ID(rel), aux: from, close: true})
		}
		// Many changes in a few rounds, so that chunks fill their overlay.
		n := 50 + r.IntN(3000)
		if round%6 == 5 {
			n = 9000
		}
		for range n {
			switch x := r.IntN(10); {
			case x < 5:
				add(comps(), comps())
			case x < 6:
				add(hub, comps())
			case x < 7: // a new component beyond the chunks packed at the start
				add(graphstore.ID(chunks*chunkIDs+r.IntN(chunkIDs)), comps())
			case x < 9:
				from := comps()
				if out := ref.side(from, 0); len(out) > 0 {
					remove(from, slices.Sorted(maps.Keys(out))[r.IntN(len(out))])
				}
			default: // a component deleted: every relation of both sides
				id := comps()
				for _, rel := range slices.Sorted(maps.Keys(ref.side(id, 0))) {
					remove(id, rel)
				}
				for _, rel := range slices.Sorted(maps.Keys(ref.side(id, 1))) {
					remove(graphstore.ID(ref.side(id, 1)[rel]), rel)
				}
			}
		}
		// A reader runs beside the writer (for the race detector: the
		// overlay and the repacking publish only through atomics); each
		// list it gets must be some consistent list, ascending.
		stop, readerDone := make(chan struct{}), make(chan error)
		go func() {
			rr := rand.New(rand.NewPCG(uint64(round), 9))
			for {
				select {
				case <-stop:
					readerDone <- nil
					return
				default:
				}
				l := adjList(*p.adj.Load(), graphstore.ID(rr.IntN((chunks+1)*chunkIDs)), rr.IntN(2))
				if !slices.IsSortedFunc(l, func(a, b adjPair) int { return int(int64(a.rel) - int64(b.rel)) }) {
					readerDone <- fmt.Errorf("a reader got %v", l)
					return
				}
			}
		}()
		for k, chs := range changes {
			p.applyAdjacency(k, chs)
		}
		close(stop)
		if err := <-readerDone; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for c, pk := range *p.adj.Load() {
			if pk.n >= overlayMax {
				t.Fatalf("round %d: chunk %d holds %d ids in its overlay, not packed anew", round, c, pk.n)
			}
			if c < len(packsBefore) && pk != packsBefore[c] {
				repacked++
			}
		}
		check(round)
		for _, h := range before {
			if !slices.Equal(h.l, h.copy) {
				t.Fatalf("round %d: a list handed out before the commit changed: %v, was %v", round, h.l, h.copy)
			}
		}
	}
	if repacked == 0 {
		t.Fatal("no chunk was packed anew")
	}
	// The file's form.
	var want []string
	p.eachAdjacency(func(id graphstore.ID, out, in []adjPair) { want = append(want, fmt.Sprint(id, out, in)) })
	next := graphstore.ID(chunks*chunkIDs + chunkIDs)
	q, err := decodePresent(p.encode(1, next), 0, 1, next)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	q.eachAdjacency(func(id graphstore.ID, out, in []adjPair) { got = append(got, fmt.Sprint(id, out, in)) })
	if !slices.Equal(got, want) {
		t.Fatalf("read back from the file: %d lists, want %d", len(got), len(want))
	}
}
