package exec_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestHubStopsEarly: a component with 100,000 relations (a cluster, a
// shared database) is read a page at a time, so a query that goes over the
// element limit through it fails after reading a few pages, not the whole
// list; with the limit raised it returns the whole neighbourhood. Both with
// the present graph in memory and through Pebble.
func TestHubStopsEarly(t *testing.T) {
	spokes := 100_000
	if raceEnabled {
		spokes = 20_000 // still past the posting cache's cap: Pebble reads it a page at a time
	}
	for _, noIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-present-index=%v", noIndex), func(t *testing.T) {
			st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, NoSync: true, NoPresentIndex: noIndex})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			loadHub(t, st, spokes)
			g := &pagedGraph{Graph: st}
			eng := exec.New(g, exec.Options{Now: graphtest.Clock, MaxElements: 1000})
			_, err = eng.Query(context.Background(), `withNeighborsOf(components = (name = "hub"), direction = "up")`)
			var le *exec.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("through the hub: %v, want the element limit", err)
			}
			if n := g.read.Load(); n > 4000 {
				t.Fatalf("stopping at the limit of 1000 read %d of the hub's %d relations, want a few pages", n, spokes)
			}
			// A check of the answer, not of its speed: the race detector and a
			// loaded machine may take long over it.
			big := exec.New(st, exec.Options{Now: graphtest.Clock, MaxElements: 2 * spokes, Timeout: 10 * time.Minute})
			res, err := big.Query(context.Background(), `withNeighborsOf(components = (name = "hub"), direction = "up")`)
			if err != nil || res.Topology.Components.Len() != spokes+1 {
				t.Fatalf("with the limit raised: %v, want %d components", err, spokes+1)
			}
		})
	}
}

// loadHub writes a hub and n spokes that each depend on it.
func loadHub(t *testing.T, st *pebblestore.Store, n int) {
	ld, err := st.NewLoader(0)
	if err != nil {
		t.Fatal(err)
	}
	b := &graphstore.Batch{Time: graphtest.At(10)}
	b.PutComponent("s", "hub", graphstore.ComponentData{Name: "hub", Type: "cluster"})
	for i := range n {
		ext := fmt.Sprintf("spoke-%d", i)
		b.PutComponent("s", ext, graphstore.ComponentData{Name: ext, Type: "pod"})
		b.PutRelation("s", "r-"+ext, graphstore.RelationData{Type: "runs_on", SourceRef: ext, TargetRef: "hub"})
	}
	if _, err := ld.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := ld.Close(); err != nil {
		t.Fatal(err)
	}
}

// pagedGraph counts the adjacency entries its snapshots hand out.
type pagedGraph struct {
	exec.Graph
	read atomic.Int64
}

func (g *pagedGraph) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	sn, err := g.Graph.Snapshot(t)
	if err != nil {
		return nil, err
	}
	return &pagedSnapshot{Snapshot: sn, g: g}, nil
}

type pagedSnapshot struct {
	graphstore.Snapshot
	g *pagedGraph
}

func (s *pagedSnapshot) Adjacent(id graphstore.ID, ix graphstore.Index, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	n := len(dst)
	dst, err := s.Snapshot.Adjacent(id, ix, dst)
	s.g.read.Add(int64(len(dst) - n))
	return dst, err
}

func (s *pagedSnapshot) AdjacentPage(id graphstore.ID, ix graphstore.Index, after graphstore.ID, max int, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	n := len(dst)
	dst, err := s.Snapshot.AdjacentPage(id, ix, after, max, dst)
	s.g.read.Add(int64(len(dst) - n))
	return dst, err
}
