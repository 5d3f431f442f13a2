package exec

import (
	"context"
	"slices"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/planner"
)

// changes evaluates CHANGES FROM q.From TO q.At: the query runs at both
// times; among the components it selects at either time, those that exist
// only at the end were added, only at the start removed, and at both with
// different content changed. Relations among those components are compared
// the same way. The element limit counts distinct components over both
// reads. Under a scope, a component is seen at a time only if the scope
// holds it then: one that leaves the scope is removed, one that enters it
// added, and relations are compared among the components seen at each time,
// so no version outside the scope reaches the result.
func (e *Engine) changes(ctx context.Context, q *planner.Query, limit int) (*ChangesResult, error) {
	s1, err := e.g.Snapshot(q.From)
	if err != nil {
		return nil, err
	}
	defer s1.Close()
	s2, err := e.g.Snapshot(q.At)
	if err != nil {
		return nil, err
	}
	defer s2.Close()
	r1 := newRun(ctx, s1, limit)
	r2 := newRun(ctx, s2, limit)
	r2.touched = r1.touched // one limit over both times
	ids1, err := evaluate(r1, q.Root)
	if err != nil {
		return nil, err
	}
	ids2, err := evaluate(r2, q.Root)
	if err != nil {
		return nil, err
	}
	res := &ChangesResult{From: q.From, To: q.At, Added: emptyElements(), Removed: emptyElements(),
		Changed: Changed{Components: []ComponentChange{}, Relations: []RelationChange{}}}
	all := mergeSorted([][]graphstore.ID{ids1, ids2})
	seen1, seen2 := all, all
	if q.Scope != nil {
		if seen1, err = visible(r1, q.Scope, all); err != nil {
			return nil, err
		}
		if seen2, err = visible(r2, q.Scope, all); err != nil {
			return nil, err
		}
	}
	if err := diffComponents(r1, r2, all, seen1, seen2, res); err != nil {
		return nil, err
	}
	return res, diffRelations(r1, r2, seen1, seen2, res)
}

// visible returns the ids (sorted) that the scope holds at the run's time.
func visible(r *run, scope planner.Plan, ids []graphstore.ID) ([]graphstore.ID, error) {
	in, err := evaluate(r, scope)
	if err != nil {
		return nil, err
	}
	out := make([]graphstore.ID, 0, len(ids))
	for _, id := range ids {
		if _, ok := slices.BinarySearch(in, id); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

func emptyElements() Elements {
	return Elements{Components: []Component{}, Relations: []Relation{}}
}

// diffComponents compares each component of ids at both times; seen1 and
// seen2 (sorted) are the ids that may be shown at each time.
func diffComponents(r1, r2 *run, ids, seen1, seen2 []graphstore.ID, res *ChangesResult) error {
	for _, id := range ids {
		if same, err := sameVersion(r1, r2, id, seen1, seen2); err != nil || same {
			if err != nil {
				return err
			}
			continue
		}
		before, err := r1.elementIf(id, seen1)
		if err != nil {
			return err
		}
		after, err := r2.elementIf(id, seen2)
		if err != nil {
			return err
		}
		switch {
		case before == nil && after != nil:
			res.Added.Components = append(res.Added.Components, componentOf(after.Component()))
		case before != nil && after == nil:
			res.Removed.Components = append(res.Removed.Components, componentOf(before.Component()))
		case before != nil && before.Version != after.Version:
			if fields := graphstore.ChangedFields(before, after); len(fields) > 0 {
				res.Changed.Components = append(res.Changed.Components, ComponentChange{
					Before: componentOf(before.Component()), After: componentOf(after.Component()), Fields: fields})
			}
		}
	}
	return nil
}

// sameVersion reports whether a component seen at both times has the
// same version at both (so it did not change and need not be decoded),
// counting it against the limit as loading it would.
func sameVersion(r1, r2 *run, id graphstore.ID, seen1, seen2 []graphstore.ID) (bool, error) {
	v1, ok1 := r1.snap.(graphstore.VersionReader)
	v2, ok2 := r2.snap.(graphstore.VersionReader)
	if !ok1 || !ok2 {
		return false, nil
	}
	if _, in := slices.BinarySearch(seen1, id); !in {
		return false, nil
	}
	if _, in := slices.BinarySearch(seen2, id); !in {
		return false, nil
	}
	a, err := v1.Version(id)
	if err != nil || a == 0 {
		return false, err
	}
	if b, err := v2.Version(id); err != nil || a != b {
		return false, err
	}
	return true, r1.touch(id)
}

// element loads a live component element, counting it against the limit.
func (r *run) element(id graphstore.ID) (*graphstore.Element, error) {
	if err := r.touch(id); err != nil {
		return nil, err
	}
	e, err := r.snap.Element(id)
	if err != nil || e == nil || e.Component() == nil {
		return nil, err
	}
	return e, nil
}

// elementIf is element for an id in seen (sorted), nil for one outside it.
func (r *run) elementIf(id graphstore.ID, seen []graphstore.ID) (*graphstore.Element, error) {
	if _, ok := slices.BinarySearch(seen, id); !ok {
		return nil, nil
	}
	return r.element(id)
}

// diffRelations compares the relations among the components seen at each
// time.
func diffRelations(r1, r2 *run, seen1, seen2 []graphstore.ID, res *ChangesResult) error {
	rels1, err := relationsAmong(r1, seen1)
	if err != nil {
		return err
	}
	rels2, err := relationsAmong(r2, seen2)
	if err != nil {
		return err
	}
	byID := func(rels []*graphstore.Relation) map[graphstore.ID]*graphstore.Relation {
		m := make(map[graphstore.ID]*graphstore.Relation, len(rels))
		for _, r := range rels {
			m[r.ID] = r
		}
		return m
	}
	m1, m2 := byID(rels1), byID(rels2)
	var relIDs []graphstore.ID
	for id := range m1 {
		relIDs = append(relIDs, id)
	}
	for id := range m2 {
		if _, ok := m1[id]; !ok {
			relIDs = append(relIDs, id)
		}
	}
	slices.Sort(relIDs)
	for _, id := range relIDs {
		if err := diffRelation(r1, r2, id, m1[id], m2[id], res); err != nil {
			return err
		}
	}
	return nil
}

func diffRelation(r1, r2 *run, id graphstore.ID, before, after *graphstore.Relation, res *ChangesResult) error {
	switch {
	case before == nil:
		res.Added.Relations = append(res.Added.Relations, relationOf(after))
	case after == nil:
		res.Removed.Relations = append(res.Removed.Relations, relationOf(before))
	case before.Updated != after.Updated:
		e1, err := r1.snap.Element(id)
		if err != nil {
			return err
		}
		e2, err := r2.snap.Element(id)
		if err != nil {
			return err
		}
		if fields := graphstore.ChangedFields(e1, e2); len(fields) > 0 {
			res.Changed.Relations = append(res.Changed.Relations, RelationChange{
				Before: relationOf(before), After: relationOf(after), Fields: fields})
		}
	}
	return nil
}
