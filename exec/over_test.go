package exec_test

import (
	"context"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/lang"
)

// countingGraph counts the snapshots opened through it and the elements
// read through them.
type countingGraph struct {
	g         exec.Graph
	snapshots int
	elements  int
}

func (c *countingGraph) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	c.snapshots++
	s, err := c.g.Snapshot(t)
	if err != nil {
		return nil, err
	}
	return countingSnapshot{Snapshot: s, c: c}, nil
}

type countingSnapshot struct {
	graphstore.Snapshot
	c *countingGraph
}

func (s countingSnapshot) Element(id graphstore.ID) (*graphstore.Element, error) {
	s.c.elements++
	return s.Snapshot.Element(id)
}

// Over runs queries with the engine's options over another graph: every
// read goes through it, and the engine it came from is unchanged.
func TestOver(t *testing.T) {
	st := memstore.New(memstore.Options{Now: graphtest.Clock})
	defer st.Close()
	b := &graphstore.Batch{Time: graphtest.At(10)}
	b.PutComponent("s", "a", graphstore.ComponentData{Name: "a", Type: "service"})
	b.PutComponent("s", "b", graphstore.ComponentData{Name: "b", Type: "service"})
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	eng := exec.New(st, exec.Options{Now: graphtest.Clock, MaxElements: 1})
	stmt, err := lang.Parse(`type = "service"`)
	if err != nil {
		t.Fatal(err)
	}
	cg := &countingGraph{g: st}
	_, err = eng.Over(cg).Run(context.Background(), stmt)
	if _, ok := err.(*exec.LimitError); !ok {
		t.Fatalf("over another graph the engine's element limit of 1 should apply; got %v", err)
	}
	// The limit stops that query before it loads a component (it counts
	// the result's ids first): a query within the limit reads them.
	if _, err := eng.Over(cg).RunWith(context.Background(), stmt, exec.QueryOptions{MaxElements: 10}); err != nil {
		t.Fatal(err)
	}
	if cg.snapshots == 0 || cg.elements == 0 {
		t.Fatalf("the query read %d snapshots and %d elements through the graph it was given, want some of each", cg.snapshots, cg.elements)
	}
	before := *cg
	if _, err := eng.Run(context.Background(), stmt); err == nil {
		t.Fatal("the original engine should still apply its limit")
	}
	if cg.snapshots != before.snapshots {
		t.Fatal("the original engine read through the other graph")
	}
}
