package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/lang"
)

// runsStore is a Pebble store of components a…f, each with labels of
// their own, and relations between them; a and b carry label x and y, the
// others one of them, so that `label = "x"` and `label = "y"` answer lists
// of the same length that start with the same component.
func runsStore(t *testing.T) (*pebblestore.Store, *Engine) {
	t.Helper()
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	labels := map[string][]string{"a": {"x", "y"}, "b": {"x", "y"}, "c": {"x"}, "d": {"y"}, "e": {"x"}, "f": {"y"}}
	graphtest.Apply(t, st, 10, func(b *graphstore.Batch) {
		for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
			b.PutComponent("s", n, graphstore.ComponentData{Name: n, Type: "service", Labels: labels[n],
				Identifiers: []string{"urn:" + n}, Properties: json.RawMessage(`{"v":1}`)})
		}
		for _, r := range []string{"a>b", "b>c", "c>e", "a>d", "d>f", "b>e"} {
			b.PutRelation("s", r, graphstore.RelationData{Type: "uses", SourceRef: r[:1], TargetRef: r[2:]})
		}
	})
	return st, New(st, Options{Now: graphtest.Clock})
}

// runsAnswer runs q with RunJSON through cache three times (noting its
// lists, keeping them, writing them whole) and checks each document
// against AppendJSON of RunWith's result.
func runsAnswer(t *testing.T, eng *Engine, cache *EncodeCache, q string) []byte {
	t.Helper()
	stmt, err := lang.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.RunWith(context.Background(), stmt, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := encodeWith(t, res, nil)
	for i := range 3 {
		got, err := eng.RunJSON(context.Background(), nil, stmt, QueryOptions{}, EncodeOptions{Cache: cache})
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s, run %d (%v):\n%s\nwant\n%s", q, i, err, got, want)
		}
	}
	return want
}

// TestEncodeRunsKeptLists: lists written whole are the documents written
// element by element, when a list's first, middle or last element has a
// new version, when it loses an element, and when two queries answer lists
// of the same length that start with the same element; and the lists are
// kept (the test would pass vacuously otherwise).
func TestEncodeRunsKeptLists(t *testing.T) {
	st, eng := runsStore(t)
	cache := NewEncodeCache()
	for range 3 {
		runsAnswer(t, eng, cache, `label = "x"`)
		runsAnswer(t, eng, cache, `label = "y"`)
	}
	if cache.compRuns.bytes.Load() == 0 || cache.relRuns.bytes.Load() == 0 {
		t.Fatalf("no list kept: components %d bytes, relations %d", cache.compRuns.bytes.Load(), cache.relRuns.bytes.Load())
	}
	for i, edit := range []func(b *graphstore.Batch){
		func(b *graphstore.Batch) { // the middle of label x's list
			b.PutComponent("s", "c", graphstore.ComponentData{Name: "c", Type: "service", Labels: []string{"x"},
				Identifiers: []string{"urn:c"}, Properties: json.RawMessage(`{"v":2}`)})
		},
		func(b *graphstore.Batch) { // the first of both lists
			b.PutComponent("s", "a", graphstore.ComponentData{Name: "a2", Type: "service", Labels: []string{"x", "y"},
				Identifiers: []string{"urn:a"}})
		},
		func(b *graphstore.Batch) { // the last of label y's list, and a relation
			b.PutComponent("s", "f", graphstore.ComponentData{Name: "f", Type: "db", Labels: []string{"y"}, Identifiers: []string{"urn:f"}})
			b.PutRelation("s", "b>e", graphstore.RelationData{Type: "calls", SourceRef: "b", TargetRef: "e"})
		},
		func(b *graphstore.Batch) { b.DeleteComponent("s", "e") }, // label x's list loses its last
	} {
		before := string(runsAnswer(t, eng, cache, `label = "x"`)) + string(runsAnswer(t, eng, cache, `label = "y"`))
		graphtest.Apply(t, st, int64(20+10*i), edit)
		after := string(runsAnswer(t, eng, cache, `label = "x"`)) + string(runsAnswer(t, eng, cache, `label = "y"`))
		if before == after {
			t.Fatalf("edit %d changed neither answer", i)
		}
		// The past reads the versions before the edit, through the same cache.
		runsAnswer(t, eng, cache, fmt.Sprintf(`label = "x" AT "%s"`, graphtest.At(int64(15+10*i)).Format("2006-01-02T15:04:05Z07:00")))
	}
}

// TestEncodeRunsConcurrent: queries sharing one cache, and their plans,
// from several goroutines write the same documents (run it with -race).
func TestEncodeRunsConcurrent(t *testing.T) {
	_, eng := runsStore(t)
	cache := NewEncodeCache()
	queries := []string{`label = "x"`, `label = "y"`, `type = "service"`, `name in ("a", "b", "c")`}
	want := map[string][]byte{}
	for _, q := range queries {
		want[q] = runsAnswer(t, eng, NewEncodeCache(), q)
	}
	stmts := map[string]lang.Statement{} // one each, so their plans are shared too (planCache)
	for _, q := range queries {
		stmts[q], _ = lang.Parse(q)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				q := queries[(g+i)%len(queries)]
				got, err := eng.RunJSON(context.Background(), nil, stmts[q], QueryOptions{}, EncodeOptions{Cache: cache})
				if err != nil || !bytes.Equal(got, want[q]) {
					t.Errorf("%s (%v):\n%s\nwant\n%s", q, err, got, want[q])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEncodeRunsFewer: a list that ends before the elements it announced
// is written as the kept list's elements it matched.
func TestEncodeRunsFewer(t *testing.T) {
	var table runTable[graphstore.Component]
	els := make([]*graphstore.Component, 4)
	for i := range els {
		els[i] = &graphstore.Component{ID: graphstore.ID(i + 1)}
	}
	write := func(n int, upto int) []byte {
		var l runList[graphstore.Component]
		b := []byte("[")
		l.begin(&table, componentID, n, len(b))
		for i, el := range els[:upto] {
			var kept bool
			if b, kept = l.skip(el, b); kept {
				continue
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"id":%d}`, el.ID)
			l.wrote(el, len(b))
		}
		return l.end(b)
	}
	for range 2 { // noted, then kept
		if got := write(4, 4); string(got) != `[{"id":1},{"id":2},{"id":3},{"id":4}` {
			t.Fatalf("written element by element: %s", got)
		}
	}
	if table.find(els[0], 1, 4) == nil {
		t.Fatal("the list was not kept")
	}
	if got := write(4, 4); string(got) != `[{"id":1},{"id":2},{"id":3},{"id":4}` {
		t.Fatalf("kept, whole: %s", got)
	}
	if got := write(4, 2); string(got) != `[{"id":1},{"id":2}` {
		t.Fatalf("kept, two elements of four: %s", got)
	}
}

// TestEncodeRunsBudget: kept lists past runBudget are dropped, and the
// table's count of bytes stays the sum of its entries'.
func TestEncodeRunsBudget(t *testing.T) {
	var table runTable[graphstore.Component]
	json := bytes.Repeat([]byte("x"), runMaxBytes/2)
	for i := range 2 * runBudget / len(json) {
		src := []*graphstore.Component{{ID: graphstore.ID(i)}, {ID: graphstore.ID(i + 1)}}
		for range 2 {
			table.offer(src[0].ID, uint64(i), src, []int32{1, int32(len(json))}, json)
		}
		if got := table.bytes.Load(); got > runBudget {
			t.Fatalf("after %d lists: %d bytes kept, the budget is %d", i+1, got, runBudget)
		}
	}
	var sum int64
	for i := range table.slots {
		sum += table.slots[i].Load().size()
	}
	if got := table.bytes.Load(); got != sum || sum < runBudget/2 {
		t.Fatalf("counted %d bytes, the entries hold %d (budget %d)", got, sum, runBudget)
	}
}
