package base

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// State is what planning a batch needs to know of the committed graph, as of
// the last commit. A store implements it for the duration of one Plan call,
// under its writer lock.
type State interface {
	// Current returns the latest version of an element, or nil when the
	// element does not exist or is deleted.
	Current(id graphstore.ID) (*graphstore.Element, error)
	// LookupExternal returns the element a source's external id maps to, or
	// 0 when the pair was never seen. The mapping survives deletion, so an
	// element that comes back gets its id back.
	LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error)
	// Holders returns the live elements holding a term now, ascending.
	Holders(ix graphstore.Index, term string) ([]graphstore.ID, error)
	// Support returns the dependency a live component's propagated state
	// rests on, as the last plan recorded it (Plan.Supports), or 0: it
	// rests on its own state, or is not severe.
	Support(id graphstore.ID) (graphstore.ID, error)
}

// Write is one element changed by a batch: its committed version (Before,
// nil when absent) and its new one (After, nil when deleted).
type Write struct {
	ID     graphstore.ID
	Kind   graphstore.Kind
	Before *graphstore.Element
	After  *graphstore.Element
}

// ExternalMapping records that (Kind, Source, ExternalID) now names ID.
type ExternalMapping struct {
	Kind       graphstore.Kind
	Source     string
	ExternalID string
	ID         graphstore.ID
}

// Support records what a component's propagated state rests on now (see
// health.go): the dependency Via, or its own state when Via is 0 (the
// store then forgets the component's entry, as for a deleted component).
type Support struct {
	ID, Via graphstore.ID
}

// Plan is what a batch does to the graph, computed before anything is
// written: the element versions to write, the external-id mappings and the
// supports to record. A store persists a Plan atomically.
type Plan struct {
	Time     int64 // commit time (ns)
	Writes   []Write
	Mappings []ExternalMapping
	Supports []Support
	NextID   graphstore.ID        // the id allocator's next value after this batch
	State    []graphstore.StateOp // the batch's writer state, written as is
}

// PlanBatch computes the Plan of a batch committed at time ts, given the
// committed state and the next free id. It validates every operation first;
// an invalid one fails the whole batch with an *OpError.
//
// Identity rules: a source's (kind, external id) names one element. A
// component put whose identifiers (or external id) are held by other live
// components merges them into one: the element the source already
// described, else the lowest id. A relation's endpoints are resolved to the
// components holding its source and target references; a relation whose
// endpoint does not exist is kept but not traversable, and is re-resolved in
// any later batch that changes who holds those references. A check state
// is bound to the component holding its identifier the same way.
//
// Health: the own state of every component the batch touches (its sources,
// the check states bound to it) and the propagated state of every component
// whose dependencies changed are recomputed (health.go), and a component
// whose state changed gets a new version in the same plan.
func PlanBatch(st State, b *graphstore.Batch, ts int64, nextID graphstore.ID) (*Plan, error) {
	ops, err := Normalize(b)
	if err != nil {
		return nil, err
	}
	return PlanNormalized(st, b, ops, ts, nextID)
}

// PlanNormalized is PlanBatch for a batch whose operations ops are already
// Normalize(b)'s: a store may normalize them (which reads nothing of the
// store) while it reads what planning will ask for.
func PlanNormalized(st State, b *graphstore.Batch, ops []graphstore.Op, ts int64, nextID graphstore.ID) (*Plan, error) {
	// Sized for a batch of new elements (an element, its identifiers and
	// its mapping per operation, a relation to resolve for about every
	// other): growing them an entry at a time rehashed each several times
	// per batch.
	a := &applier{
		st: st, ts: ts, nextID: nextID, firstNew: nextID,
		pending:  make(map[graphstore.ID]*working, len(ops)),
		holder:   make(map[string]graphstore.ID, 2*len(ops)),
		external: make(map[extKey]graphstore.ID, len(ops)),
		resolve:  make(map[graphstore.ID]bool, len(ops)/2),
	}
	for i := range ops {
		if err := a.apply(&ops[i]); err != nil {
			return nil, err
		}
	}
	if err := a.endReplacements(); err != nil {
		return nil, err
	}
	if err := a.resolveRefs(); err != nil {
		return nil, err
	}
	if err := a.health(); err != nil {
		return nil, err
	}
	p := a.plan()
	p.State = b.State
	return p, nil
}

type extKey struct {
	kind        graphstore.Kind
	source, ext string
}

// working is the in-batch state of one element.
type working struct {
	kind     graphstore.Kind
	before   *graphstore.Element            // committed version, nil when absent
	contribs []graphstore.Contribution      // current contributions; empty means deleted
	src, dst graphstore.ID                  // relation endpoints (a check's component) as resolved so far
	dep      graphstore.DependencyDirection // a relation's merged dependency direction, once resolved
	idents   []string                       // identifiers a component holds as of its last change, sorted
	// A component's derived health (graphstore.Element.CheckState and
	// Propagated), as committed until health() recomputes it.
	checkState, propagated graphstore.HealthState
}

type applier struct {
	st       State
	ts       int64
	nextID   graphstore.ID
	firstNew graphstore.ID // the first id this batch allocates: no id from here on has a committed version
	pending  map[graphstore.ID]*working
	holder   map[string]graphstore.ID // component identifier → holder, for identifiers changed in this batch (0 = none)
	changed  []string                 // identifiers whose holder changed, in order of change
	external map[extKey]graphstore.ID // external-id mappings made in this batch
	mappings []ExternalMapping
	resolve  map[graphstore.ID]bool // relations to (re-)resolve at the end
	supports []Support              // support changes from health()
	// doomed lists, by stream replaced in this batch, the check state ids
	// to delete at its end: those the stream had at the replacement that
	// no later put set again.
	doomed map[string]map[string]bool
	// putChecks lists, by stream, the check states put in this batch.
	putChecks map[string][]graphstore.ID
}

func (a *applier) apply(op *graphstore.Op) error {
	switch op.Kind {
	case graphstore.OpPutComponent:
		return a.putComponent(op)
	case graphstore.OpDeleteComponent:
		return a.withdraw(graphstore.KindComponent, op)
	case graphstore.OpPutRelation:
		return a.putRelation(op)
	case graphstore.OpDeleteRelation:
		return a.withdraw(graphstore.KindRelation, op)
	case graphstore.OpPutCheck:
		if d := a.doomed[op.Source]; d != nil {
			delete(d, op.ExternalID)
		}
		return a.putCheck(op)
	case graphstore.OpDeleteCheck:
		return a.withdraw(graphstore.KindCheck, op)
	case graphstore.OpReplaceStream:
		return a.replaceStream(op.Source)
	}
	return fmt.Errorf("graphstore: unknown operation kind %d", op.Kind)
}

// get returns the in-batch state of an element, loading its committed
// version on first use.
func (a *applier) get(id graphstore.ID, kind graphstore.Kind) (*working, error) {
	if w, ok := a.pending[id]; ok {
		return w, nil
	}
	if id >= a.firstNew {
		// Allocated by this batch: nothing to read (for a batch of new
		// elements, reading their absence cost more than planning them).
		return a.adopt(id, kind, nil), nil
	}
	e, err := a.st.Current(id)
	if err != nil {
		return nil, err
	}
	return a.adopt(id, kind, e), nil
}

// adopt makes the committed version e (nil: absent) of an element pending.
func (a *applier) adopt(id graphstore.ID, kind graphstore.Kind, e *graphstore.Element) *working {
	w := &working{kind: kind, before: e}
	if e != nil {
		w.kind = e.Kind
		w.contribs = slices.Clone(e.Contribs)
		w.src, w.dst = e.SourceID, e.TargetID
		w.checkState, w.propagated = e.CheckState, e.Propagated
		if c := e.Component(); c != nil {
			w.idents = c.Identifiers
		}
	}
	a.pending[id] = w
	return w
}

func (a *applier) alive(id graphstore.ID) (bool, error) {
	w, err := a.get(id, graphstore.KindComponent)
	if err != nil {
		return false, err
	}
	return len(w.contribs) > 0, nil
}

func (a *applier) lookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	if id, ok := a.external[extKey{kind, source, ext}]; ok {
		return id, nil
	}
	return a.st.LookupExternal(kind, source, ext)
}

func (a *applier) mapExternal(kind graphstore.Kind, source, ext string, id graphstore.ID) {
	k := extKey{kind, source, ext}
	if a.external[k] == id {
		return
	}
	a.external[k] = id
	a.mappings = append(a.mappings, ExternalMapping{Kind: kind, Source: source, ExternalID: ext, ID: id})
}

// holderOf returns the live component holding an identifier, or 0.
func (a *applier) holderOf(ident string) (graphstore.ID, error) {
	if id, ok := a.holder[ident]; ok {
		return id, nil
	}
	ids, err := a.st.Holders(graphstore.IdxIdentifier, ident)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[0], nil // merging keeps identifiers unique to one component
}

func (a *applier) allocate() graphstore.ID {
	id := a.nextID
	a.nextID++
	return id
}

func (a *applier) putComponent(op *graphstore.Op) error {
	existing, err := a.lookupExternal(graphstore.KindComponent, op.Source, op.ExternalID)
	if err != nil {
		return err
	}
	matches, err := a.componentsHolding(op.Component.Identifiers, op.ExternalID)
	if err != nil {
		return err
	}
	target, err := a.chooseTarget(existing, matches)
	if err != nil {
		return err
	}
	for _, m := range matches {
		if m != target {
			if err := a.mergeInto(target, m); err != nil {
				return err
			}
		}
	}
	w, err := a.get(target, graphstore.KindComponent)
	if err != nil {
		return err
	}
	a.upsert(w, graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Component: op.Component})
	a.mapExternal(graphstore.KindComponent, op.Source, op.ExternalID, target)
	return a.componentChanged(target, w)
}

// componentsHolding returns the distinct live components holding any of the
// identifiers, ascending.
func (a *applier) componentsHolding(idents []string, ext string) ([]graphstore.ID, error) {
	var out []graphstore.ID
	for _, ident := range append(slices.Clip(idents), ext) {
		id, err := a.holderOf(ident)
		if err != nil {
			return nil, err
		}
		if id != 0 && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (a *applier) chooseTarget(existing graphstore.ID, matches []graphstore.ID) (graphstore.ID, error) {
	if existing != 0 {
		ok, err := a.alive(existing)
		if err != nil || ok {
			return existing, err
		}
	}
	if len(matches) > 0 {
		return matches[0], nil
	}
	if existing != 0 {
		return existing, nil // the element comes back under its old id
	}
	return a.allocate(), nil
}

// mergeInto moves every contribution of component from into component into
// and deletes from.
func (a *applier) mergeInto(into, from graphstore.ID) error {
	src, err := a.get(from, graphstore.KindComponent)
	if err != nil {
		return err
	}
	dst, err := a.get(into, graphstore.KindComponent)
	if err != nil {
		return err
	}
	moved := src.contribs
	src.contribs = nil
	if err := a.componentChanged(from, src); err != nil {
		return err
	}
	for _, c := range moved {
		a.upsert(dst, c)
		a.mapExternal(graphstore.KindComponent, c.Source, c.ExternalID, into)
	}
	return a.componentChanged(into, dst)
}

// upsert sets a contribution, keeping its update time when the data is
// unchanged.
func (a *applier) upsert(w *working, c graphstore.Contribution) {
	i, found := slices.BinarySearchFunc(w.contribs, c, func(x, y graphstore.Contribution) int {
		return cmp.Or(strings.Compare(x.Source, y.Source), strings.Compare(x.ExternalID, y.ExternalID))
	})
	if found {
		if sameData(&w.contribs[i], &c) {
			return
		}
		if c.Updated == 0 {
			c.Updated = a.ts
		}
		w.contribs[i] = c
		return
	}
	if c.Updated == 0 {
		c.Updated = a.ts
	}
	w.contribs = slices.Insert(w.contribs, i, c)
}

// componentChanged updates the identifier holders after a component's
// contributions changed: identifiers it no longer has are released, the ones
// it has now point at it.
func (a *applier) componentChanged(id graphstore.ID, w *working) error {
	after := identifiersOf(w.contribs)
	for _, ident := range w.idents {
		if _, still := slices.BinarySearch(after, ident); still {
			continue
		}
		h, err := a.holderOf(ident)
		if err != nil {
			return err
		}
		if h == id {
			a.setHolder(ident, 0)
		}
	}
	for _, ident := range after {
		h, err := a.holderOf(ident)
		if err != nil {
			return err
		}
		if h != id {
			a.setHolder(ident, id)
		}
	}
	w.idents = after
	return nil
}

// setHolder records a change of an identifier's holder; callers have
// checked that it is one.
func (a *applier) setHolder(ident string, id graphstore.ID) {
	if _, seen := a.holder[ident]; !seen {
		a.changed = append(a.changed, ident)
	}
	a.holder[ident] = id
}

// identifiersOf returns the identifiers a component's contributions give it
// (with their external ids), sorted and distinct, as its merged view has.
func identifiersOf(cs []graphstore.Contribution) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ExternalID)
		out = append(out, c.Component.Identifiers...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (a *applier) putRelation(op *graphstore.Op) error {
	return a.putReferrer(op, graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Relation: op.Relation})
}

// putCheck sets a check state: the stream's one contribution to it.
func (a *applier) putCheck(op *graphstore.Op) error {
	if err := a.putReferrer(op, graphstore.Contribution{Source: op.Source, ExternalID: op.ExternalID, Check: op.Check}); err != nil {
		return err
	}
	if a.putChecks == nil {
		a.putChecks = map[string][]graphstore.ID{}
	}
	id, err := a.lookupExternal(graphstore.KindCheck, op.Source, op.ExternalID)
	a.putChecks[op.Source] = append(a.putChecks[op.Source], id)
	return err
}

// putReferrer sets a source's contribution to an element that refers to
// components by identifier (a relation or a check state) and marks it for
// resolution.
func (a *applier) putReferrer(op *graphstore.Op, c graphstore.Contribution) error {
	kind := op.Kind.ElementKind()
	id, err := a.lookupExternal(kind, op.Source, op.ExternalID)
	if err != nil {
		return err
	}
	if id == 0 {
		id = a.allocate()
	}
	w, err := a.get(id, kind)
	if err != nil {
		return err
	}
	a.upsert(w, c)
	a.mapExternal(kind, op.Source, op.ExternalID, id)
	a.resolve[id] = true
	return nil
}

// withdraw removes a source's contribution; an element left without
// contributions is deleted. Withdrawing what was never there does nothing.
func (a *applier) withdraw(kind graphstore.Kind, op *graphstore.Op) error {
	id, err := a.lookupExternal(kind, op.Source, op.ExternalID)
	if err != nil || id == 0 {
		return err
	}
	w, err := a.get(id, kind)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(w.contribs, func(c graphstore.Contribution) bool {
		return c.Source == op.Source && c.ExternalID == op.ExternalID
	})
	if i < 0 {
		return nil
	}
	w.contribs = slices.Delete(w.contribs, i, i+1)
	if kind == graphstore.KindComponent {
		return a.componentChanged(id, w)
	}
	a.resolve[id] = true
	return nil
}

// replaceStream dooms every check state the stream has now: committed,
// or put earlier in this batch. Deleting them is left to the batch's end
// (endReplacements), so that a state put again after the replacement is
// never withdrawn and re-added: unchanged, it keeps its version.
func (a *applier) replaceStream(stream string) error {
	if a.doomed == nil {
		a.doomed = map[string]map[string]bool{}
	}
	d := a.doomed[stream]
	if d == nil {
		d = map[string]bool{}
		a.doomed[stream] = d
	}
	committed, err := a.st.Holders(graphstore.IdxStream, stream)
	if err != nil {
		return err
	}
	for _, id := range append(committed, a.putChecks[stream]...) {
		w, err := a.get(id, graphstore.KindCheck) // as it is now in the batch
		if err != nil {
			return err
		}
		if len(w.contribs) > 0 {
			d[w.contribs[0].ExternalID] = true
		}
	}
	return nil
}

// endReplacements deletes the check states the batch's replacements
// doomed, in a fixed order.
func (a *applier) endReplacements() error {
	for _, stream := range slices.Sorted(maps.Keys(a.doomed)) {
		for _, id := range slices.Sorted(maps.Keys(a.doomed[stream])) {
			op := graphstore.Op{Kind: graphstore.OpDeleteCheck, Source: stream, ExternalID: id}
			if err := a.withdraw(graphstore.KindCheck, &op); err != nil {
				return err
			}
		}
	}
	return nil
}

// refIndexes are the indexes of the references relations and check states
// hold to components' identifiers.
var refIndexes = [...]graphstore.Index{graphstore.IdxRelRef, graphstore.IdxCheckRef}

// resolveRefs resolves the endpoints of every relation and the component of
// every check state put or withdrawn in this batch, and of every committed
// one that refers to an identifier whose holder changed.
func (a *applier) resolveRefs() error {
	for _, ident := range a.changed {
		for _, ix := range refIndexes {
			ids, err := a.st.Holders(ix, ident)
			if err != nil {
				return err
			}
			for _, id := range ids {
				a.resolve[id] = true
			}
		}
	}
	for id := range a.resolve {
		// Every id here is pending or committed and live, so get loads it
		// as what it is; the kind passed is never used.
		w, err := a.get(id, graphstore.KindRelation)
		if err != nil {
			return err
		}
		if err := a.resolveOne(id, w); err != nil {
			return err
		}
	}
	return nil
}

// resolveOne points a relation at the components holding its references,
// and a check state at the component holding its identifier (0: none).
func (a *applier) resolveOne(id graphstore.ID, w *working) error {
	var err error
	w.src, w.dst = 0, 0
	switch {
	case len(w.contribs) == 0:
	case w.kind == graphstore.KindCheck:
		w.src, err = a.holderOf(w.contribs[0].Check.Identifier)
	default:
		var srcRef, dstRef string
		srcRef, dstRef, w.dep = graphstore.RelationRefs(w.contribs)
		if w.src, err = a.holderOf(srcRef); err != nil {
			return err
		}
		w.dst, err = a.holderOf(dstRef)
	}
	return err
}

// plan turns the working state into element writes, dropping elements whose
// new version equals the committed one.
func (a *applier) plan() *Plan {
	p := &Plan{Time: a.ts, Mappings: a.mappings, Supports: a.supports, NextID: a.nextID}
	for id, w := range a.pending {
		if len(w.contribs) == 0 {
			if w.before != nil {
				p.Writes = append(p.Writes, Write{ID: id, Kind: w.kind, Before: w.before})
			}
			continue
		}
		if w.before != nil && w.before.SourceID == w.src && w.before.TargetID == w.dst &&
			w.before.CheckState == w.checkState && w.before.Propagated == w.propagated &&
			equalContribs(w.before.Contribs, w.contribs) {
			continue
		}
		var after *graphstore.Element
		if w.kind == graphstore.KindComponent {
			after = graphstore.NewComponentElement(id, a.ts, w.contribs, w.checkState, w.propagated)
		} else {
			after = graphstore.NewElement(id, w.kind, a.ts, w.contribs, w.src, w.dst)
		}
		p.Writes = append(p.Writes, Write{ID: id, Kind: w.kind, Before: w.before, After: after})
	}
	slices.SortFunc(p.Writes, func(x, y Write) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(p.Supports, func(x, y Support) int { return cmp.Compare(x.ID, y.ID) })
	return p
}
