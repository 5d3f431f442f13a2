package pebblestore

import (
	"slices"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// loadSketch is what health planning needs of every element a load wrote,
// by id, in 12 bytes each: a relation's ends and dependency direction, a
// component's own and propagated state. At a million components the
// present graph's element slots are full, and planning an hour of churn
// visits tens of thousands of relations and components whose health may
// change; reading each from Pebble (its version directory, then the
// version) was half the CPU of generating the churn. The loader records
// every write's new version, so for the ids it allocated the sketch is
// always complete and current; an id it did not allocate (the store held
// it before the load) is left to Current.
type loadSketch struct {
	born graphstore.ID // the first id the load allocated: entry 0
	ents []sketchEntry
}

type sketchEntry struct {
	a, b uint32 // a relation's source and target (0: unresolved)
	kind uint8  // sketchUnknown, sketchGone, sketchComponent, sketchRelation, sketchOther
	x, y uint8  // a component's own and propagated state; a relation's direction in x
	_, _ uint8
}

const (
	sketchUnknown   = iota // not recorded (or an end beyond 32 bits): ask Current
	sketchGone             // not live
	sketchComponent        // a live component
	sketchRelation         // a live relation
	sketchOther            // another live element (a check state)
)

var _ base.Sketch = (*loadState)(nil)

// record notes the version a write leaves (nil: deleted).
func (s *loadSketch) record(id graphstore.ID, e *graphstore.Element) {
	if id < s.born {
		return
	}
	i := int(id - s.born)
	if i >= len(s.ents) {
		s.ents = slices.Grow(s.ents, i+1-len(s.ents))[:i+1]
	}
	s.ents[i] = sketchOf(e)
}

func sketchOf(e *graphstore.Element) sketchEntry {
	switch {
	case e == nil:
		return sketchEntry{kind: sketchGone}
	case e.Kind == graphstore.KindComponent:
		c := e.Component()
		return sketchEntry{kind: sketchComponent, x: uint8(c.Health), y: uint8(c.Propagated)}
	case e.Kind == graphstore.KindRelation:
		if uint64(e.SourceID) > 1<<32-1 || uint64(e.TargetID) > 1<<32-1 {
			return sketchEntry{}
		}
		return sketchEntry{kind: sketchRelation, a: uint32(e.SourceID), b: uint32(e.TargetID), x: uint8(e.Relation().Dependency)}
	default:
		return sketchEntry{kind: sketchOther}
	}
}

func (s *loadSketch) get(id graphstore.ID) sketchEntry {
	if id < s.born || id-s.born >= graphstore.ID(len(s.ents)) {
		return sketchEntry{}
	}
	return s.ents[id-s.born]
}

// RelationEnds implements base.Sketch.
func (st *loadState) RelationEnds(id graphstore.ID) (src, dst graphstore.ID, dir graphstore.DependencyDirection, ok bool) {
	e := st.l.sketch.get(id)
	if e.kind != sketchRelation {
		return 0, 0, 0, false // Current tells (a relation not live is an inconsistency it reports)
	}
	return graphstore.ID(e.a), graphstore.ID(e.b), graphstore.DependencyDirection(e.x), true
}

// ComponentHealth implements base.Sketch.
func (st *loadState) ComponentHealth(id graphstore.ID) (own, propagated graphstore.HealthState, alive, ok bool) {
	switch e := st.l.sketch.get(id); e.kind {
	case sketchUnknown:
		return 0, 0, false, false
	case sketchComponent:
		return graphstore.HealthState(e.x), graphstore.HealthState(e.y), true, true
	default:
		return 0, 0, false, true
	}
}
