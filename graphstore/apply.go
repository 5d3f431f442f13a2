package graphstore

import (
	"cmp"
	"fmt"
	"slices"
)

// State is what planning a batch needs to know of the committed graph, as of
// the last commit. A store implements it for the duration of one Plan call,
// under its writer lock.
type State interface {
	// Current returns the latest version of an element, or nil when the
	// element does not exist or is deleted.
	Current(id ID) (*Element, error)
	// LookupExternal returns the element a source's external id maps to, or
	// 0 when the pair was never seen. The mapping survives deletion, so an
	// element that comes back gets its id back.
	LookupExternal(kind Kind, source, ext string) (ID, error)
	// Holders returns the live elements holding a term now, ascending.
	Holders(ix Index, term string) ([]ID, error)
}

// Write is one element changed by a batch: its committed version (Before,
// nil when absent) and its new one (After, nil when deleted).
type Write struct {
	ID     ID
	Kind   Kind
	Before *Element
	After  *Element
}

// ExternalMapping records that (Kind, Source, ExternalID) now names ID.
type ExternalMapping struct {
	Kind       Kind
	Source     string
	ExternalID string
	ID         ID
}

// Plan is what a batch does to the graph, computed before anything is
// written: the element versions to write and the external-id mappings to
// record. A store persists a Plan atomically.
type Plan struct {
	Time     int64 // commit time (ns)
	Writes   []Write
	Mappings []ExternalMapping
	NextID   ID // the id allocator's next value after this batch
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
// any later batch that changes who holds those references.
func PlanBatch(st State, b *Batch, ts int64, nextID ID) (*Plan, error) {
	ops := make([]Op, len(b.Ops))
	for i := range b.Ops {
		op, err := normalize(i, &b.Ops[i])
		if err != nil {
			return nil, err
		}
		ops[i] = op
	}
	a := &applier{
		st: st, ts: ts, nextID: nextID,
		pending:  map[ID]*working{},
		holder:   map[string]ID{},
		external: map[extKey]ID{},
		resolve:  map[ID]bool{},
	}
	for i := range ops {
		if err := a.apply(&ops[i]); err != nil {
			return nil, err
		}
	}
	if err := a.resolveRelations(); err != nil {
		return nil, err
	}
	return a.plan(), nil
}

type extKey struct {
	kind        Kind
	source, ext string
}

// working is the in-batch state of one element.
type working struct {
	kind     Kind
	before   *Element       // committed version, nil when absent
	contribs []Contribution // current contributions; empty means deleted
	src, dst ID             // relation endpoints as resolved so far
	idents   []string       // identifiers a component holds as of its last change, sorted
}

type applier struct {
	st       State
	ts       int64
	nextID   ID
	pending  map[ID]*working
	holder   map[string]ID // component identifier → holder, for identifiers changed in this batch (0 = none)
	changed  []string      // identifiers whose holder changed, in order of change
	external map[extKey]ID // external-id mappings made in this batch
	mappings []ExternalMapping
	resolve  map[ID]bool // relations to (re-)resolve at the end
}

func (a *applier) apply(op *Op) error {
	switch op.Kind {
	case OpPutComponent:
		return a.putComponent(op)
	case OpDeleteComponent:
		return a.withdraw(KindComponent, op)
	case OpPutRelation:
		return a.putRelation(op)
	case OpDeleteRelation:
		return a.withdraw(KindRelation, op)
	}
	return fmt.Errorf("graphstore: unknown operation kind %d", op.Kind)
}

// get returns the in-batch state of an element, loading its committed
// version on first use.
func (a *applier) get(id ID, kind Kind) (*working, error) {
	if w, ok := a.pending[id]; ok {
		return w, nil
	}
	e, err := a.st.Current(id)
	if err != nil {
		return nil, err
	}
	w := &working{kind: kind, before: e}
	if e != nil {
		w.kind = e.Kind
		w.contribs = slices.Clone(e.Contribs)
		w.src, w.dst = e.SourceID, e.TargetID
		if c := e.Component(); c != nil {
			w.idents = c.Identifiers
		}
	}
	a.pending[id] = w
	return w, nil
}

func (a *applier) alive(id ID) (bool, error) {
	w, err := a.get(id, KindComponent)
	if err != nil {
		return false, err
	}
	return len(w.contribs) > 0, nil
}

func (a *applier) lookupExternal(kind Kind, source, ext string) (ID, error) {
	if id, ok := a.external[extKey{kind, source, ext}]; ok {
		return id, nil
	}
	return a.st.LookupExternal(kind, source, ext)
}

func (a *applier) mapExternal(kind Kind, source, ext string, id ID) {
	k := extKey{kind, source, ext}
	if a.external[k] == id {
		return
	}
	a.external[k] = id
	a.mappings = append(a.mappings, ExternalMapping{Kind: kind, Source: source, ExternalID: ext, ID: id})
}

// holderOf returns the live component holding an identifier, or 0.
func (a *applier) holderOf(ident string) (ID, error) {
	if id, ok := a.holder[ident]; ok {
		return id, nil
	}
	ids, err := a.st.Holders(IdxIdentifier, ident)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[0], nil // merging keeps identifiers unique to one component
}

func (a *applier) allocate() ID {
	id := a.nextID
	a.nextID++
	return id
}

func (a *applier) putComponent(op *Op) error {
	existing, err := a.lookupExternal(KindComponent, op.Source, op.ExternalID)
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
	w, err := a.get(target, KindComponent)
	if err != nil {
		return err
	}
	a.upsert(w, Contribution{Source: op.Source, ExternalID: op.ExternalID, Component: op.Component})
	a.mapExternal(KindComponent, op.Source, op.ExternalID, target)
	return a.componentChanged(target, w)
}

// componentsHolding returns the distinct live components holding any of the
// identifiers, ascending.
func (a *applier) componentsHolding(idents []string, ext string) ([]ID, error) {
	var out []ID
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

func (a *applier) chooseTarget(existing ID, matches []ID) (ID, error) {
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
func (a *applier) mergeInto(into, from ID) error {
	src, err := a.get(from, KindComponent)
	if err != nil {
		return err
	}
	dst, err := a.get(into, KindComponent)
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
		a.mapExternal(KindComponent, c.Source, c.ExternalID, into)
	}
	return a.componentChanged(into, dst)
}

// upsert sets a contribution, keeping its update time when the data is
// unchanged.
func (a *applier) upsert(w *working, c Contribution) {
	i, found := slices.BinarySearchFunc(w.contribs, c, func(x, y Contribution) int {
		return compareRef(x.Source, x.ExternalID, y.Source, y.ExternalID)
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
func (a *applier) componentChanged(id ID, w *working) error {
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
func (a *applier) setHolder(ident string, id ID) {
	if _, seen := a.holder[ident]; !seen {
		a.changed = append(a.changed, ident)
	}
	a.holder[ident] = id
}

func identifiersOf(cs []Contribution) []string {
	var lists [][]string
	for _, c := range cs {
		lists = append(lists, c.Component.Identifiers, []string{c.ExternalID})
	}
	return union(lists...)
}

func (a *applier) putRelation(op *Op) error {
	id, err := a.lookupExternal(KindRelation, op.Source, op.ExternalID)
	if err != nil {
		return err
	}
	if id == 0 {
		id = a.allocate()
	}
	w, err := a.get(id, KindRelation)
	if err != nil {
		return err
	}
	a.upsert(w, Contribution{Source: op.Source, ExternalID: op.ExternalID, Relation: op.Relation})
	a.mapExternal(KindRelation, op.Source, op.ExternalID, id)
	a.resolve[id] = true
	return nil
}

// withdraw removes a source's contribution; an element left without
// contributions is deleted. Withdrawing what was never there does nothing.
func (a *applier) withdraw(kind Kind, op *Op) error {
	id, err := a.lookupExternal(kind, op.Source, op.ExternalID)
	if err != nil || id == 0 {
		return err
	}
	w, err := a.get(id, kind)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(w.contribs, func(c Contribution) bool {
		return c.Source == op.Source && c.ExternalID == op.ExternalID
	})
	if i < 0 {
		return nil
	}
	w.contribs = slices.Delete(w.contribs, i, i+1)
	if kind == KindComponent {
		return a.componentChanged(id, w)
	}
	a.resolve[id] = true
	return nil
}

// resolveRelations resolves the endpoints of every relation put in this
// batch and of every committed relation that refers to an identifier whose
// holder changed.
func (a *applier) resolveRelations() error {
	for _, ident := range a.changed {
		ids, err := a.st.Holders(IdxRelRef, ident)
		if err != nil {
			return err
		}
		for _, id := range ids {
			a.resolve[id] = true
		}
	}
	for id := range a.resolve {
		w, err := a.get(id, KindRelation)
		if err != nil {
			return err
		}
		if len(w.contribs) == 0 {
			w.src, w.dst = 0, 0
			continue
		}
		view := NewElement(id, KindRelation, a.ts, w.contribs, 0, 0).Relation()
		if w.src, err = a.holderOf(view.SourceRef); err != nil {
			return err
		}
		if w.dst, err = a.holderOf(view.TargetRef); err != nil {
			return err
		}
	}
	return nil
}

// plan turns the working state into element writes, dropping elements whose
// new version equals the committed one.
func (a *applier) plan() *Plan {
	p := &Plan{Time: a.ts, Mappings: a.mappings, NextID: a.nextID}
	for id, w := range a.pending {
		if len(w.contribs) == 0 {
			if w.before != nil {
				p.Writes = append(p.Writes, Write{ID: id, Kind: w.kind, Before: w.before})
			}
			continue
		}
		if w.before != nil && w.before.SourceID == w.src && w.before.TargetID == w.dst &&
			equalContribs(w.before.Contribs, w.contribs) {
			continue
		}
		after := NewElement(id, w.kind, a.ts, w.contribs, w.src, w.dst)
		p.Writes = append(p.Writes, Write{ID: id, Kind: w.kind, Before: w.before, After: after})
	}
	slices.SortFunc(p.Writes, func(x, y Write) int { return cmp.Compare(x.ID, y.ID) })
	return p
}
