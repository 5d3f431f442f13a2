package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/querygen"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// TestDifferential builds random graphs with random histories, runs random
// STQL queries (every key, both NOT forms, globs, nested withNeighborsOf,
// past times) through the engine on Pebble and on the reference store, with
// and without rewrites, and compares each answer with a brute-force
// interpreter of the AST written straight from docs/query-language.md.
func TestDifferential(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { differential(t, seed) })
	}
}

func differential(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1234))
	ms := memstore.New(memstore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour})
	ps, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 25, Idents: 30}
	var times []time.Time
	for i := range 40 {
		b := gen.Batch(10)
		b.Time = graphtest.At(int64(100 * (i + 1)))
		times = append(times, b.Time)
		for _, st := range []graphstore.Store{ms, ps} {
			if _, err := st.Apply(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	allOff := map[string]bool{}
	for _, n := range planner.RuleNames() {
		allOff[n] = true
	}
	engines := map[string]*exec.Engine{
		"pebble":             exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: 1 << 20}),
		"memstore":           exec.New(ms, exec.Options{Now: graphtest.Clock, MaxElements: 1 << 20}),
		"pebble/no-rewrites": exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: 1 << 20, Disabled: allOff}),
	}
	// With a small element limit: without neighbourhoods to expand, only the
	// result counts, so a query fits with the rewrites exactly when it fits
	// without them; with expansions, either plan may skip one the other
	// performs. Whenever both fit, the answers agree.
	small := []int{2, 4, 8}[seed%3]
	smallOn := exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: small})
	smallOff := exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: small, Disabled: allOff})
	fitted := 0
	qg := &querygen.Gen{R: r}
	for range 150 {
		src := qg.Statement(times)
		stmt, err := lang.Parse(src)
		if err != nil {
			t.Fatalf("generated query does not parse: %s\n%s", src, lang.Render(src, err))
		}
		want := reference(t, ms, stmt.(*lang.TopologyStmt))
		for name, eng := range engines {
			res, err := eng.Run(context.Background(), stmt)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, src, err)
			}
			if got := summary(res.Topology); got != want {
				plan, _ := eng.Explain(stmt)
				t.Fatalf("%s differs from the reference for\n  %s\nengine:    %s\nreference: %s\nplan:\n%s", name, src, got, want, plan)
			}
		}
		resOff, errOff := smallOff.Run(context.Background(), stmt)
		resOn, errOn := smallOn.Run(context.Background(), stmt)
		var le *exec.LimitError
		for _, err := range []error{errOff, errOn} {
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("limit %d: %s: %v", small, src, err)
			}
		}
		expands := strings.Contains(strings.ToLower(src), "withneighborsof")
		if !expands && (errOff == nil) != (errOn == nil) {
			plan, _ := smallOn.Explain(stmt)
			t.Fatalf("limit %d: without expansions, fits unrewritten: %v, rewritten: %v\n  %s\nplan:\n%s", small, errOff == nil, errOn == nil, src, plan)
		}
		if errOff == nil {
			fitted++
		}
		if errOff == nil && errOn == nil {
			if got := summary(resOn.Topology); got != summary(resOff.Topology) || got != want {
				t.Fatalf("limit %d: %s: rewritten %s, unrewritten %s, reference %s", small, src, got, summary(resOff.Topology), want)
			}
		}
	}
	t.Logf("%d of the queries fit a limit of %d unrewritten", fitted, small)
}

func summary(r *exec.TopologyResult) string {
	var cs, rs []string
	for _, c := range r.Components {
		cs = append(cs, strconv.FormatUint(c.ID, 10))
	}
	for _, rel := range r.Relations {
		rs = append(rs, strconv.FormatUint(rel.ID, 10))
	}
	return "components [" + strings.Join(cs, " ") + "] relations [" + strings.Join(rs, " ") + "]"
}

// ---- the reference interpreter ----

type refGraph struct {
	comps map[graphstore.ID]*graphstore.Component
	rels  []*graphstore.Relation // traversable ones
}

// reference evaluates a topology statement by brute force on the reference
// store and prints the answer as summary does.
func reference(t *testing.T, st graphstore.Store, stmt *lang.TopologyStmt) string {
	at := graphtest.Clock()
	if stmt.At != nil {
		at = stmt.At.Resolve(graphtest.Clock())
	}
	snap, err := st.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	g := &refGraph{comps: map[graphstore.ID]*graphstore.Component{}}
	for _, kind := range []string{graphstore.TermComponent, graphstore.TermRelation} {
		ids, _ := snap.Postings(graphstore.IdxKind, kind)
		for _, id := range ids {
			e, _ := snap.Element(id)
			if c := e.Component(); c != nil {
				g.comps[id] = c
			} else if e.Traversable() {
				g.rels = append(g.rels, e.Relation())
			}
		}
	}
	set := g.eval(stmt.Query)
	var cs, rs []string
	for id := range set {
		cs = append(cs, strconv.FormatUint(uint64(id), 10))
	}
	for _, rel := range g.rels {
		if set[rel.Source] && set[rel.Target] {
			rs = append(rs, strconv.FormatUint(uint64(rel.ID), 10))
		}
	}
	byNum := func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y }
	slices.SortFunc(cs, byNum)
	slices.SortFunc(rs, byNum)
	return "components [" + strings.Join(cs, " ") + "] relations [" + strings.Join(rs, " ") + "]"
}

type idSet = map[graphstore.ID]bool

func (g *refGraph) all() idSet {
	s := idSet{}
	for id := range g.comps {
		s[id] = true
	}
	return s
}

func (g *refGraph) eval(e lang.Expr) idSet {
	switch e := e.(type) {
	case *lang.BinaryExpr:
		x, y := g.eval(e.X), g.eval(e.Y)
		out := idSet{}
		for id := range g.comps {
			switch e.Op {
			case lang.OpAnd:
				out[id] = x[id] && y[id]
			case lang.OpOr:
				out[id] = x[id] || y[id]
			case lang.OpExcept:
				out[id] = x[id] && !y[id]
			}
		}
		return prune(out)
	case *lang.NotExpr:
		x := g.eval(e.X)
		out := idSet{}
		for id := range g.comps {
			out[id] = !x[id]
		}
		return prune(out)
	case *lang.CompareExpr:
		out := idSet{}
		for id, c := range g.comps {
			m := refMatches(e, c)
			if e.Op == lang.CmpNe || e.Op == lang.CmpNotIn {
				m = !m
			}
			out[id] = m
		}
		return prune(out)
	case *lang.NeighborsExpr:
		return g.neighbours(g.seeds(e.Components), e.Levels, e.Direction)
	case *lang.CauseOfExpr:
		return g.seeds(e.Components)
	}
	panic(fmt.Sprintf("reference: %T", e))
}

func prune(s idSet) idSet {
	for id, in := range s {
		if !in {
			delete(s, id)
		}
	}
	return s
}

func (g *refGraph) seeds(e lang.Expr) idSet {
	if e == nil {
		return g.all()
	}
	return g.eval(e)
}

// neighbours follows relations level by level: down from source to target,
// up from target to source, both either way.
func (g *refGraph) neighbours(seeds idSet, levels int, dir lang.Direction) idSet {
	out := idSet{}
	for id := range seeds {
		out[id] = true
	}
	frontier := seeds
	for range levels {
		next := idSet{}
		for _, rel := range g.rels {
			if dir != lang.DirUp && frontier[rel.Source] && !out[rel.Target] {
				next[rel.Target] = true
			}
			if dir != lang.DirDown && frontier[rel.Target] && !out[rel.Source] {
				next[rel.Source] = true
			}
		}
		for id := range next {
			out[id] = true
		}
		frontier = next
	}
	return out
}

// refMatches: does any value of the key equal (or glob-match) any value of
// the comparison? "*" matches every component.
func refMatches(e *lang.CompareExpr, c *graphstore.Component) bool {
	var vals []string
	exact := false
	switch e.Key.Name {
	case "name":
		vals = []string{c.Name}
	case "type":
		vals = []string{c.Type}
	case "layer":
		vals = []string{c.Layer}
	case "domain":
		vals = []string{c.Domain}
	case "healthstate":
		vals = []string{c.Health.String()}
	case "environment":
		vals = c.Environments
	case "label":
		vals = c.Labels
	case "identifier":
		vals, exact = c.Identifiers, true
	case "id":
		vals, exact = []string{strconv.FormatUint(uint64(c.ID), 10)}, true
	}
	for _, v := range e.Values {
		if v.IsWildcard() {
			return true
		}
		for _, have := range vals {
			if refValueMatch(v, have, exact) {
				return true
			}
		}
	}
	return false
}

func refValueMatch(v *lang.Value, have string, exact bool) bool {
	if !v.IsGlob() {
		if exact {
			return v.Text == have
		}
		return strings.EqualFold(v.Text, have)
	}
	parts := make([]string, len(v.Pattern))
	for i, p := range v.Pattern {
		parts[i] = regexp.QuoteMeta(p)
	}
	expr := "^" + strings.Join(parts, ".*") + "$"
	if !exact {
		expr = "(?i)" + expr
	}
	return regexp.MustCompile("(?s)" + expr).MatchString(have)
}

// ---- random queries ----
