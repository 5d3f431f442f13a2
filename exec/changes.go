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
// reads.
func (e *Engine) changes(ctx context.Context, q *planner.Query) (*ChangesResult, error) {
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
	r1 := newRun(ctx, s1, e.o.MaxElements)
	r2 := newRun(ctx, s2, e.o.MaxElements)
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
	if err := diffComponents(r1, r2, all, res); err != nil {
		return nil, err
	}
	return res, diffRelations(r1, r2, all, res)
}

func emptyElements() Elements {
	return Elements{Components: []Component{}, Relations: []Relation{}}
}

func diffComponents(r1, r2 *run, ids []graphstore.ID, res *ChangesResult) error {
	for _, id := range ids {
		before, err := r1.element(id)
		if err != nil {
			return err
		}
		after, err := r2.element(id)
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

// diffRelations compares the relations among the components at each time.
func diffRelations(r1, r2 *run, ids []graphstore.ID, res *ChangesResult) error {
	rels1, err := relationsAmong(r1, ids, nil)
	if err != nil {
		return err
	}
	rels2, err := relationsAmong(r2, ids, nil)
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
