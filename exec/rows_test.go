package exec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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
	pst, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	for name, st := range map[string]graphstore.Store{"pebble": pst, "memstore": memstore.New(memstore.Options{Now: graphtest.Clock, Retention: graphtest.Retention})} {
		t.Run(name, func(t *testing.T) {
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
	}
	var nilRows exec.Rows[exec.Component]
	if b, err := json.Marshal(nilRows); err != nil || string(b) != "null" || !nilRows.IsNil() || nilRows.Slice() != nil {
		t.Errorf("a nil list: %s, %v", b, err)
	}
	if b, err := json.Marshal(exec.RowsOf([]exec.Relation{})); err != nil || string(b) != "[]" {
		t.Errorf("an empty list: %s, %v", b, err)
	}
}

func checkRows[T exec.Component | exec.Relation](t *testing.T, l exec.Rows[T], n int) {
	t.Helper()
	all := l.Slice()
	if l.Len() != n || len(all) != n {
		t.Fatalf("%d rows, Slice %d, want %d", l.Len(), len(all), n)
	}
	seen := 0
	for i, row := range l.All() {
		if i != seen || !reflect.DeepEqual(row, l.At(i)) || !reflect.DeepEqual(row, all[i]) {
			t.Fatalf("row %d: All %+v, At %+v, Slice %+v", i, row, l.At(i), all[i])
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
