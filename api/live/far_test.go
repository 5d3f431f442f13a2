package live

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/internal/topogen"
)

// A change far from a withNeighborsOf subscription's neighbourhood does
// not evaluate it again (counted), nor does a new relation between two far
// components; a change inside it does, once, and sends a diff.
func TestFarChangeDoesNotReevaluateNeighbourhood(t *testing.T) {
	st := pebble(t)
	cfg := topogen.Config{Components: 5000, RelationsPer: 3, BatchSize: 5000, Seed: 7, End: graphtest.At(3600)}
	if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	h := newHub(t, st, Limits{})
	c := dial(t, serve(t, h, Session{}))
	const query = `withNeighborsOf(components = (name = "c-10"), levels = "2")`
	c.subscribe("nb", query, nil)
	c.apply(c.must())
	inside := len(c.answers["nb"].comps)
	near := fresh(t, h.engine, `withNeighborsOf(components = (name = "c-10"), levels = "3")`, nil, st.LastCommit())
	var far []int
	for i := range cfg.Components {
		if _, ok := near.comps[componentID(t, st, i)]; !ok {
			far = append(far, i)
		}
	}
	if len(far) < 2 {
		t.Fatalf("no component is more than three hops from c-10")
	}
	t.Logf("the neighbourhood holds %d components; %d of %d are more than three hops away", inside, len(far), cfg.Components)

	r := rand.New(rand.NewPCG(1, 2))
	evals := h.changeEvaluations()
	b := &graphstore.Batch{Time: graphtest.At(4000)}
	b.PutComponent(topogen.Source, fmt.Sprint("c-", far[0]), topogen.Component(far[0], 1, r))
	b.PutRelation(topogen.Source, "far-link", graphstore.RelationData{Type: "depends_on",
		SourceRef: fmt.Sprint("c-", far[0]), TargetRef: fmt.Sprint("c-", far[1])})
	apply(t, st, b)
	syncHub(t, h)
	if n := h.changeEvaluations() - evals; n != 0 {
		t.Fatalf("a change %d+ hops away evaluated the neighbourhood %d times", 3, n)
	}
	if got := c.barrier(); len(got) != 0 {
		t.Fatalf("a far change sent %s", got[0].raw)
	}

	b = &graphstore.Batch{Time: graphtest.At(4001)}
	b.PutComponent(topogen.Source, "c-10", topogen.Component(10, 1, r))
	apply(t, st, b)
	syncHub(t, h)
	if n := h.changeEvaluations() - evals; n != 1 {
		t.Fatalf("a change of the seed evaluated the neighbourhood %d times, want 1", n)
	}
	if got := c.barrier(); len(got) != 1 || got[0].Type != "diff" {
		t.Fatalf("a change of the seed: %d messages, want one diff", len(got))
	}
}

// componentID is the id of topogen's component i, as results show it.
func componentID(t *testing.T, st graphstore.Store, i int) string {
	sn, err := st.Snapshot(st.LastCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	id, err := sn.LookupExternal(graphstore.KindComponent, topogen.Source, fmt.Sprint("c-", i))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(id)
}
