package pebblestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestDifferential applies the same random history to the reference store
// and to Pebble (closing and reopening Pebble now and then, and compacting
// both) and compares every read at many times.
func TestDifferential(t *testing.T) {
	configs := map[string]pebblestore.Options{
		"default": {},
		// Every term too long to cache: reads go to Pebble's tables.
		"uncached-postings": {PostingCacheMaxLen: 1},
		// Tiny budgets: caches evict all the time.
		"evicting": {ElementCacheBytes: 1, PostingCacheBytes: 1, PostingCacheMaxLen: 4, PresentElementBytes: 1},
		// Reads at the current time through Pebble and the caches too.
		"no-present-index": {NoPresentIndex: true},
		// Every commit encodes its writes on two goroutines, as a commit
		// of hundreds of writes does.
		"split-commits": pebblestore.SplitCommits(pebblestore.Options{}),
	}
	for name, opts := range configs {
		// Seeds 4 and 5 keep components apart (few merges), so that
		// dependencies form chains and cycles for health to propagate
		// along; the others merge often. The race detector checks
		// concurrency, not volume: one seed, a sparse one (health).
		seeds := []uint64{0, 1, 2, 3, 4, 5}
		if raceEnabled {
			seeds = []uint64{4}
		}
		for _, seed := range seeds {
			sparse := seed >= 4
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) { differential(t, seed, sparse, opts) })
		}
	}
}

func differential(t *testing.T, seed uint64, sparse bool, opts pebblestore.Options) {
	r := rand.New(rand.NewPCG(seed, 42))
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 12, Idents: 15, Sparse: sparse}
	opts.Now, opts.Retention, opts.NoSync = graphtest.Clock, graphtest.Retention, true
	dir := t.TempDir()
	ps, err := pebblestore.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ps.Close() }()
	ms := memstore.New(memstore.Options{Now: graphtest.Clock, Retention: graphtest.Retention})
	ctx := context.Background()
	var times []int64
	sec := int64(0)
	for i := range 120 {
		sec += 1 + r.Int64N(120)
		b := gen.Batch(6)
		b.Time = graphtest.At(sec)
		mc, merr := ms.Apply(ctx, b)
		pc, perr := ps.Apply(ctx, b)
		if fmt.Sprint(merr) != fmt.Sprint(perr) {
			t.Fatalf("batch %d: reference error %v, pebble error %v", i, merr, perr)
		}
		if merr == nil && *mc != *pc {
			t.Fatalf("batch %d: reference commit %+v, pebble commit %+v", i, mc, pc)
		}
		if err := ps.CheckSupports(); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		times = append(times, sec)
		switch r.IntN(20) {
		case 0: // reopen: caches start cold, everything must come from disk
			if err := ps.Close(); err != nil {
				t.Fatal(err)
			}
			if ps, err = pebblestore.Open(dir, opts); err != nil {
				t.Fatal(err)
			}
		case 1:
			now := graphtest.At(sec + 3600 - r.Int64N(1800))
			mst, _ := ms.Compact(ctx, now)
			pst, err := ps.Compact(ctx, now)
			if err != nil || mst.Horizon != pst.Horizon || mst.Versions != pst.Versions || mst.Commits != pst.Commits {
				t.Fatalf("compact: reference %+v, pebble %+v (%v)", mst, pst, err)
			}
		}
		if i%10 == 9 {
			compareAt(t, ms, ps, times, r)
		}
	}
	compareFeeds(t, ms, ps)
}

// compareAt compares reads at a sample of past commit times, times between
// commits, and now.
func compareAt(t *testing.T, ms, ps graphstore.Store, times []int64, r *rand.Rand) {
	t.Helper()
	checks := []time.Time{{}}
	for range 6 {
		sec := times[r.IntN(len(times))]
		checks = append(checks, graphtest.At(sec), graphtest.At(sec).Add(-time.Nanosecond), graphtest.At(sec).Add(-time.Second))
	}
	for _, at := range checks {
		msn, merr := ms.Snapshot(at)
		psn, perr := ps.Snapshot(at)
		if (merr == nil) != (perr == nil) {
			t.Fatalf("snapshot at %v: reference %v, pebble %v", at, merr, perr)
		}
		if merr != nil {
			continue
		}
		compareSnapshots(t, at, msn, psn)
		msn.Close()
		psn.Close()
	}
}

func compareSnapshots(t *testing.T, at time.Time, msn, psn graphstore.Snapshot) {
	t.Helper()
	mg, _ := graphtest.DumpGraph(msn)
	pg, err := graphtest.DumpGraph(psn)
	if err != nil || mg != pg {
		t.Fatalf("graph at %v differs (%v)\nreference:\n%s\npebble:\n%s", at, err, mg, pg)
	}
	for _, ix := range graphstore.Indexes() {
		var mterms, pterms []string
		msn.Terms(ix, "", func(term string) error { mterms = append(mterms, term); return nil })
		psn.Terms(ix, "", func(term string) error { pterms = append(pterms, term); return nil })
		for _, term := range mterms {
			if !slices.Contains(pterms, term) {
				t.Fatalf("at %v index %s: pebble Terms misses %q", at, ix, term)
			}
			mp, _ := msn.Postings(ix, term)
			pp, err := psn.Postings(ix, term)
			if err != nil || !slices.Equal(mp, pp) {
				t.Fatalf("at %v postings %s %q: reference %v, pebble %v (%v)", at, ix, term, mp, pp, err)
			}
		}
	}
	comps, _ := msn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	for _, id := range comps {
		for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
			ma, _ := msn.Adjacent(id, ix, nil)
			pa, err := psn.Adjacent(id, ix, nil)
			if err != nil || !slices.Equal(ma, pa) {
				t.Fatalf("at %v adjacent %d %s: reference %v, pebble %v (%v)", at, id, ix, ma, pa, err)
			}
			comparePages(t, at, id, ix, ma, psn)
		}
	}
	compareSets(t, at, msn, psn)
	compareBatches(t, at, msn, psn, comps)
	compareAmong(t, at, msn, psn, comps)
}

// compareAmong relates random subsets of the components (and ids that are
// none) in one call, with the members as bit words and as a test, against
// the reference's lists: every outgoing relation whose other end is a
// member, in the order of the ids.
func compareAmong(t *testing.T, at time.Time, msn, psn graphstore.Snapshot, comps []graphstore.ID) {
	t.Helper()
	ar, ok := psn.(graphstore.AmongReader)
	if !ok || len(comps) == 0 {
		return
	}
	r := rand.New(rand.NewPCG(uint64(at.UnixNano()), 5))
	for range 4 {
		var ids []graphstore.ID
		for _, id := range comps {
			if r.IntN(3) > 0 {
				ids = append(ids, id)
			}
		}
		ids = append(ids, comps[len(comps)-1]+graphstore.ID(r.IntN(5)), 1<<40) // not components, or not live
		slices.Sort(ids)
		ids = slices.Compact(ids)
		member := func(id graphstore.ID) bool { _, ok := slices.BinarySearch(ids, id); return ok }
		var want []graphstore.ID
		for _, id := range ids {
			adj, _ := msn.Adjacent(id, graphstore.IdxOut, nil)
			for _, a := range adj {
				if member(a.Other) {
					want = append(want, a.Relation)
				}
			}
		}
		lo := ids[0]
		words := make([]uint64, (ids[len(ids)-2]-lo)/64+1) // the last id lies beyond the words: not a member by them
		for _, id := range ids[:len(ids)-1] {
			words[(id-lo)/64] |= 1 << ((id - lo) % 64)
		}
		for _, among := range []graphstore.Members{{Lo: lo, Words: words}, {Has: member}} {
			got, ok, err := ar.RelationsAmong(ids, among, []graphstore.ID{7})
			if err != nil {
				t.Fatalf("at %v RelationsAmong: %v", at, err)
			}
			if !ok {
				if len(got) != 1 {
					t.Fatalf("at %v RelationsAmong not answered changed dst: %v", at, got)
				}
				continue
			}
			if got[0] != 7 || !slices.Equal(got[1:], want) && !(len(got) == 1 && len(want) == 0) {
				t.Fatalf("at %v RelationsAmong (bits %v) of %v: %v, reference %v after [7]", at, among.Words != nil, ids, got, want)
			}
		}
	}
}

// compareElements checks a batch read of elements (ElementsView or
// ElementRefs) against the reference's single reads.
func compareElements(t *testing.T, at time.Time, msn, psn graphstore.Snapshot, ids []graphstore.ID, name string, read func([]graphstore.ID, []*graphstore.Element) (bool, error)) {
	t.Helper()
	elems := make([]*graphstore.Element, len(ids))
	elemsOK, err := read(ids, elems)
	if err != nil {
		t.Fatalf("at %v %s: %v", at, name, err)
	}
	for i, id := range ids {
		want, _ := msn.Element(id)
		if !elemsOK || elems[i] == nil {
			got, err := psn.Element(id) // what the caller then reads
			if err != nil || (got == nil) != (want == nil) || got != nil && graphtest.FormatElement(got) != graphtest.FormatElement(want) {
				t.Fatalf("at %v element %d: Element %v, reference %v (%v)", at, id, got, want, err)
			}
			continue
		}
		if want == nil || graphtest.FormatElement(elems[i]) != graphtest.FormatElement(want) {
			t.Fatalf("at %v %s of %d: %s, reference %s", at, name, id, graphtest.FormatElement(elems[i]), graphtest.FormatElement(want))
		}
	}
}

// compareBatches reads every id up to beyond the largest the snapshot
// shows (components, relations and check states; live, deleted, not yet
// created or never used) through the batch and view reads, in a random
// order with repeats, and checks them against the reference's single
// reads: a row handed out must be the element live at the snapshot's time
// (nil only when the reference has none, or when the store holds it
// undecoded), a list exactly its adjacency.
func compareBatches(t *testing.T, at time.Time, msn, psn graphstore.Snapshot, comps []graphstore.ID) {
	t.Helper()
	bv, ok := psn.(graphstore.BatchViewer)
	if !ok {
		return
	}
	var top graphstore.ID
	for _, id := range comps {
		top = max(top, id)
		for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
			adj, _ := msn.Adjacent(id, ix, nil)
			for _, a := range adj {
				top = max(top, a.Relation)
			}
		}
	}
	var ids []graphstore.ID
	for id := graphstore.ID(1); id <= 2*top+8; id++ {
		ids = append(ids, id)
	}
	r := rand.New(rand.NewPCG(uint64(at.UnixNano()), 3))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = append(ids, ids[:len(ids)/3]...)
	compareElements(t, at, msn, psn, ids, "ElementsView", bv.ElementsView)
	if rv, ok := psn.(graphstore.RefViewer); ok {
		compareElements(t, at, msn, psn, ids, "ElementRefs", rv.ElementRefs)
	}
	for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		lists := make([][]graphstore.Adjacency, len(ids))
		listsOK, err := bv.AdjacentViews(ids, ix, lists)
		if err != nil {
			t.Fatalf("at %v AdjacentViews %s: %v", at, ix, err)
		}
		for i, id := range ids {
			want, _ := msn.Adjacent(id, ix, nil)
			if listsOK && !slices.Equal(lists[i], want) {
				t.Fatalf("at %v AdjacentViews %s of %d: %v, reference %v", at, ix, id, lists[i], want)
			}
			if l, ok, err := psn.(graphstore.AdjacencyViewer).AdjacentView(id, ix); err != nil || ok && !slices.Equal(l, want) {
				t.Fatalf("at %v AdjacentView %s of %d: %v, reference %v (%v)", at, ix, id, l, want, err)
			}
		}
	}
}

// comparePages reads a component's adjacency a page at a time, in pages of
// 1 and 2, and checks that the pages make up the whole list.
func comparePages(t *testing.T, at time.Time, id graphstore.ID, ix graphstore.Index, want []graphstore.Adjacency, psn graphstore.Snapshot) {
	t.Helper()
	for _, size := range []int{1, 2} {
		var got []graphstore.Adjacency
		var after graphstore.ID
		for {
			page, err := psn.AdjacentPage(id, ix, after, size, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < size {
				break
			}
			after = page[len(page)-1].Relation
		}
		if !slices.Equal(got, want) {
			t.Fatalf("at %v adjacent %d %s in pages of %d: %v, want %v", at, id, ix, size, got, want)
		}
	}
}

// compareSorted checks the sorted form of a set, when the snapshot hands
// it out, against the reference's postings.
func compareSorted(t *testing.T, at time.Time, psn graphstore.Snapshot, ix graphstore.Index, term string, want []graphstore.ID) {
	t.Helper()
	ids, ok, err := psn.(graphstore.SortedSetReader).PostingSorted(ix, term)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return
	}
	got := make([]graphstore.ID, 0, len(ids))
	for _, v := range ids {
		got = append(got, graphstore.ID(v))
	}
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("at %v sorted %s %q: %v, reference %v", at, ix, term, got, want)
	}
}

// compareSets checks every bitmap the snapshot hands out against the
// reference's postings.
func compareSets(t *testing.T, at time.Time, msn, psn graphstore.Snapshot) {
	t.Helper()
	sr, ok := psn.(graphstore.SetReader)
	if !ok {
		return
	}
	for ix := graphstore.IdxKind; ix <= graphstore.IdxSource; ix++ {
		var terms []string
		msn.Terms(ix, "", func(term string) error { terms = append(terms, term); return nil })
		for _, term := range append(terms, "no such term") {
			set, ok, err := sr.PostingSet(ix, term)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			want, _ := msn.Postings(ix, term)
			var got []graphstore.ID
			for _, v := range set.ToArray() {
				got = append(got, graphstore.ID(v))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("at %v bitmap %s %q: %v, reference %v", at, ix, term, got, want)
			}
			compareSorted(t, at, psn, ix, term, want)
		}
	}
}

// compareFeeds replays both change feeds from the horizon.
func compareFeeds(t *testing.T, ms, ps graphstore.Store) {
	t.Helper()
	from := ps.Horizon()
	mf, err := ms.Subscribe(from)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	pf, err := ps.Subscribe(from)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		me, merr := mf.Next(ctx)
		pe, perr := pf.Next(ctx)
		cancel()
		if merr != nil || perr != nil {
			// Both feeds must end the same way: waiting, past the last commit.
			if !errors.Is(merr, context.DeadlineExceeded) || !errors.Is(perr, context.DeadlineExceeded) {
				t.Fatalf("feeds end differently: reference %v, pebble %v", merr, perr)
			}
			return
		}
		if want, got := graphtest.FormatCommit(me), graphtest.FormatCommit(pe); want != got {
			t.Fatalf("feed commit differs:\nreference\n%s\npebble\n%s", want, got)
		}
	}
}
