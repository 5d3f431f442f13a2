package pebblestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestConcurrentReads reads while a writer commits (at now and at past
// times, with small caches so fills and evictions race with the writer) and
// checks afterwards that every read saw exactly the graph the reference
// store has at that time. Run it with -race to check the caches' locking.
func TestConcurrentReads(t *testing.T) {
	opts := pebblestore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour, NoSync: true,
		ElementCacheBytes: 64 << 10, PostingCacheBytes: 64 << 10, PostingCacheMaxLen: 64}
	ps, err := pebblestore.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	gen := &graphtest.RandomHistory{R: rand.New(rand.NewPCG(9, 9)), Sources: 3, Exts: 20, Idents: 25}
	var batches []*graphstore.Batch
	for i := range 150 {
		b := gen.Batch(8)
		b.Time = graphtest.At(int64(10 * (i + 1)))
		batches = append(batches, b)
	}

	type read struct {
		at   time.Time
		dump string
	}
	var (
		mu    sync.Mutex
		reads []read
		done  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				var at time.Time
				if last := ps.LastCommit(); !last.IsZero() && r.IntN(2) == 0 {
					at = graphtest.Base.Add(time.Duration(r.Int64N(int64(last.Sub(graphtest.Base)) + 1)))
				}
				sn, err := ps.Snapshot(at)
				if err != nil {
					t.Error(err)
					return
				}
				dump, err := dumpAll(sn)
				shown := sn.Time()
				sn.Close()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				reads = append(reads, read{shown, dump})
				mu.Unlock()
			}
		}()
	}
	// A feed consumer follows the writer: every event must be the commit
	// as published (the reference's feed says what that is).
	feed, err := ps.Subscribe(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for len(events) < len(batches) {
			ev, err := feed.Next(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			events = append(events, graphtest.FormatCommit(ev))
		}
	}()
	for _, b := range batches {
		if _, err := ps.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	feed.Close()

	ms := memstore.New(memstore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour})
	for _, b := range batches {
		if _, err := ms.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	for _, rd := range reads {
		sn, err := ms.Snapshot(rd.at)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := dumpAll(sn)
		sn.Close()
		if want != rd.dump {
			t.Fatalf("a concurrent read at %s saw\n%s\nthe reference has\n%s", graphtest.Sec(rd.at), rd.dump, want)
		}
	}
	mf, err := ms.Subscribe(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	for i, got := range events {
		ev, err := mf.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := graphtest.FormatCommit(ev); want != got {
			t.Fatalf("feed event %d during the writes was\n%s\nthe reference has\n%s", i, got, want)
		}
	}
	t.Logf("%d concurrent reads and %d feed events checked", len(reads), len(events))
}

// dumpAll prints the graph, its adjacency and the postings of the indexes
// the present graph holds, at the snapshot's time; where the snapshot also
// hands out bitmaps, they must hold the same ids.
func dumpAll(sn graphstore.Snapshot) (string, error) {
	g, err := graphtest.DumpGraph(sn)
	if err != nil {
		return "", err
	}
	a, err := graphtest.DumpAdjacency(sn)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, ix := range []graphstore.Index{graphstore.IdxType, graphstore.IdxLabel, graphstore.IdxHealth, graphstore.IdxEnvironment, graphstore.IdxSource} {
		var terms []string
		if err := sn.Terms(ix, "", func(t string) error { terms = append(terms, t); return nil }); err != nil {
			return "", err
		}
		for _, term := range terms {
			ids, err := sn.Postings(ix, term)
			if err != nil {
				return "", err
			}
			if len(ids) > 0 {
				fmt.Fprintf(&b, "%s %q %v\n", ix, term, ids)
			}
			if sr, ok := sn.(graphstore.SetReader); ok {
				set, ok, err := sr.PostingSet(ix, term)
				if err != nil {
					return "", err
				}
				if ok && fmt.Sprint(set.ToArray()) != fmt.Sprint(ids) {
					fmt.Fprintf(&b, "bitmap of %s %q differs: %v\n", ix, term, set.ToArray())
				}
			}
		}
	}
	among, err := relationsAmong(sn)
	if err != nil {
		return "", err
	}
	return g + a + b.String() + among, nil
}

// relationsAmong relates every other component (by their ids' order) in one
// call when the snapshot can (graphstore.AmongReader), else from each
// list, and prints the relations found.
func relationsAmong(sn graphstore.Snapshot) (string, error) {
	comps, err := sn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	if err != nil || len(comps) == 0 {
		return "", err
	}
	var ids []graphstore.ID
	for i, id := range comps {
		if i%2 == 0 {
			ids = append(ids, id)
		}
	}
	lo := ids[0]
	words := make([]uint64, (ids[len(ids)-1]-lo)/64+1)
	for _, id := range ids {
		words[(id-lo)/64] |= 1 << ((id - lo) % 64)
	}
	if ar, ok := sn.(graphstore.AmongReader); ok {
		rels, ok, err := ar.RelationsAmong(ids, graphstore.Members{Lo: lo, Words: words}, nil)
		if err != nil || ok {
			return fmt.Sprintf("among %v\n", rels), err
		}
	}
	var rels []graphstore.ID
	for _, id := range ids {
		adj, err := sn.Adjacent(id, graphstore.IdxOut, nil)
		if err != nil {
			return "", err
		}
		for _, a := range adj {
			if a.Other >= lo && (a.Other-lo)/64 < graphstore.ID(len(words)) && words[(a.Other-lo)/64]&(1<<((a.Other-lo)%64)) != 0 {
				rels = append(rels, a.Relation)
			}
		}
	}
	return fmt.Sprintf("among %v\n", rels), nil
}
