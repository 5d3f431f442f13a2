package exec_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestReadAfterChange: a query at the current time answers from the
// store's present graph (its element slots, its adjacency lists handed out
// without a copy, one snapshot for planning and reading); after a commit
// that renames a component, moves another out of the answer, adds one and
// rewires the relations, the next query sees exactly the new graph, and a
// query AT a time before the commit still sees the old one.
func TestReadAfterChange(t *testing.T) {
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(sec int64, fill func(b *graphstore.Batch)) { t.Helper(); graphtest.Apply(t, st, sec, fill) }
	comp := func(b *graphstore.Batch, ext, name, label string) {
		b.PutComponent("s", ext, graphstore.ComponentData{Name: name, Type: "service", Labels: []string{label}})
	}
	rel := func(b *graphstore.Batch, src, dst string) {
		b.PutRelation("s", src+">"+dst, graphstore.RelationData{Type: "calls", SourceRef: src, TargetRef: dst})
	}
	apply(10, func(b *graphstore.Batch) {
		comp(b, "a", "a1", "x")
		comp(b, "b", "b1", "x")
		rel(b, "a", "b")
	})
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	answer := func(q string) string {
		t.Helper()
		res, err := eng.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		names := map[uint64]string{}
		for _, c := range res.Topology.Components.All() {
			names[c.ID] = c.Name
			out = append(out, c.Name+"["+strings.Join(c.Labels, ",")+"]")
		}
		slices.Sort(out)
		for _, r := range res.Topology.Relations.All() {
			out = append(out, fmt.Sprintf("%s>%s", names[r.Source], names[r.Target]))
		}
		return strings.Join(out, " ")
	}
	if got, want := answer(`label = "x"`), "a1[x] b1[x] a1>b1"; got != want {
		t.Fatalf("before the change: %q, want %q", got, want)
	}
	apply(20, func(b *graphstore.Batch) {
		comp(b, "a", "a2", "x")
		comp(b, "b", "b1", "y")
		comp(b, "c", "c1", "x")
		rel(b, "c", "a")
		b.DeleteRelation("s", "a>b")
	})
	if got, want := answer(`label = "x" AND type = "service"`), "a2[x] c1[x] c1>a2"; got != want {
		t.Fatalf("after the change: %q, want %q", got, want)
	}
	if got, want := answer(`label = "x" OR label = "y"`), "a2[x] b1[y] c1[x] c1>a2"; got != want {
		t.Fatalf("after the change, both labels: %q, want %q", got, want)
	}
	at := graphtest.At(15).Format("2006-01-02T15:04:05Z07:00")
	// A conjunction: the planner reads estimates for it, from a snapshot
	// of the latest commit, which must not serve the read in the past.
	if got, want := answer(`label = "x" AND type = "service" AT "`+at+`"`), "a1[x] b1[x] a1>b1"; got != want {
		t.Fatalf("AT before the change: %q, want %q", got, want)
	}
}
