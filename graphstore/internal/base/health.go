package base

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tetrahq/tetra/graphstore"
)

// Health, planned incrementally. A component's own state is the most severe
// of its sources' and of the check states bound to it; its propagated state
// P is the least fixed point of
//
//	P(x) = own(x) ∨ ⋁ { P(d) : x depends on d, P(d) is DEVIATING or CRITICAL }
//
// where "depends on" follows traversable relations (ONE_WAY: source on
// target; BOTH: both ways; NONE: neither). Since only the own states of
// components seed severity, P(x) is the worst severe own state among the
// components x reaches through dependencies, or its own state if that is
// worse: cycles need no special care.
//
// A batch changes own states (sources, check states) and dependencies
// (relations put, withdrawn, re-resolved). Recomputing P for the whole graph
// would make every batch cost the size of the graph, so the planner updates
// it the way incremental view maintenance deletes and re-derives (DRed),
// with a support pointer per component to keep the deletion small:
//
//   - Support. Every component with a severe P records what it rests on:
//     nothing (its own state gives P) or one dependency d with P(d) = P(x).
//     Pointers are set when a state rises, so following them always ends at
//     a component whose own state gives the value (the chain is as old as
//     the rises that built it: no cycles). They are kept outside the
//     versions (the store's support table): history needs the states, only
//     the writer needs what they rest on.
//  1. Over-delete: a component whose own state fell while P rested on it,
//     or that lost the dependency P rested on, may lose its state; so may
//     every component whose support chain runs through one of those. That
//     set D is reset to its own state plus what its dependencies outside D
//     give (their chains are intact, so their states stand).
//  2. Re-derive and raise: every component in D, every component whose own
//     state rose or that is new, and every component that gained a
//     dependency passes its severe state on to its dependents, which take
//     a rise (and the riser as their support) and pass it on, until nothing
//     rises.
//
// A component outside D keeps at least its old state (its support chain is
// intact), so the raise pass reaches exactly the new least fixed point.
// Only components whose state could change are read: a hub turning CRITICAL
// visits its upward closure once; a component recovering visits the
// components whose state rested on it, not every component that also
// happens to be CRITICAL. The reference store (memstore) recomputes
// everything from scratch instead; the differential tests compare the two.

// hnode is what propagation knows of one component.
type hnode struct {
	alive      bool
	own        graphstore.HealthState // own state after the batch
	old        graphstore.HealthState // propagated state before (UNKNOWN when new)
	cur        graphstore.HealthState // propagated state as computed so far
	notified   graphstore.HealthState // the severe state its dependents have taken into account
	inD        bool
	edges      bool            // deps and dependents loaded
	deps       []graphstore.ID // the components it depends on
	dependents []graphstore.ID
	elem       *graphstore.Element // the committed version, for a component the batch left alone so far
	// The support P rests on (0: its own state): as committed once
	// loaded, then as set by this pass.
	support       graphstore.ID
	supportLoaded bool
	oldSupport    graphstore.ID // as committed, when loaded
	supportSet    bool          // this pass set support
}

// Sketch is what propagation needs of committed elements, told without
// loading them. A State that can implements it: the bulk loader, whose
// churn at a million components asks for tens of thousands of relations
// and components an hour that no cache holds (each a search of the LSM).
// Propagation asks it before Current; ok false sends it to Current.
type Sketch interface {
	// RelationEnds returns a live relation's resolved ends (0 while one
	// does not exist) and dependency direction.
	RelationEnds(id graphstore.ID) (src, dst graphstore.ID, dir graphstore.DependencyDirection, ok bool)
	// ComponentHealth returns a component's own and propagated state as
	// committed; alive is false when id is not a live component.
	ComponentHealth(id graphstore.ID) (own, propagated graphstore.HealthState, alive, ok bool)
}

// relEnds is what propagation needs of a committed relation.
type relEnds struct {
	src, dst graphstore.ID
	dir      graphstore.DependencyDirection
}

// propagation is the state of one batch's health pass.
type propagation struct {
	a         *applier
	nodes     map[graphstore.ID]*hnode
	rels      map[graphstore.ID]relEnds         // committed relations read so far: each is met from both ends
	pendingAt map[graphstore.ID][]graphstore.ID // component → relations of the batch traversable at it after the batch
	stack     []graphstore.ID                   // components whose rise their dependents have not seen yet
	sketch    Sketch                            // nil when the state has none
}

// severe is what a state passes on along a dependency.
func severe(h graphstore.HealthState) graphstore.HealthState {
	if h.Severe() {
		return h
	}
	return graphstore.HealthUnknown
}

// health recomputes the derived health of the components the batch
// touches: the check state of those whose bound check states changed, then
// the propagated state of those whose dependencies' states or whose
// dependencies changed.
func (a *applier) health() error {
	if err := a.checkStates(); err != nil {
		return err
	}
	p := &propagation{a: a, nodes: map[graphstore.ID]*hnode{}, rels: map[graphstore.ID]relEnds{},
		pendingAt: map[graphstore.ID][]graphstore.ID{}}
	p.sketch, _ = a.st.(Sketch)
	lower, raise := p.seeds()
	if err := p.overDelete(lower); err != nil {
		return err
	}
	if err := p.rederive(raise); err != nil {
		return err
	}
	return p.record()
}

// checkStates sets the check state (the worst bound check state) of every
// live component a check state of the batch was or is bound to.
func (a *applier) checkStates() error {
	bound := map[graphstore.ID][]graphstore.HealthState{} // component → states of the batch's checks bound to it
	var touched []graphstore.ID
	for _, w := range a.pending {
		if w.kind != graphstore.KindCheck {
			continue
		}
		if w.before != nil && w.before.SourceID != 0 {
			touched = append(touched, w.before.SourceID)
		}
		if len(w.contribs) > 0 && w.src != 0 {
			touched = append(touched, w.src)
			bound[w.src] = append(bound[w.src], w.contribs[0].Check.State)
		}
	}
	for _, id := range touched {
		ok, err := a.alive(id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		worst, err := a.committedCheckState(id)
		if err != nil {
			return err
		}
		for _, s := range bound[id] {
			worst = max(worst, s)
		}
		a.pending[id].checkState = worst
	}
	return nil
}

// committedCheckState returns the worst state of the committed check
// states bound to a component that the batch leaves alone.
func (a *applier) committedCheckState(id graphstore.ID) (graphstore.HealthState, error) {
	ids, err := a.st.Holders(graphstore.IdxBound, graphstore.IDTerm(id))
	if err != nil {
		return 0, err
	}
	worst := graphstore.HealthUnknown
	for _, cid := range ids {
		if _, ok := a.pending[cid]; ok {
			continue // counted from the batch, if still bound here
		}
		e, err := a.st.Current(cid)
		if err != nil {
			return 0, err
		}
		if e == nil || e.Check() == nil {
			return 0, internalErrorf("check state %d is bound to component %d but not live", cid, id)
		}
		worst = max(worst, e.Check().State)
	}
	return worst, nil
}

// ownState is a component's own state: its sources' worst and its check
// state.
func ownState(cs []graphstore.Contribution, checkState graphstore.HealthState) graphstore.HealthState {
	h := checkState
	for i := range cs {
		h = max(h, cs[i].Component.Health)
	}
	return h
}

// dependency is one "from depends on to" of a relation.
type dependency struct{ from, to graphstore.ID }

// dependencies returns what a relation version makes depend on what.
func dependencies(src, dst graphstore.ID, dir graphstore.DependencyDirection) []dependency {
	if src == 0 || dst == 0 || src == dst { // a component depending on itself changes nothing
		return nil
	}
	var out []dependency
	if dir.SourceDepends() {
		out = append(out, dependency{src, dst})
	}
	if dir.TargetDepends() {
		out = append(out, dependency{dst, src})
	}
	return out
}

// lowered is a component that may have lost what its state rests on: its
// own state, when via is 0, or its dependency on via.
type lowered struct{ id, via graphstore.ID }

// seeds returns the components that may have lost severity (own state
// fell, a dependency went away) and those that may gain it (own state rose,
// new, a dependency came), and indexes the batch's relations by endpoint.
//
// Everything here runs in id order: which dependency a state comes to rest
// on depends on the order of the rises, and two stores applying the same
// batches (Apply and the bulk loader, replicas of one log) must write the
// same bytes.
func (p *propagation) seeds() (lower []lowered, raise []graphstore.ID) {
	for _, id := range sortedKeys(p.a.pending) {
		w := p.a.pending[id]
		switch w.kind {
		case graphstore.KindComponent:
			if len(w.contribs) == 0 {
				continue
			}
			own := ownState(w.contribs, w.checkState)
			switch {
			case w.before == nil || own > w.before.Component().Health:
				raise = append(raise, id)
			case own < w.before.Component().Health:
				lower = append(lower, lowered{id: id})
			}
		case graphstore.KindRelation:
			var was []dependency
			if b := w.before; b != nil {
				was = dependencies(b.SourceID, b.TargetID, b.Relation().Dependency)
			}
			var is []dependency
			if len(w.contribs) > 0 {
				is = dependencies(w.src, w.dst, w.dep)
				if w.src != 0 && w.dst != 0 {
					p.pendingAt[w.src] = append(p.pendingAt[w.src], id)
					if w.dst != w.src {
						p.pendingAt[w.dst] = append(p.pendingAt[w.dst], id)
					}
				}
			}
			for _, d := range was {
				if !containsDep(is, d) {
					lower = append(lower, lowered{id: d.from, via: d.to})
				}
			}
			for _, d := range is {
				if !containsDep(was, d) {
					raise = append(raise, d.from)
				}
			}
		}
	}
	return lower, raise
}

func containsDep(l []dependency, d dependency) bool {
	for _, x := range l {
		if x == d {
			return true
		}
	}
	return false
}

// node returns what propagation knows of a component, loading it on first
// use: from the batch when it is pending, else from the committed graph.
func (p *propagation) node(id graphstore.ID) (*hnode, error) {
	if n := p.nodes[id]; n != nil {
		return n, nil
	}
	n := &hnode{}
	if w, ok := p.a.pending[id]; ok {
		if b := w.before; b != nil && b.Kind == graphstore.KindComponent {
			n.old = b.Propagated
		} else {
			n.supportLoaded = true // new: no support recorded
		}
		if w.kind == graphstore.KindComponent && len(w.contribs) > 0 {
			n.alive, n.own = true, ownState(w.contribs, w.checkState)
		}
	} else if err := p.committed(id, n); err != nil {
		return nil, err
	}
	// Outside D a component keeps at least its old state; its dependents
	// have taken that into account. An own state above it rests on itself.
	n.cur, n.notified = max(n.old, n.own), severe(n.old)
	if n.own > n.old {
		p.setSupport(n, 0)
	}
	p.nodes[id] = n
	return n, nil
}

// committed fills in a node the batch left alone so far: from the sketch
// when the state has one (the element is then read only if its state
// changes), else from its committed version.
func (p *propagation) committed(id graphstore.ID, n *hnode) error {
	if p.sketch != nil {
		if own, old, alive, ok := p.sketch.ComponentHealth(id); ok {
			n.alive = alive
			if alive {
				n.own, n.old = own, old
			}
			return nil
		}
	}
	e, err := p.a.st.Current(id)
	if err != nil {
		return err
	}
	if e != nil && e.Component() != nil {
		c := e.Component()
		n.alive, n.own, n.old, n.elem = true, c.Health, c.Propagated, e
	}
	return nil
}

// supportOf returns what a component's state rests on: as this pass set
// it, else as committed.
func (p *propagation) supportOf(id graphstore.ID, n *hnode) (graphstore.ID, error) {
	if err := p.loadSupport(id, n); err != nil {
		return 0, err
	}
	return n.support, nil
}

// loadSupport reads what a component's committed state rests on, once.
func (p *propagation) loadSupport(id graphstore.ID, n *hnode) error {
	if n.supportLoaded {
		return nil
	}
	via, err := p.a.st.Support(id)
	if err != nil {
		return err
	}
	n.oldSupport, n.supportLoaded = via, true
	if !n.supportSet {
		n.support = via
	}
	return nil
}

func (p *propagation) setSupport(n *hnode, via graphstore.ID) {
	n.support, n.supportSet = via, true
}

// raiseTo raises a component's state to what a dependency passes on, and
// makes that dependency its support; it reports whether it rose.
func (p *propagation) raiseTo(n *hnode, dep graphstore.ID, s graphstore.HealthState) bool {
	if s <= n.cur {
		return false
	}
	n.cur = s
	p.setSupport(n, dep)
	return true
}

// loadEdges fills a live component's dependencies and dependents as they
// are after the batch: its committed traversable relations the batch leaves
// alone, and the batch's relations traversable at it.
func (p *propagation) loadEdges(id graphstore.ID, n *hnode) error {
	if n.edges || !n.alive {
		return nil
	}
	n.edges = true
	add := func(src, dst graphstore.ID, dir graphstore.DependencyDirection) {
		for _, d := range dependencies(src, dst, dir) {
			switch id {
			case d.from:
				n.deps = append(n.deps, d.to)
			case d.to:
				n.dependents = append(n.dependents, d.from)
			}
		}
	}
	term := graphstore.IDTerm(id)
	for _, ix := range [...]graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		rels, err := p.a.st.Holders(ix, term)
		if err != nil {
			return err
		}
		for _, rel := range rels {
			if _, ok := p.a.pending[rel]; ok {
				continue // as the batch leaves it: below
			}
			r, err := p.relation(rel, id)
			if err != nil {
				return err
			}
			add(r.src, r.dst, r.dir)
		}
	}
	for _, rel := range p.pendingAt[id] {
		w := p.a.pending[rel]
		add(w.src, w.dst, w.dep)
	}
	return nil
}

// relation returns the ends and direction of a committed relation at a
// component, read once per batch.
func (p *propagation) relation(rel, at graphstore.ID) (relEnds, error) {
	if r, ok := p.rels[rel]; ok {
		return r, nil
	}
	if p.sketch != nil {
		if src, dst, dir, ok := p.sketch.RelationEnds(rel); ok {
			r := relEnds{src, dst, dir}
			p.rels[rel] = r
			return r, nil
		}
	}
	e, err := p.a.st.Current(rel)
	if err != nil {
		return relEnds{}, err
	}
	if e == nil || e.Relation() == nil {
		return relEnds{}, internalErrorf("relation %d is adjacent to component %d but not live", rel, at)
	}
	r := relEnds{e.SourceID, e.TargetID, e.Relation().Dependency}
	p.rels[rel] = r
	return r, nil
}

// overDelete finds the components that may have lost the state they had
// (the set D, see the top of this file): each lowered component whose state
// rested on what it lost, and upwards every component whose support is in D.
func (p *propagation) overDelete(lower []lowered) error {
	var queue []graphstore.ID
	for _, l := range lower {
		n, err := p.node(l.id)
		if err != nil {
			return err
		}
		if !n.alive {
			continue
		}
		via, err := p.supportOf(l.id, n)
		if err != nil {
			return err
		}
		if via == l.via {
			queue = append(queue, l.id)
		}
	}
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		n := p.nodes[id]
		if n.inD {
			continue
		}
		n.inD = true
		if !n.old.Severe() {
			continue // it passed nothing on
		}
		if err := p.loadEdges(id, n); err != nil {
			return err
		}
		for _, up := range n.dependents {
			un, err := p.node(up)
			if err != nil {
				return err
			}
			if un.inD {
				continue
			}
			via, err := p.supportOf(up, un)
			if err != nil {
				return err
			}
			if via == id {
				queue = append(queue, up)
			}
		}
	}
	return nil
}

// rederive computes the new propagated states: each component of D starts
// from its own state and what its dependencies outside D give, then every
// component that may have risen passes its state up until nothing rises.
func (p *propagation) rederive(raise []graphstore.ID) error {
	var inD []graphstore.ID
	for id, n := range p.nodes {
		if n.inD {
			inD = append(inD, id)
		}
	}
	slices.Sort(inD)
	for _, id := range inD {
		n := p.nodes[id]
		n.cur, n.notified = n.own, graphstore.HealthUnknown
		p.setSupport(n, 0)
		if err := p.loadEdges(id, n); err != nil {
			return err
		}
		for _, d := range n.deps {
			dn, err := p.node(d)
			if err != nil {
				return err
			}
			if !dn.inD { // a dependency in D passes its state on when it has it
				p.raiseTo(n, d, severe(dn.cur))
			}
		}
	}
	for _, id := range inD {
		p.notify(id)
	}
	for _, id := range raise {
		n, err := p.node(id)
		if err != nil {
			return err
		}
		if !n.alive {
			continue
		}
		if err := p.loadEdges(id, n); err != nil {
			return err
		}
		for _, d := range n.deps { // a gained dependency
			dn, err := p.node(d)
			if err != nil {
				return err
			}
			p.raiseTo(n, d, severe(dn.cur))
		}
		p.notify(id)
	}
	return p.drain()
}

// notify queues a component whose severe state its dependents have not
// taken into account yet.
func (p *propagation) notify(id graphstore.ID) {
	n := p.nodes[id]
	if s := severe(n.cur); s > n.notified {
		n.notified = s
		p.stack = append(p.stack, id)
	}
}

// drain passes rises up until none is left.
func (p *propagation) drain() error {
	for len(p.stack) > 0 {
		id := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		n := p.nodes[id]
		if err := p.loadEdges(id, n); err != nil {
			return err
		}
		s := severe(n.cur)
		for _, up := range n.dependents {
			un, err := p.node(up)
			if err != nil {
				return err
			}
			if p.raiseTo(un, id, s) {
				p.notify(up)
			}
		}
	}
	return nil
}

// record puts every live component whose propagated state changed into the
// plan, and every support that changed; a deleted component's support goes.
func (p *propagation) record() error {
	for id, w := range p.a.pending {
		if w.kind == graphstore.KindComponent && len(w.contribs) == 0 && w.before != nil {
			p.a.supports = append(p.a.supports, Support{ID: id})
		}
	}
	for id, n := range p.nodes {
		if !n.alive {
			continue
		}
		if n.supportSet {
			if err := p.loadSupport(id, n); err != nil {
				return err
			}
			if !n.cur.Severe() {
				n.support = 0 // nothing passed on rests on anything
			}
			if n.support != n.oldSupport {
				p.a.supports = append(p.a.supports, Support{ID: id, Via: n.support})
			}
		}
		w, pending := p.a.pending[id]
		if !pending && n.cur == n.old {
			continue
		}
		if !pending {
			e := n.elem // read once, in node, unless the sketch told its state
			if e == nil {
				var err error
				if e, err = p.a.st.Current(id); err != nil {
					return err
				}
				if e == nil || e.Component() == nil {
					return internalErrorf("component %d is live in the sketch but not in the store", id)
				}
			}
			w = p.a.adopt(id, graphstore.KindComponent, e)
		}
		w.propagated = n.cur
	}
	return nil
}

// internalErrorf reports committed data that contradicts itself: a bug or
// a damaged store, never bad input.
func internalErrorf(format string, args ...any) error {
	return fmt.Errorf("graphstore: inconsistent graph: "+format, args...)
}

// sortedKeys returns a map's ids in order.
func sortedKeys[V any](m map[graphstore.ID]V) []graphstore.ID {
	return slices.Sorted(maps.Keys(m))
}
