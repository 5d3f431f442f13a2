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
// TQL topology statements (every key, both NOT forms, globs, nested
// withNeighborsOf with and without relationTypes, past times, CHANGES)
// through the engine on Pebble and on the reference store, with and without
// rewrites, and compares each answer with a brute-force interpreter of the
// AST written straight from docs/query-language.md.
func TestDifferential(t *testing.T) {
	seeds := uint64(6)
	if raceEnabled {
		seeds = 2
	}
	for seed := range seeds {
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
	// The same graph without the in-memory index of the present graph:
	// reads at the current time go through Pebble and the caches.
	pn, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour, NoSync: true, NoPresentIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pn.Close()
	// Odd seeds keep components apart, so that dependencies chain and
	// health propagates; even ones merge often.
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 25, Idents: 30, Sparse: seed%2 == 1}
	var times []time.Time
	for i := range 40 {
		b := gen.Batch(10)
		b.Time = graphtest.At(int64(100 * (i + 1)))
		times = append(times, b.Time)
		for _, st := range []graphstore.Store{ms, ps, pn} {
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
		"pebble/no-present":  exec.New(pn, exec.Options{Now: graphtest.Clock, MaxElements: 1 << 20}),
	}
	// With a small element limit: without neighbourhoods to expand, only the
	// result counts, so a query fits with the rewrites exactly when it fits
	// without them; with expansions, either plan may skip one the other
	// performs. Whenever both fit, the answers agree.
	small := []int{2, 4, 8}[seed%3]
	smallOn := exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: small})
	smallOff := exec.New(ps, exec.Options{Now: graphtest.Clock, MaxElements: small, Disabled: allOff})
	fitted := 0
	qg := &querygen.Gen{R: r, Changes: true, RelationTypes: true}
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
			checkRunJSON(t, eng, encodeCache(ps), src, stmt, exec.QueryOptions{}, res, nil)
			if got := summary(res); got != want {
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
			if got := summary(resOn); got != summary(resOff) || got != want {
				t.Fatalf("limit %d: %s: rewritten %s, unrewritten %s, reference %s", small, src, got, summary(resOff), want)
			}
		}
	}
	t.Logf("%d of the queries fit a limit of %d unrewritten", fitted, small)
	for _, name := range []string{"pebble", "pebble/no-present"} {
		compareHealth(t, r, engines[name], engines["memstore"], times)
	}
}

// compareHealth asks both stores' engines for the health of every id at
// random times: the component, its check states and degraded dependencies
// must agree.
func compareHealth(t *testing.T, r *rand.Rand, pe, me *exec.Engine, times []time.Time) {
	for range 5 {
		at := times[r.IntN(len(times))].Add(-time.Duration(r.Int64N(2)) * time.Second)
		for id := range uint64(120) {
			o := exec.QueryOptions{Now: at}
			ph, perr := pe.Health(context.Background(), id, o)
			mh, merr := me.Health(context.Background(), id, o)
			if perr != nil || merr != nil {
				t.Fatalf("health of %d at %v: pebble %v, reference %v", id, at, perr, merr)
			}
			if got, want := fmt.Sprintf("%+v", ph), fmt.Sprintf("%+v", mh); got != want {
				t.Fatalf("health of %d at %v:\npebble    %s\nreference %s", id, at, got, want)
			}
		}
	}
}

// summary prints a result as ids: the components (with their own and
// propagated health) and relations of a topology result; what CHANGES
// added, removed and changed (with the fields).
func summary(res *exec.Result) string {
	if c := res.Changes; c != nil {
		var cs, rs []string
		for _, x := range c.Changed.Components {
			cs = append(cs, fmt.Sprintf("%d%v", x.After.ID, x.Fields))
		}
		for _, x := range c.Changed.Relations {
			rs = append(rs, fmt.Sprintf("%d%v", x.After.ID, x.Fields))
		}
		return "added " + elementIDs(c.Added.Components, c.Added.Relations) +
			" removed " + elementIDs(c.Removed.Components, c.Removed.Relations) +
			" changed components [" + strings.Join(cs, " ") + "] relations [" + strings.Join(rs, " ") + "]"
	}
	return elementIDs(res.Topology.Components.Slice(), res.Topology.Relations.Slice())
}

func elementIDs(comps []exec.Component, rels []exec.Relation) string {
	var cs, rs []string
	for _, c := range comps {
		id := strconv.FormatUint(c.ID, 10)
		if c.HealthState != "" {
			id += ":" + c.HealthState + "/" + c.PropagatedHealthState
		}
		cs = append(cs, id)
	}
	for _, rel := range rels {
		rs = append(rs, strconv.FormatUint(rel.ID, 10))
	}
	return "components [" + strings.Join(cs, " ") + "] relations [" + strings.Join(rs, " ") + "]"
}

// ---- the reference interpreter ----

type refGraph struct {
	comps map[graphstore.ID]*graphstore.Component
	rels  []*graphstore.Relation // traversable ones, by id
	elems map[graphstore.ID]*graphstore.Element
}

// reference evaluates a topology statement by brute force on the reference
// store and prints the answer as summary does.
func reference(t *testing.T, st graphstore.Store, stmt *lang.TopologyStmt) string {
	now := graphtest.Clock()
	if stmt.Changes != nil {
		to := now
		if stmt.Changes.To != nil {
			to = stmt.Changes.To.Resolve(now)
		}
		return referenceChanges(t, st, stmt.Query, stmt.Changes.From.Resolve(now), to)
	}
	at := now
	if stmt.At != nil {
		at = stmt.At.Resolve(now)
	}
	g := loadRefGraph(t, st, at)
	set := g.eval(stmt.Query)
	var comps []exec.Component
	var rels []exec.Relation
	for _, id := range sortedIDs(set) {
		c := g.comps[id]
		comps = append(comps, exec.Component{ID: uint64(id), HealthState: c.Health.String(), PropagatedHealthState: c.Propagated.String()})
	}
	for _, rel := range g.among(set) {
		rels = append(rels, exec.Relation{ID: uint64(rel.ID)})
	}
	return elementIDs(comps, rels)
}

// loadRefGraph reads every live element at a time.
func loadRefGraph(t *testing.T, st graphstore.Store, at time.Time) *refGraph {
	snap, err := st.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	g := &refGraph{comps: map[graphstore.ID]*graphstore.Component{}, elems: map[graphstore.ID]*graphstore.Element{}}
	for _, kind := range []string{graphstore.TermComponent, graphstore.TermRelation} {
		ids, _ := snap.Postings(graphstore.IdxKind, kind)
		for _, id := range ids {
			e, _ := snap.Element(id)
			g.elems[id] = e
			if c := e.Component(); c != nil {
				g.comps[id] = c
			} else if e.Traversable() {
				g.rels = append(g.rels, e.Relation())
			}
		}
	}
	slices.SortFunc(g.rels, func(a, b *graphstore.Relation) int { return int(a.ID) - int(b.ID) })
	return g
}

// among returns the traversable relations with both ends in set, by id.
func (g *refGraph) among(set idSet) []*graphstore.Relation {
	var out []*graphstore.Relation
	for _, rel := range g.rels {
		if set[rel.Source] && set[rel.Target] {
			out = append(out, rel)
		}
	}
	return out
}

func sortedIDs(set idSet) []graphstore.ID {
	var out []graphstore.ID
	for id, in := range set {
		if in {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// referenceChanges evaluates CHANGES FROM t1 TO t2 as the language doc
// defines it: the query at both times; among the components it selects at
// either, those live only at t2 are added, only at t1 removed, at both with
// different fields changed; relations among them compared the same way.
func referenceChanges(t *testing.T, st graphstore.Store, q lang.Expr, t1, t2 time.Time) string {
	g1, g2 := loadRefGraph(t, st, t1), loadRefGraph(t, st, t2)
	all := g1.eval(q)
	for id := range g2.eval(q) {
		all[id] = true
	}
	var added, removed, changed [2][]string
	// shown prints an element as summary does: a component with its health.
	shown := func(e *graphstore.Element) string {
		if c := e.Component(); c != nil {
			return fmt.Sprintf("%d:%s/%s", c.ID, c.Health, c.Propagated)
		}
		return strconv.FormatUint(uint64(e.ID), 10)
	}
	diff := func(kind int, id graphstore.ID, before, after *graphstore.Element) {
		switch {
		case before == nil && after != nil:
			added[kind] = append(added[kind], shown(after))
		case before != nil && after == nil:
			removed[kind] = append(removed[kind], shown(before))
		case before != nil:
			if f := graphstore.ChangedFields(before, after); len(f) > 0 {
				changed[kind] = append(changed[kind], fmt.Sprintf("%d%v", id, f))
			}
		}
	}
	for _, id := range sortedIDs(all) {
		diff(0, id, g1.componentElement(id), g2.componentElement(id))
	}
	relIDs := idSet{}
	for _, g := range []*refGraph{g1, g2} {
		for _, rel := range g.among(all) {
			relIDs[rel.ID] = true
		}
	}
	for _, id := range sortedIDs(relIDs) {
		diff(1, id, g1.relationAmong(id, all), g2.relationAmong(id, all))
	}
	list := func(l []string) string { return "[" + strings.Join(l, " ") + "]" }
	return "added components " + list(added[0]) + " relations " + list(added[1]) +
		" removed components " + list(removed[0]) + " relations " + list(removed[1]) +
		" changed components [" + strings.Join(changed[0], " ") + "] relations [" + strings.Join(changed[1], " ") + "]"
}

func (g *refGraph) componentElement(id graphstore.ID) *graphstore.Element {
	if g.comps[id] == nil {
		return nil
	}
	return g.elems[id]
}

// relationAmong returns a relation's element when it is traversable with
// both ends in set.
func (g *refGraph) relationAmong(id graphstore.ID, set idSet) *graphstore.Element {
	e := g.elems[id]
	if e == nil || !e.Traversable() || !set[e.SourceID] || !set[e.TargetID] {
		return nil
	}
	return e
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
		return g.neighbours(g.seeds(e.Components), e.Levels, e.Direction, e.RelationTypes)
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
// up from target to source, both either way; with types, only relations
// whose type matches one of them, case-insensitively.
func (g *refGraph) neighbours(seeds idSet, levels int, dir lang.Direction, types []*lang.Value) idSet {
	out := idSet{}
	for id := range seeds {
		out[id] = true
	}
	frontier := seeds
	for range levels {
		next := idSet{}
		for _, rel := range g.rels {
			if types != nil && !slices.ContainsFunc(types, func(v *lang.Value) bool { return refValueMatch(v, rel.Type, false) }) {
				continue
			}
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
