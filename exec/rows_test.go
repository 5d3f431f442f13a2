package exec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestRows: the rows of an answer the engine built (the store's elements)
// read alike through At, ID, All (which reads ahead a block at a time,
// so the answer spans several blocks, and stops where the loop breaks)
// and Slice, and as values (RowsOf) they read and encode the same.
func TestRows(t *testing.T) {
	eachStore(t, func(t *testing.T, st graphstore.Store) {
		graphtest.Apply(t, st, 10, func(b *graphstore.Batch) {
			for i := range 150 {
				b.PutComponent("s", fmt.Sprint(i), graphstore.ComponentData{Name: fmt.Sprint("c", i), Type: "t", Labels: []string{"x"}})
				if i > 0 {
					b.PutRelation("s", fmt.Sprint(i, ">", i-1), graphstore.RelationData{Type: "calls", SourceRef: fmt.Sprint(i), TargetRef: fmt.Sprint(i - 1)})
				}
			}
		})
		res, err := exec.New(st, exec.Options{Now: graphtest.Clock}).Query(context.Background(), `label = "x"`)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, res.Topology.Components, 150)
		checkRows(t, res.Topology.Relations, 149)
	})
	var nilRows exec.Rows[exec.Component]
	if b, err := json.Marshal(nilRows); err != nil || string(b) != "null" || !nilRows.IsNil() || nilRows.Slice() != nil {
		t.Errorf("a nil list: %s, %v", b, err)
	}
	if b, err := json.Marshal(exec.RowsOf([]exec.Relation{})); err != nil || string(b) != "[]" {
		t.Errorf("an empty list: %s, %v", b, err)
	}
}

// eachStore runs a test against an empty Pebble store (whose snapshots at
// the current time hand out the present graph's elements) and an empty
// reference store.
func eachStore(t *testing.T, test func(t *testing.T, st graphstore.Store)) {
	pst, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	t.Run("pebble", func(t *testing.T) { test(t, pst) })
	t.Run("memstore", func(t *testing.T) {
		test(t, memstore.New(memstore.Options{Now: graphtest.Clock, Retention: graphtest.Retention}))
	})
}

func checkRows[T exec.Component | exec.Relation](t *testing.T, l exec.Rows[T], n int) {
	t.Helper()
	all := l.Slice()
	if l.Len() != n || len(all) != n {
		t.Fatalf("%d rows, Slice %d, want %d", l.Len(), len(all), n)
	}
	seen := 0
	var dst T // Fill must set every field: it holds the previous row when it fills the next
	for i, row := range l.All() {
		if i != seen || !reflect.DeepEqual(row, l.At(i)) || !reflect.DeepEqual(row, all[i]) {
			t.Fatalf("row %d: All %+v, At %+v, Slice %+v", i, row, l.At(i), all[i])
		}
		if l.Fill(i, &dst); !reflect.DeepEqual(dst, row) {
			t.Fatalf("row %d: Fill %+v, All %+v", i, dst, row)
		}
		if id := reflect.ValueOf(row).FieldByName("ID").Uint(); id != l.ID(i) || i > 0 && id <= l.ID(i-1) {
			t.Fatalf("row %d: id %d, ID %d (the previous %d)", i, id, l.ID(i), l.ID(max(i-1, 0)))
		}
		if seen++; seen == 100 {
			break
		}
	}
	if seen != 100 {
		t.Fatalf("All yielded %d rows before the break, want 100", seen)
	}
	vals := exec.RowsOf(all)
	for i := range n {
		if vals.Fill(i, &dst); !reflect.DeepEqual(dst, all[i]) {
			t.Fatalf("row %d as a value: Fill %+v, want %+v", i, dst, all[i])
		}
	}
	a, errA := json.Marshal(l)
	b, errB := json.Marshal(vals)
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("the same rows as values encode differently:\n%s\n%s (%v, %v)", a, b, errA, errB)
	}
	var back exec.Rows[T]
	if err := json.Unmarshal(a, &back); err != nil || !reflect.DeepEqual(back.Slice(), all) {
		t.Fatalf("decoded back: %v", err)
	}
}

// TestRowsKeepTheirTime: a result refers to the store's elements instead
// of copying its rows, so its rows must still read as they were at the
// query's time after its snapshot is closed and later commits rename a
// component, relabel one out of the answer, delete another and retype a
// relation: the same result reads (and encodes) exactly as it did, while
// a new query sees the new graph.
func TestRowsKeepTheirTime(t *testing.T) { eachStore(t, checkRowsKeepTheirTime) }

func checkRowsKeepTheirTime(t *testing.T, st graphstore.Store) {
	comp := func(b *graphstore.Batch, ext, name, label string) {
		b.PutComponent("s", ext, graphstore.ComponentData{Name: name, Type: "service", Labels: []string{label}})
	}
	rel := func(b *graphstore.Batch, src, dst, typ string) {
		b.PutRelation("s", src+">"+dst, graphstore.RelationData{Type: typ, SourceRef: src, TargetRef: dst})
	}
	graphtest.Apply(t, st, 10, func(b *graphstore.Batch) {
		comp(b, "a", "a1", "x")
		comp(b, "b", "b1", "x")
		comp(b, "c", "c1", "x")
		rel(b, "a", "b", "calls")
		rel(b, "b", "c", "calls")
	})
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	read := func(res *exec.Result) (string, []byte) {
		t.Helper()
		var out []string
		for _, c := range res.Topology.Components.All() {
			out = append(out, c.Name+"["+strings.Join(c.Labels, ",")+"]")
		}
		for _, r := range res.Topology.Relations.All() {
			out = append(out, fmt.Sprintf("%d>%d:%s", r.Source, r.Target, r.Type))
		}
		doc, err := exec.AppendJSON(context.Background(), nil, res, exec.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " "), doc
	}
	query := func() *exec.Result {
		t.Helper()
		res, err := eng.Query(context.Background(), `label = "x"`)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	old := query()
	wantRows, wantDoc := read(old)
	if !strings.Contains(wantRows, "a1[x] b1[x] c1[x]") || !strings.Contains(wantRows, ":calls") {
		t.Fatalf("before the change: %q", wantRows)
	}
	graphtest.Apply(t, st, 20, func(b *graphstore.Batch) {
		comp(b, "a", "a2", "x")
		comp(b, "b", "b1", "y")
		b.DeleteComponent("s", "c")
		rel(b, "a", "b", "uses")
	})
	if got, _ := read(query()); got != "a2[x]" {
		t.Fatalf("a new query after the change: %q, want a2[x]", got)
	}
	gotRows, gotDoc := read(old)
	if gotRows != wantRows || !bytes.Equal(gotDoc, wantDoc) {
		t.Fatalf("the earlier result after the change reads\n%s\n%s\nwant, as at its time,\n%s\n%s", gotRows, gotDoc, wantRows, wantDoc)
	}
}
