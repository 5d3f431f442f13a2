package memstore

import (
	"cmp"
	"reflect"
	"slices"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// world is the graph as of the last commit, as a batch changes it: every
// element ever written with its current contributions (none: deleted) and
// resolved endpoints. It is rebuilt from the history for every batch, so
// nothing about it is incremental.
type world struct {
	elems    map[graphstore.ID]*welem
	before   map[graphstore.ID]*graphstore.Element // committed versions (nil: absent or deleted)
	external map[extKey]graphstore.ID
	nextID   graphstore.ID
	// replaced holds, by stream replaced in the batch, the check states it
	// had then, by id: each is withdrawn, and one put again with the same
	// data gets its contribution back as it was (its update time too).
	replaced map[string]map[string]graphstore.Contribution
}

type welem struct {
	kind     graphstore.Kind
	contribs []graphstore.Contribution
	src, dst graphstore.ID // a relation's endpoints; a check state's component in src
	// A component's derived health, recomputed from scratch by health().
	checkState, propagated graphstore.HealthState
}

func (s *Store) world() *world {
	w := &world{elems: map[graphstore.ID]*welem{}, before: map[graphstore.ID]*graphstore.Element{},
		external: maps(s.external), nextID: s.nextID}
	for id := range s.history {
		e := s.at(id, s.last)
		w.before[id] = e
		we := &welem{}
		if e != nil {
			we.kind, we.contribs, we.src, we.dst = e.Kind, slices.Clone(e.Contribs), e.SourceID, e.TargetID
			we.checkState, we.propagated = e.CheckState, e.Propagated
		}
		w.elems[id] = we
	}
	return w
}

func maps(m map[extKey]graphstore.ID) map[extKey]graphstore.ID {
	out := make(map[extKey]graphstore.ID, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (w *world) apply(op *graphstore.Op) {
	switch op.Kind {
	case graphstore.OpPutComponent:
		w.putComponent(op)
	case graphstore.OpDeleteComponent:
		w.withdraw(graphstore.KindComponent, op)
	case graphstore.OpPutRelation:
		w.putRelation(op)
	case graphstore.OpDeleteRelation:
		w.withdraw(graphstore.KindRelation, op)
	case graphstore.OpPutCheck:
		w.putCheck(op)
	case graphstore.OpDeleteCheck:
		w.withdraw(graphstore.KindCheck, op)
	case graphstore.OpReplaceStream:
		w.replaceStream(op.Source)
	}
}

// replaceStream withdraws every live check state of the stream, keeping
// what each said so that a put of the same data later in the batch leaves
// it as it was.
func (w *world) replaceStream(stream string) {
	if w.replaced == nil {
		w.replaced = map[string]map[string]graphstore.Contribution{}
	}
	if w.replaced[stream] == nil {
		w.replaced[stream] = map[string]graphstore.Contribution{}
	}
	for _, e := range w.elems {
		if e.kind == graphstore.KindCheck && len(e.contribs) == 1 && e.contribs[0].Source == stream {
			c := e.contribs[0]
			if _, seen := w.replaced[stream][c.ExternalID]; !seen || c.Updated != -1 {
				w.replaced[stream][c.ExternalID] = c
			}
			e.contribs = nil
		}
	}
}

func (w *world) alive(id graphstore.ID) bool {
	e := w.elems[id]
	return e != nil && len(e.contribs) > 0
}

// elem returns an element's state, creating it for a new id.
func (w *world) elem(id graphstore.ID, kind graphstore.Kind) *welem {
	e := w.elems[id]
	if e == nil {
		e = &welem{kind: kind}
		w.elems[id] = e
	}
	if len(e.contribs) == 0 {
		e.kind = kind // an id comes back as what it is put as
	}
	return e
}

// identifiers returns every identifier a live component holds: those its
// sources give and their external ids.
func identifiers(e *welem) []string {
	var out []string
	for _, c := range e.contribs {
		out = append(out, c.ExternalID)
		out = append(out, c.Component.Identifiers...)
	}
	return out
}

// holders returns the live components holding any of idents, ascending.
func (w *world) holders(idents []string) []graphstore.ID {
	var out []graphstore.ID
	for id, e := range w.elems {
		if e.kind != graphstore.KindComponent || len(e.contribs) == 0 {
			continue
		}
		for _, have := range identifiers(e) {
			if slices.Contains(idents, have) {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// putComponent: the source's contribution goes to the component it already
// describes if that is alive, else to the lowest live component holding one
// of its identifiers, else back to its old id or to a new one; every other
// live component holding one of them is merged into it.
func (w *world) putComponent(op *graphstore.Op) {
	key := extKey{graphstore.KindComponent, op.Source, op.ExternalID}
	existing := w.external[key]
	matches := w.holders(append(slices.Clone(op.Component.Identifiers), op.ExternalID))
	var target graphstore.ID
	switch {
	case existing != 0 && w.alive(existing):
		target = existing
	case len(matches) > 0:
		target = matches[0]
	case existing != 0:
		target = existing
	default:
		target = w.nextID
		w.nextID++
	}
	into := w.elem(target, graphstore.KindComponent)
	for _, m := range matches {
		if m == target {
			continue
		}
		from := w.elems[m]
		for _, c := range from.contribs {
			upsert(into, c, 0)
			w.external[extKey{graphstore.KindComponent, c.Source, c.ExternalID}] = target
		}
		from.contribs = nil
	}
	upsert(into, graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Component: op.Component}, 1)
	w.external[key] = target
}

func (w *world) putRelation(op *graphstore.Op) {
	w.putReferrer(op, graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Relation: op.Relation})
}

// putCheck sets a stream's check state: like a relation, an element of its
// own, named by (stream, check state id).
func (w *world) putCheck(op *graphstore.Op) {
	c := graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Check: op.Check}
	if old, ok := w.replaced[op.Source][op.ExternalID]; ok && old.Updated != -1 && sameData(&old, &c) {
		c = old // put again unchanged since its commit: as it was
		id := w.external[extKey{graphstore.KindCheck, op.Source, op.ExternalID}]
		w.elem(id, graphstore.KindCheck).contribs = []graphstore.Contribution{c}
		return
	}
	w.putReferrer(op, c)
}

// putReferrer sets the contribution of an element that refers to
// components (a relation, a check state) under its external id.
func (w *world) putReferrer(op *graphstore.Op, c graphstore.Contribution) {
	kind := op.Kind.ElementKind()
	key := extKey{kind, op.Source, op.ExternalID}
	id := w.external[key]
	if id == 0 {
		id = w.nextID
		w.nextID++
	}
	upsert(w.elem(id, kind), c, 1)
	w.external[key] = id
}

// withdraw removes the source's contribution from the element its external
// id names, if it is there.
func (w *world) withdraw(kind graphstore.Kind, op *graphstore.Op) {
	e := w.elems[w.external[extKey{kind, op.Source, op.ExternalID}]]
	if e == nil {
		return
	}
	e.contribs = slices.DeleteFunc(e.contribs, func(c graphstore.Contribution) bool {
		return c.Source == op.Source && c.ExternalID == op.ExternalID
	})
}

// upsert sets a contribution, kept in (source, external id) order. A
// contribution whose data is unchanged keeps its update time; a changed or
// new one is marked for stamping (stamp 1, replaced by the commit time in
// changes) unless it carries its own (moved by a merge: stamp 0).
func upsert(e *welem, c graphstore.Contribution, stamp int64) {
	if stamp != 0 {
		c.Updated = -1
	}
	for i := range e.contribs {
		old := &e.contribs[i]
		if old.Source != c.Source || old.ExternalID != c.ExternalID {
			continue
		}
		if sameData(old, &c) {
			return
		}
		e.contribs[i] = c
		return
	}
	e.contribs = append(e.contribs, c)
	slices.SortFunc(e.contribs, func(a, b graphstore.Contribution) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.ExternalID, b.ExternalID))
	})
}

// resolveRefs points every live relation at the live components holding
// its source and target references now, and every live check state at the
// one holding its identifier (0: none).
func (w *world) resolveRefs() {
	for id, e := range w.elems {
		switch {
		case len(e.contribs) == 0:
			e.src, e.dst = 0, 0
		case e.kind == graphstore.KindRelation:
			view := graphstore.NewElement(id, graphstore.KindRelation, 0, e.contribs, 0, 0).Relation()
			e.src, e.dst = w.holderOf(view.SourceRef), w.holderOf(view.TargetRef)
		case e.kind == graphstore.KindCheck:
			e.src = w.holderOf(e.contribs[0].Check.Identifier)
		}
	}
}

// health recomputes every live component's derived health from scratch, as
// docs/query-language.md defines it: the check state is the worst state of
// the live check states bound to it; the propagated state is the worst of
// its own state and of the DEVIATING or CRITICAL own states of every
// component it reaches by following dependencies (a least fixed point of
// "the worst of its own and of what it depends on passes on" is exactly
// that, cycles included).
func (w *world) health() {
	own := map[graphstore.ID]graphstore.HealthState{}
	for id, e := range w.elems {
		if e.kind != graphstore.KindComponent || len(e.contribs) == 0 {
			continue
		}
		e.checkState = graphstore.HealthUnknown
		for _, c := range w.elems {
			if c.kind == graphstore.KindCheck && len(c.contribs) > 0 && c.src == id {
				e.checkState = max(e.checkState, c.contribs[0].Check.State)
			}
		}
		own[id] = graphstore.NewComponentElement(id, 0, e.contribs, e.checkState, 0).Component().Health
	}
	dependsOn := map[graphstore.ID][]graphstore.ID{}
	for id, e := range w.elems {
		if e.kind != graphstore.KindRelation || len(e.contribs) == 0 || e.src == 0 || e.dst == 0 {
			continue
		}
		dir := graphstore.NewElement(id, graphstore.KindRelation, 0, e.contribs, 0, 0).Relation().Dependency
		if dir.SourceDepends() {
			dependsOn[e.src] = append(dependsOn[e.src], e.dst)
		}
		if dir.TargetDepends() {
			dependsOn[e.dst] = append(dependsOn[e.dst], e.src)
		}
	}
	for id, h := range own {
		p := h
		for reached := range reach(id, dependsOn) {
			if o := own[reached]; o.Severe() {
				p = max(p, o)
			}
		}
		w.elems[id].propagated = p
	}
}

// reach returns every component reachable from id through dependencies.
func reach(id graphstore.ID, dependsOn map[graphstore.ID][]graphstore.ID) map[graphstore.ID]bool {
	seen := map[graphstore.ID]bool{}
	stack := []graphstore.ID{id}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range dependsOn[x] {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return seen
}

func (w *world) holderOf(ref string) graphstore.ID {
	if h := w.holders([]string{ref}); len(h) > 0 {
		return h[0]
	}
	return 0
}

// changes compares every element with its committed version and returns
// what the commit at ts does, by id.
func (w *world) changes(ts int64) []graphstore.Change {
	var out []graphstore.Change
	for id, e := range w.elems {
		for i := range e.contribs {
			if e.contribs[i].Updated == -1 {
				e.contribs[i].Updated = ts
			}
		}
		before := w.before[id]
		var after *graphstore.Element
		if len(e.contribs) > 0 {
			if before != nil && before.SourceID == e.src && before.TargetID == e.dst &&
				before.CheckState == e.checkState && before.Propagated == e.propagated && sameContribs(before.Contribs, e.contribs) {
				continue
			}
			if e.kind == graphstore.KindComponent {
				after = graphstore.NewComponentElement(id, ts, e.contribs, e.checkState, e.propagated)
			} else {
				after = graphstore.NewElement(id, e.kind, ts, e.contribs, e.src, e.dst)
			}
		}
		switch {
		case before == nil && after != nil:
			out = append(out, graphstore.Change{ID: id, Kind: e.kind, Op: graphstore.Added, After: after})
		case before != nil && after == nil:
			out = append(out, graphstore.Change{ID: id, Kind: before.Kind, Op: graphstore.Removed, Before: before})
		case before != nil:
			out = append(out, graphstore.Change{ID: id, Kind: e.kind, Op: graphstore.Changed, Before: before, After: after})
		}
	}
	slices.SortFunc(out, func(a, b graphstore.Change) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// sameContribs reports whether two contribution lists are equal, update
// times included.
func sameContribs(a, b []graphstore.Contribution) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Source != b[i].Source || a[i].ExternalID != b[i].ExternalID || a[i].Updated != b[i].Updated || !sameData(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

// sameData compares what two contributions say, field by field through
// reflection: nothing forgotten.
func sameData(a, b *graphstore.Contribution) bool {
	return reflect.DeepEqual(a.Component, b.Component) && reflect.DeepEqual(a.Relation, b.Relation) &&
		reflect.DeepEqual(a.Check, b.Check)
}
