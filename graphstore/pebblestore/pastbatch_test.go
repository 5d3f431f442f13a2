package pebblestore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestPastBatchViews reads a small history through the batch reads of
// past snapshots (ElementsView, AdjacentViews, AdjacentView) one
// nanosecond before and at every commit: components created and deleted
// around the read time, a relation whose endpoint did not exist yet (not
// traversable until it does), one whose endpoint was deleted, one deleted
// itself, and a component changed. The rows must be the versions live at
// the read time, and once read they must come from the cache (so the
// batch, not the fallback, answers); the lists must be exactly the
// traversable relations at that time.
func TestPastBatchViews(t *testing.T) {
	for _, opts := range []pebblestore.Options{{}, {NoPresentIndex: true}} {
		t.Run(fmt.Sprintf("no-present-index=%v", opts.NoPresentIndex), func(t *testing.T) { pastBatchViews(t, opts) })
	}
}

func pastBatchViews(t *testing.T, opts pebblestore.Options) {
	opts.Now, opts.Retention, opts.NoSync = graphtest.Clock, graphtest.Retention, true
	st, err := pebblestore.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(sec int64, fill func(b *graphstore.Batch)) { t.Helper(); graphtest.Apply(t, st, sec, fill) }
	comp := func(b *graphstore.Batch, name string, labels ...string) {
		b.PutComponent("s", name, graphstore.ComponentData{Name: name, Type: "service", Labels: labels})
	}
	rel := func(b *graphstore.Batch, src, dst string) {
		b.PutRelation("s", src+">"+dst, graphstore.RelationData{Type: "calls", SourceRef: src, TargetRef: dst})
	}
	apply(10, func(b *graphstore.Batch) {
		comp(b, "a")
		comp(b, "b")
		comp(b, "c")
		rel(b, "a", "b")
		rel(b, "a", "e") // e does not exist yet
	})
	apply(20, func(b *graphstore.Batch) { comp(b, "d"); rel(b, "c", "d") })
	apply(30, func(b *graphstore.Batch) { comp(b, "e") })
	apply(40, func(b *graphstore.Batch) { b.DeleteComponent("s", "b") })
	apply(50, func(b *graphstore.Batch) { comp(b, "a", "x"); b.DeleteRelation("s", "c>d") })
	apply(60, func(b *graphstore.Batch) { comp(b, "f") }) // so that 50 is in the past
	firstListsThenRows(t, st, graphtest.At(35))

	// What each component is, and what its sides hold, at second sec
	// (a read one nanosecond before a commit sees the second before).
	want := func(sec int64) map[string]string {
		w := map[string]string{}
		live := func(from, to int64) bool { return from <= sec && sec < to }
		for _, c := range []struct {
			name     string
			from, to int64
		}{{"a", 10, 99}, {"b", 10, 40}, {"c", 10, 99}, {"d", 20, 99}, {"e", 30, 99}} {
			if live(c.from, c.to) {
				w[c.name] = "live"
			}
		}
		if sec >= 50 {
			w["a"] = "live [x]"
		}
		side := func(key string, rels ...string) {
			if len(rels) > 0 {
				w[key] = strings.Join(rels, " ")
			}
		}
		switch {
		case sec >= 40:
			side("a out", "a>e")
		case sec >= 30:
			side("a out", "a>b", "a>e")
		case sec >= 10:
			side("a out", "a>b")
		}
		if live(10, 40) {
			side("b in", "a>b")
		}
		if live(20, 50) {
			side("c out", "c>d")
			side("d in", "c>d")
		}
		if sec >= 30 {
			side("e in", "a>e")
		}
		return w
	}
	for _, sec := range []int64{10, 20, 30, 40, 50} {
		for _, at := range []time.Time{graphtest.At(sec).Add(-time.Nanosecond), graphtest.At(sec)} {
			wantSec := sec
			if at.Before(graphtest.At(sec)) {
				wantSec = sec - 1
			}
			sn, err := st.Snapshot(at)
			if err != nil {
				t.Fatal(err)
			}
			got := readBatches(t, sn)
			sn.Close()
			if w := want(wantSec); !mapsEqual(got, w) {
				t.Errorf("at %s: %v, want %v", graphtest.Sec(at), got, w)
			}
		}
	}
}

// readBatches reads every id up to a few past the last one used through
// the batch reads of sn, shuffled and repeated, and describes what it
// finds by name: "a" → "live" or "live [labels]", "a out" / "a in" → the
// relations of that side by external id.
func readBatches(t *testing.T, sn graphstore.Snapshot) map[string]string {
	t.Helper()
	bv := sn.(graphstore.BatchViewer)
	var ids []graphstore.ID
	for id := graphstore.ID(1); id <= 20; id++ {
		ids = append(ids, 21-id, id)
	}
	elems := make([]*graphstore.Element, len(ids))
	read := func() {
		t.Helper()
		if ok, err := bv.ElementsView(ids, elems); err != nil || !ok {
			t.Fatalf("ElementsView: ok %v, %v", ok, err)
		}
	}
	read()
	for i, id := range ids { // what the caller reads for an element the batch left out
		e, err := sn.Element(id)
		if err != nil {
			t.Fatal(err)
		}
		if elems[i] != nil && elems[i] != e {
			t.Fatalf("element %d: batch %v, Element %v", id, elems[i], e)
		}
	}
	read()
	got := map[string]string{}
	names := map[graphstore.ID]string{}
	for i, id := range ids {
		e, err := sn.Element(id)
		if err != nil {
			t.Fatal(err)
		}
		if elems[i] != e {
			t.Fatalf("element %d read before: batch %v, Element %v", id, elems[i], e)
		}
		if e == nil {
			continue
		}
		if c := e.Component(); c != nil {
			names[id] = c.Name
			got[c.Name] = "live"
			if len(c.Labels) > 0 {
				got[c.Name] = fmt.Sprintf("live %v", c.Labels)
			}
		} else if r := e.Relation(); r != nil {
			names[id] = r.Sources[0].ExternalID
		}
	}
	for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		lists := make([][]graphstore.Adjacency, len(ids))
		if ok, err := bv.AdjacentViews(ids, ix, lists); err != nil || !ok {
			t.Fatalf("AdjacentViews %s: ok %v, %v", ix, ok, err)
		}
		for i, id := range ids {
			l, ok, err := sn.(graphstore.AdjacencyViewer).AdjacentView(id, ix)
			if err != nil || !ok || !slices.Equal(l, lists[i]) {
				t.Fatalf("%s of %d: AdjacentView %v (%v, %v), AdjacentViews %v", ix, id, l, ok, err, lists[i])
			}
			var rels []string
			for _, a := range lists[i] {
				rels = append(rels, names[a.Relation])
				if names[a.Other] == "" {
					t.Fatalf("%s of %d: relation %d to %d, which is not a live component", ix, id, a.Relation, a.Other)
				}
			}
			if len(rels) > 0 {
				got[fmt.Sprintf("%s %s", names[id], map[graphstore.Index]string{graphstore.IdxOut: "out", graphstore.IdxIn: "in"}[ix])] = strings.Join(rels, " ")
			}
		}
	}
	return got
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// firstListsThenRows caches every element's chain through one snapshot's
// single reads (which load no adjacency), then reads lists through a
// fresh snapshot's batch before anything else: its chains come from the
// cache's index, and loading their sides from Pebble must work before
// the snapshot has looked anything up by itself.
func firstListsThenRows(t *testing.T, st graphstore.Store, at time.Time) {
	t.Helper()
	var ids []graphstore.ID
	for id := graphstore.ID(1); id <= 20; id++ {
		ids = append(ids, id)
	}
	warm, err := st.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := warm.Element(id); err != nil {
			t.Fatal(err)
		}
	}
	warm.Close()
	sn, err := st.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	lists := make([][]graphstore.Adjacency, len(ids))
	if ok, err := sn.(graphstore.BatchViewer).AdjacentViews(ids, graphstore.IdxOut, lists); err != nil || !ok {
		t.Fatalf("AdjacentViews first: ok %v, %v", ok, err)
	}
	for i, id := range ids {
		want, err := sn.Adjacent(id, graphstore.IdxOut, nil)
		if err != nil || !slices.Equal(lists[i], want) {
			t.Fatalf("out of %d: AdjacentViews %v, Adjacent %v (%v)", id, lists[i], want, err)
		}
	}
}
