package live

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/internal/querygen"
	"github.com/tetrahq/tetra/lang"
)

// maintainedQueries join the random ones: negations, globs, ids, IN lists,
// the shapes where a component enters or leaves a filter's answer by a
// change of any of its fields.
var maintainedQueries = []string{
	`NOT type = "pod"`,
	`label = "tier:*" AND NOT type = "pod"`,
	`name = "comp-1*" OR healthstate = "CRITICAL"`,
	`id = "3" OR id = "17" OR name IN ("comp-5", "comp-6")`,
	`NOT (environment = "production" OR label = "tier:web")`,
	`identifier = "urn:*"`,
}

// TestMaintainedAnswersMatchRerun differential-tests in-place maintenance
// against running the query: after every step of random commits (one at a
// time, or a burst of several taken while evaluations run, which coalesce),
// the answer of every maintained view equals the query run afresh at the
// latest commit, with and without a scope (so scoped keys and negations
// both go through the compiled filter). The hub's counters show that the
// answers were maintained, not run again.
func TestMaintainedAnswersMatchRerun(t *testing.T) {
	for name, open := range stores {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				differential(t, open(t), seed)
			})
		}
	}
}

func differential(t *testing.T, st graphstore.Store, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 60, Idents: 25}
	tick := 0
	commit := func() {
		tick++
		b := gen.Batch(1 + r.IntN(8))
		b.Time = graphtest.At(int64(100 * tick))
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		commit()
	}
	h := newHub(t, st, Limits{})
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	var scope lang.Expr
	if seed%2 == 1 {
		var err error
		if scope, err = lang.ParseFilter(scopes[int(seed/2)%len(scopes)]); err != nil {
			t.Fatal(err)
		}
	}
	qg := &querygen.Gen{R: r}
	queries := append([]string{}, maintainedQueries...)
	for len(queries) < len(maintainedQueries)+12 {
		q := qg.Expr()
		stmt, err := lang.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := eng.Matcher(stmt.(*lang.TopologyStmt), exec.QueryOptions{Scope: scope}); ok {
			queries = append(queries, q)
		}
	}
	keys := map[string]string{}
	for _, q := range queries {
		sub, err := h.Subscribe(context.Background(), Request{Query: q}, Session{Scope: scope})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		t.Cleanup(sub.Close)
		stmt, _ := lang.Parse(q)
		keys[q] = lang.Format(stmt) + "\x00" + lang.Format(scope)
	}
	check := func(when string) {
		t.Helper()
		syncHub(t, h)
		at := st.LastCommit()
		for _, q := range queries {
			var got *version
			maintained := false
			h.do(func() {
				if v := h.d.views[keys[q]]; v != nil {
					got, maintained = v.cur.Load(), v.maintained()
				}
			})
			if !maintained || got == nil {
				t.Fatalf("%s: %s is not a maintained view with an answer", when, q)
			}
			stmt, _ := lang.Parse(q)
			want, err := eng.RunWith(context.Background(), stmt, exec.QueryOptions{Now: at, Scope: scope})
			if err != nil {
				t.Fatal(err)
			}
			if d := diffResults(got.result, want.Topology); !d.Empty() {
				t.Fatalf("%s: %s: the maintained answer differs from the query run at %d:\n%s", when, q, at.UnixNano(), describe(d))
			}
			if !reflect.DeepEqual(got.result.Components.Slice(), want.Topology.Components.Slice()) ||
				!reflect.DeepEqual(got.result.Relations.Slice(), want.Topology.Relations.Slice()) {
				t.Fatalf("%s: %s: the maintained answer is not in the order of a query run", when, q)
			}
		}
	}
	check("after subscribing")
	before := int(evaluationsOf(h, "maintain"))
	for step := range 40 {
		for range 1 + r.IntN(3)*r.IntN(2) { // mostly one commit, sometimes a burst
			commit()
		}
		check(fmt.Sprintf("after step %d (commit %d)", step, tick))
	}
	if n := int(evaluationsOf(h, "maintain")) - before; n < 40 {
		t.Fatalf("%d answers maintained in place over 40 steps: the path under test hardly ran", n)
	}
}

func describe(d *Diff) string {
	var b []byte
	b, _ = (&Message{Type: TypeDiff, Diff: d}).AppendJSON(b, "")
	return string(b)
}

// A query that reads beyond each component (withNeighborsOf, in the query
// or the scope) is not maintained in place: it runs again when a change
// hits what it read.
func TestNeighbourhoodsAreNotMaintained(t *testing.T) {
	st := stores["memstore"](t)
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	for _, c := range []struct {
		query, scope string
		want         bool
	}{
		{`type = "service"`, ``, true},
		{`NOT label = "x" OR id = "4"`, `environment = "prod"`, true},
		{`withNeighborsOf(components = (name = "web"))`, ``, false},
		{`type = "service"`, `withNeighborsOf(components = (name = "web"))`, false},
	} {
		stmt, err := lang.Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		var scope lang.Expr
		if c.scope != "" {
			if scope, err = lang.ParseFilter(c.scope); err != nil {
				t.Fatal(err)
			}
		}
		_, ok, err := eng.Matcher(stmt.(*lang.TopologyStmt), exec.QueryOptions{Scope: scope})
		if err != nil || ok != c.want {
			t.Errorf("%s under %q: maintained %v (%v), want %v", c.query, c.scope, ok, err, c.want)
		}
	}
}

// evaluationsOf counts the hub's evaluations for a reason.
func evaluationsOf(h *Hub, reason string) float64 {
	return testutil.ToFloat64(h.metrics.evaluations.WithLabelValues(reason))
}
