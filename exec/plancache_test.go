package exec

import (
	"context"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/lang"
)

// TestPlanCache runs the same parsed statements again and again, at
// several start times (before and after the graph changes, and with
// relative AT times), with and without scopes, and compares every answer
// with a fresh engine's (which plans from scratch): a kept plan never
// answers for another time, scope or graph. It also checks that plans are
// kept, and only of statements without AT or CHANGES.
func TestPlanCache(t *testing.T) {
	st, eng := runsStore(t)
	graphtest.Apply(t, st, 3600, func(b *graphstore.Batch) {
		b.PutComponent("s", "g", graphstore.ComponentData{Name: "g", Type: "service", Labels: []string{"x"}, Identifiers: []string{"urn:g"}})
		b.DeleteComponent("s", "a")
	})
	parse := func(src string) lang.Statement {
		stmt, err := lang.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return stmt
	}
	stmts := []lang.Statement{parse(`label = "x"`), parse(`label = "x" AT "-30m"`), parse(`type = "service" and not name = "b"`),
		parse(`withNeighborsOf(components = (name = "c"), levels = "1")`), parse(`label = "y" CHANGES FROM "-2h"`)}
	scopes := []lang.Expr{nil, parse(`label = "y"`).(*lang.TopologyStmt).Query, parse(`name in ("c", "d", "g")`).(*lang.TopologyStmt).Query}
	for round := range 3 {
		for _, sec := range []int64{5, 20, 1800, 3700, 7200} {
			for _, scope := range scopes {
				for _, stmt := range stmts {
					o := QueryOptions{Now: graphtest.At(sec), Scope: scope}
					got, err := eng.RunWith(context.Background(), stmt, o)
					want, werr := New(st, Options{Now: graphtest.Clock}).RunWith(context.Background(), stmt, o)
					if (err == nil) != (werr == nil) || err == nil && summaryOf(got) != summaryOf(want) {
						t.Fatalf("round %d, %s at %ds, scope %v: kept plan %s (%v), fresh plan %s (%v)",
							round, lang.Format(stmt), sec, scope, summaryOf(got), err, summaryOf(want), werr)
					}
				}
			}
		}
	}
	eng.plans.mu.Lock()
	defer eng.plans.mu.Unlock()
	if want := 3 * len(scopes); len(eng.plans.m) != want {
		t.Fatalf("%d plans kept, want %d (3 statements without AT or CHANGES, 3 scopes)", len(eng.plans.m), want)
	}
}

// summaryOf names a result's components and relations.
func summaryOf(res *Result) string {
	if res == nil {
		return "<nil>"
	}
	b, err := AppendJSON(context.Background(), nil, res, EncodeOptions{})
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestPlanCacheFresh: a kept plan is made again once it is planFresh old.
func TestPlanCacheFresh(t *testing.T) {
	_, eng := runsStore(t)
	stmt, _ := lang.Parse(`label = "x" and type = "service"`)
	plan := func() *keptPlan {
		if _, err := eng.RunWith(context.Background(), stmt, QueryOptions{}); err != nil {
			t.Fatal(err)
		}
		eng.plans.mu.Lock()
		defer eng.plans.mu.Unlock()
		return eng.plans.m[planKey{stmt: stmt.(*lang.TopologyStmt)}]
	}
	first := plan()
	if first == nil || plan() != first {
		t.Fatal("the plan was not kept")
	}
	first.made = first.made.Add(-planFresh - time.Millisecond)
	if plan() == first {
		t.Fatal("a plan older than planFresh was used")
	}
}
