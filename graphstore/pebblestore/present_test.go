package pebblestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestPresentIndex: a read at the current time answers from the in-memory
// index of the present graph; once a later commit lands, a snapshot opened
// before it stops using the index (which now reflects the later commit)
// and still reads its own time; the index survives reopening and a bulk
// load.
func TestPresentIndex(t *testing.T) {
	dir := t.TempDir()
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true}
	st, err := pebblestore.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	put := func(st graphstore.Store, sec int64, ext, label string) {
		t.Helper()
		b := &graphstore.Batch{Time: graphtest.At(sec)}
		b.PutComponent("s", ext, graphstore.ComponentData{Name: ext, Type: "service", Labels: []string{label}})
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	set := func(sn graphstore.Snapshot, term string) ([]uint32, bool) {
		t.Helper()
		s, ok, err := sn.(graphstore.SetReader).PostingSet(graphstore.IdxLabel, term)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return nil, false
		}
		return s.ToArray(), true
	}
	put(st, 10, "a", "blue")
	put(st, 20, "b", "blue")
	old, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if ids, ok := set(old, "blue"); !ok || !slices.Equal(ids, []uint32{1, 2}) {
		t.Fatalf("blue at now: %v (from memory: %v), want [1 2] from memory", ids, ok)
	}
	put(st, 30, "a", "green")
	if _, ok := set(old, "blue"); ok {
		t.Fatal("a snapshot opened before a commit still reads the index, which holds the commit")
	}
	if ids, _ := old.Postings(graphstore.IdxLabel, "blue"); !slices.Equal(ids, []graphstore.ID{1, 2}) {
		t.Fatalf("the older snapshot reads blue as %v, want [1 2]", ids)
	}
	old.Close()
	check := func(st *pebblestore.Store, what string) {
		t.Helper()
		sn, err := st.Snapshot(time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		if ids, ok := set(sn, "blue"); !ok || !slices.Equal(ids, []uint32{2}) {
			t.Fatalf("%s: blue %v (from memory: %v), want [2] from memory", what, ids, ok)
		}
	}
	check(st, "after the commit")
	st.Close()
	if st, err = pebblestore.Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(st, "reopened")
	ld, err := st.NewLoader(0)
	if err != nil {
		t.Fatal(err)
	}
	put(ld, 40, "c", "blue")
	if err := ld.Close(); err != nil {
		t.Fatal(err)
	}
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	if ids, ok := set(sn, "blue"); !ok || !slices.Equal(ids, []uint32{2, 3}) {
		t.Fatalf("after a bulk load: blue %v (from memory: %v), want [2 3] from memory", ids, ok)
	}
}

// TestPresentElements: reads at the current time load elements from the
// present graph's slots, which reads fill and commits rewrite; a snapshot
// opened before a commit still reads its own versions, and a deleted
// element is gone at once, whichever of a read and the writer filled its
// slot first. A budget of one byte holds nothing and reads still answer.
func TestPresentElements(t *testing.T) {
	for name, budget := range map[string]int64{"default": 0, "no-room": 1} {
		t.Run(name, func(t *testing.T) {
			st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention,
				NoSync: true, PresentElementBytes: budget})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			apply := func(sec int64, fill func(b *graphstore.Batch)) { t.Helper(); graphtest.Apply(t, st, sec, fill) }
			put := func(ext, typ string) func(*graphstore.Batch) {
				return func(b *graphstore.Batch) { b.PutComponent("s", ext, graphstore.ComponentData{Name: ext, Type: typ}) }
			}
			typeOf := func(sn graphstore.Snapshot, id graphstore.ID) string {
				t.Helper()
				e, err := sn.Element(id)
				if err != nil {
					t.Fatal(err)
				}
				if e == nil {
					return "gone"
				}
				return e.Component().Type
			}
			now := func() graphstore.Snapshot {
				sn, err := st.Snapshot(time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				return sn
			}
			apply(10, put("a", "service"))
			apply(20, put("b", "service"))
			sn := now()
			if got := typeOf(sn, 1) + " " + typeOf(sn, 2) + " " + typeOf(sn, 99); got != "service service gone" {
				t.Fatalf("at 20 (filling the slots): %s", got)
			}
			sn.Close()
			old := now()
			apply(30, put("a", "database")) // a's slot is filled: the writer replaces it
			apply(40, func(b *graphstore.Batch) { b.DeleteComponent("s", "b") })
			apply(50, put("c", "queue")) // a new element, never read
			sn = now()
			defer sn.Close()
			for range 2 { // the second round reads what the first filled
				if got := typeOf(sn, 1) + " " + typeOf(sn, 2) + " " + typeOf(sn, 3); got != "database gone queue" {
					t.Fatalf("at 50: %s", got)
				}
			}
			if got := typeOf(old, 1) + " " + typeOf(old, 2); got != "service service" {
				t.Fatalf("a snapshot of 20 read after later commits: %s", got)
			}
			versions := func(sn graphstore.Snapshot) (out []int64) {
				for id := graphstore.ID(1); id <= 3; id++ {
					v, err := sn.(graphstore.VersionReader).Version(id)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, v)
				}
				return out
			}
			if got, want := versions(sn), []int64{graphtest.At(30).UnixNano(), 0, graphtest.At(50).UnixNano()}; !slices.Equal(got, want) {
				t.Fatalf("versions at 50: %v, want %v", got, want)
			}
			if got, want := versions(old), []int64{graphtest.At(10).UnixNano(), graphtest.At(20).UnixNano(), 0}; !slices.Equal(got, want) {
				t.Fatalf("versions at 20: %v, want %v", got, want)
			}
			old.Close()
		})
	}
}

// TestPresentFile: closing the store writes the present graph to a file
// that the next open reads instead of rebuilding from Pebble, and the index
// read back is the one a rebuild makes. A file of another commit (the store
// was written without the index since) or a damaged one is rebuilt from.
func TestPresentFile(t *testing.T) {
	dir := t.TempDir()
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true}
	open := func(o pebblestore.Options) *pebblestore.Store {
		t.Helper()
		st, err := pebblestore.Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open(opts)
	sec := int64(0)
	commit := func(st *pebblestore.Store, n int) {
		t.Helper()
		for i := range n {
			sec += 10
			b := &graphstore.Batch{Time: graphtest.At(sec)}
			ext := fmt.Sprintf("c%d", i%7)
			b.PutComponent("s", ext, graphstore.ComponentData{Name: ext, Type: "service",
				Labels: []string{fmt.Sprintf("l%d", i%3), "all"}, Identifiers: []string{"urn:" + ext}})
			b.PutRelation("s", fmt.Sprintf("r%d", i), graphstore.RelationData{Type: "calls", SourceRef: ext,
				TargetRef: fmt.Sprintf("c%d", (i+3)%7)})
			if i%5 == 4 {
				b.DeleteComponent("s", fmt.Sprintf("c%d", (i+1)%7))
			}
			if _, err := st.Apply(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Enough for a set beyond the small form (a bitmap).
	for i := range 40 {
		sec += 10
		b := &graphstore.Batch{Time: graphtest.At(sec)}
		b.PutComponent("t", fmt.Sprintf("m%d", i), graphstore.ComponentData{Name: "m", Type: "pod"})
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	commit(st, 30)
	want, _ := st.DumpPresent()
	st.Close()
	rebuilt := func() string {
		t.Helper()
		if err := os.Rename(filepath.Join(dir, "tetra-present"), filepath.Join(dir, "aside")); err != nil {
			t.Fatal(err)
		}
		st := open(opts)
		dump, from := st.DumpPresent()
		if from != "build" {
			t.Fatalf("without the file the index came from %s", from)
		}
		st.Close()
		if err := os.Rename(filepath.Join(dir, "aside"), filepath.Join(dir, "tetra-present")); err != nil {
			t.Fatal(err)
		}
		return dump
	}
	if got := rebuilt(); got != want {
		t.Fatalf("rebuilt from Pebble:\n%s\nwant (the index kept by the writer):\n%s", got, want)
	}
	st = open(opts)
	if got, from := st.DumpPresent(); from != "file" || got != want {
		t.Fatalf("reopened: from %s\n%s\nwant from the file\n%s", from, got, want)
	}
	st.Close()

	// Written to without the index: the file is of an older commit.
	st = open(pebblestore.Options{Now: opts.Now, Retention: opts.Retention, NoSync: true, NoPresentIndex: true})
	commit(st, 3)
	st.Close()
	st = open(opts)
	got, from := st.DumpPresent()
	st.Close()
	if want = rebuilt(); from != "build" || got != want {
		t.Fatalf("after commits the file does not hold: from %s\n%s", from, got)
	}

	// Damaged: one byte changed.
	path := filepath.Join(dir, "tetra-present")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x40
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	st = open(opts)
	got, from = st.DumpPresent()
	st.Close()
	if from != "build" || got != want {
		t.Fatalf("with a damaged file: from %s\n%s", from, got)
	}
}

// TestAdjacentView: the shared adjacency lists a read at the current time
// gets without a copy follow every commit (a relation added, one deleted),
// equal what Adjacent copies; a snapshot opened before a commit gets its
// own time's list, from the component's chain; and a list handed out stays
// as it was when a later commit changes the component.
func TestAdjacentView(t *testing.T) {
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(sec int64, fill func(b *graphstore.Batch)) { t.Helper(); graphtest.Apply(t, st, sec, fill) }
	rel := func(b *graphstore.Batch, ext, dst string) {
		b.PutRelation("s", ext, graphstore.RelationData{Type: "calls", SourceRef: "a", TargetRef: dst})
	}
	apply(10, func(b *graphstore.Batch) {
		for _, c := range []string{"a", "b", "c"} {
			b.PutComponent("s", c, graphstore.ComponentData{Name: c, Type: "service"})
		}
		rel(b, "a>b", "b")
	})
	view := func(sn graphstore.Snapshot) ([]graphstore.Adjacency, bool) {
		t.Helper()
		l, ok, err := sn.(graphstore.AdjacencyViewer).AdjacentView(1, graphstore.IdxOut)
		if err != nil {
			t.Fatal(err)
		}
		copied, err := sn.Adjacent(1, graphstore.IdxOut, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok && !slices.Equal(l, copied) {
			t.Fatalf("AdjacentView %v, Adjacent %v", l, copied)
		}
		return slices.Clone(copied), ok
	}
	first, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	shared, _, _ := first.(graphstore.AdjacencyViewer).AdjacentView(1, graphstore.IdxOut)
	before := slices.Clone(shared)
	if l, ok := view(first); !ok || len(l) != 1 || l[0].Other != 2 {
		t.Fatalf("a's adjacency %v (from memory: %v), want one relation to b from memory", l, ok)
	}
	apply(20, func(b *graphstore.Batch) { rel(b, "a>c", "c") })
	if l, ok := view(first); !ok || len(l) != 1 || l[0].Other != 2 {
		t.Fatalf("a snapshot opened before a commit: %v (answered: %v), want its own time's one relation", l, ok)
	}
	if !slices.Equal(shared, before) {
		t.Fatalf("a list handed out changed under its reader: %v, was %v", shared, before)
	}
	now := func() graphstore.Snapshot {
		sn, err := st.Snapshot(time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sn.Close() })
		return sn
	}
	if l, ok := view(now()); !ok || len(l) != 2 || l[1].Other != 3 {
		t.Fatalf("after adding a>c: %v (from memory: %v), want relations to b and c from memory", l, ok)
	}
	apply(30, func(b *graphstore.Batch) { b.DeleteRelation("s", "a>b") })
	if l, ok := view(now()); !ok || len(l) != 1 || l[0].Other != 3 {
		t.Fatalf("after deleting a>b: %v (from memory: %v), want the relation to c from memory", l, ok)
	}
	if _, _, err := now().(graphstore.AdjacencyViewer).AdjacentView(1, graphstore.IdxLabel); err == nil {
		t.Fatal("AdjacentView of a label index: no error")
	}
}

// TestBatchViews: the batch reads of the present graph agree with the
// single reads id by id (elements read before are held, one not held is
// left for Element, one not live is nil; adjacency on both sides); a
// snapshot opened before a later commit gets none (ok false); wrong
// arguments and a closed snapshot are errors.
func TestBatchViews(t *testing.T) {
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(sec int64, fill func(b *graphstore.Batch)) { t.Helper(); graphtest.Apply(t, st, sec, fill) }
	apply(10, func(b *graphstore.Batch) {
		for _, c := range []string{"a", "b", "c", "d"} {
			b.PutComponent("s", c, graphstore.ComponentData{Name: c, Type: "service"})
		}
		b.PutRelation("s", "a>b", graphstore.RelationData{Type: "calls", SourceRef: "a", TargetRef: "b"})
		b.PutRelation("s", "c>a", graphstore.RelationData{Type: "calls", SourceRef: "c", TargetRef: "a"})
	})
	apply(20, func(b *graphstore.Batch) { b.DeleteComponent("s", "d") })
	now := func() graphstore.Snapshot {
		t.Helper()
		sn, err := st.Snapshot(time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sn.Close() })
		return sn
	}
	ids := []graphstore.ID{1, 2, 3, 4, 5, 6, 1 << 40}
	sn := now()
	for _, id := range []graphstore.ID{1, 2, 4, 5} {
		if _, err := sn.Element(id); err != nil {
			t.Fatal(err)
		}
	}
	bv := sn.(graphstore.BatchViewer)
	elems := make([]*graphstore.Element, len(ids))
	if ok, err := bv.ElementsView(ids, elems); err != nil || !ok {
		t.Fatalf("ElementsView: ok %v, %v", ok, err)
	}
	for i, id := range ids {
		want, err := sn.Element(id)
		if err != nil {
			t.Fatal(err)
		}
		read := id == 1 || id == 2 || id == 5 // live and read before: held
		switch {
		case elems[i] != nil && elems[i] != want, read && elems[i] == nil:
			t.Errorf("element %d: %p, Element %p", id, elems[i], want)
		case want == nil && elems[i] != nil:
			t.Errorf("element %d (not live): %v, want nil", id, elems[i])
		}
	}
	refs := make([]*graphstore.Element, len(ids))
	if ok, err := sn.(graphstore.RefViewer).ElementRefs(ids, refs); err != nil || !ok || !slices.Equal(refs, elems) {
		t.Fatalf("ElementRefs: %p, ok %v, %v; ElementsView %p", refs, ok, err, elems)
	}
	for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		lists := make([][]graphstore.Adjacency, len(ids))
		if ok, err := bv.AdjacentViews(ids, ix, lists); err != nil || !ok {
			t.Fatalf("AdjacentViews %s: ok %v, %v", ix, ok, err)
		}
		for i, id := range ids {
			want, err := sn.Adjacent(id, ix, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(lists[i], want) {
				t.Errorf("%s of %d: %v, Adjacent %v", ix, id, lists[i], want)
			}
		}
	}
	old := now()
	apply(30, func(b *graphstore.Batch) { b.PutComponent("s", "e", graphstore.ComponentData{Name: "e"}) })
	if ok, err := old.(graphstore.BatchViewer).ElementsView(ids[:1], elems[:1]); ok || err != nil {
		t.Fatalf("ElementsView of a snapshot before a commit: ok %v, %v", ok, err)
	}
	if ok, err := old.(graphstore.BatchViewer).AdjacentViews(ids[:1], graphstore.IdxOut, make([][]graphstore.Adjacency, 1)); ok || err != nil {
		t.Fatalf("AdjacentViews of a snapshot before a commit: ok %v, %v", ok, err)
	}
	bv = now().(graphstore.BatchViewer)
	if _, err := bv.ElementsView(ids, elems[:1]); err == nil {
		t.Error("ElementsView with too few places: no error")
	}
	if _, err := bv.AdjacentViews(ids[:1], graphstore.IdxLabel, make([][]graphstore.Adjacency, 1)); err == nil {
		t.Error("AdjacentViews of a label index: no error")
	}
	closed := now()
	closed.Close()
	if _, err := closed.(graphstore.BatchViewer).ElementsView(nil, nil); err == nil {
		t.Error("ElementsView on a closed snapshot: no error")
	}
}

// TestPostingSorted: the present graph hands out a set as a sorted slice
// while it has at most a thousand-odd ids, whether it is held as a small
// list or as a bitmap, and not beyond; the slice follows commits that
// grow a set past the bound and shrink it below, and reopening from the
// present graph's file.
func TestPostingSorted(t *testing.T) {
	dir := t.TempDir()
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true}
	st, err := pebblestore.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	label := func(sec int64, from, to int, l string) {
		t.Helper()
		b := &graphstore.Batch{Time: graphtest.At(sec)}
		for i := from; i < to; i++ {
			ext := fmt.Sprintf("c%d", i)
			b.PutComponent("s", ext, graphstore.ComponentData{Name: ext, Type: "service", Labels: []string{l}})
		}
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(st *pebblestore.Store, what, l string, wantSorted bool) {
		t.Helper()
		sn, err := st.Snapshot(time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		ids, ok, err := sn.(graphstore.SortedSetReader).PostingSorted(graphstore.IdxLabel, l)
		if err != nil || ok != wantSorted {
			t.Fatalf("%s: %s sorted %v (%v), want %v", what, l, ok, err, wantSorted)
		}
		want, err := sn.Postings(graphstore.IdxLabel, l)
		if err != nil {
			t.Fatal(err)
		}
		if ok && (len(ids) != len(want) || !slices.EqualFunc(ids, want, func(a uint32, b graphstore.ID) bool { return graphstore.ID(a) == b })) {
			t.Fatalf("%s: %s sorted %d ids, postings %d (or other ids)", what, l, len(ids), len(want))
		}
	}
	label(10, 0, 1000, "big")
	label(20, 0, 40, "mid") // moves 40 components from big to mid
	check(st, "first commits", "big", true)
	check(st, "first commits", "mid", true)
	label(30, 0, 10, "big")
	label(40, 1000, 1100, "big")
	check(st, "grown past the bound", "big", false)
	check(st, "grown past the bound", "mid", true)
	label(50, 1050, 1100, "mid")
	label(60, 0, 50, "small")
	check(st, "shrunk below it", "big", true)
	check(st, "shrunk below it", "small", true)
	st.Close()
	if st, err = pebblestore.Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, l := range []string{"big", "mid", "small", "none"} {
		check(st, "reopened", l, true)
	}
}
