package live

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
)

// In-place maintenance. A query whose plan holds no neighbourhood
// expansion (exec.Matcher: a filter on each component's own fields, in the
// query and the scope) has for answer the live components its filter holds
// for and the traversable relations among them. Such a view is not filed
// in the index and not run again on each change: the dispatcher keeps the
// set of its members, tests each commit's changes against the compiled
// filter and the members (take), and queues the ones that can change the
// answer; an evaluator then applies them to the current answer (maintain),
// reading the store only for the relations of components that joined. A
// broad filter of thousands of components so costs what its changed
// elements cost, not what the whole query costs. The query runs in full
// only for the view's first answer and after the feed was reopened.

// take tests one commit's changes against a maintained view and queues
// those that can change its answer; it reports whether any did. A
// component change counts when the component is selected before or after
// it; a relation change when its version before joined two members as
// they were before the commit, or its version after joins two members as
// they are after it. It runs on the dispatcher, which owns v.members.
func (v *view) take(changes []graphstore.Change) bool {
	if v.members == nil {
		return false // a full evaluation is queued or running; its end replays what it missed
	}
	n := len(v.pending)
	var flipped map[graphstore.ID]bool
	for i := range changes {
		ch := &changes[i]
		if ch.Kind != graphstore.KindComponent {
			continue
		}
		_, was := v.members[ch.ID]
		is := v.selects(ch.After)
		if !was && !is {
			continue
		}
		v.pending = append(v.pending, *ch)
		if was != is {
			if flipped == nil {
				flipped = map[graphstore.ID]bool{}
			}
			flipped[ch.ID] = true
			if is {
				v.members[ch.ID] = struct{}{}
			} else {
				delete(v.members, ch.ID)
			}
		}
	}
	memberBefore := func(id graphstore.ID) bool {
		_, now := v.members[id]
		return now != flipped[id]
	}
	memberAfter := func(id graphstore.ID) bool {
		_, now := v.members[id]
		return now
	}
	for i := range changes {
		ch := &changes[i]
		if ch.Kind != graphstore.KindRelation {
			continue
		}
		if joins(ch.Before, memberBefore) || joins(ch.After, memberAfter) {
			v.pending = append(v.pending, *ch)
		}
	}
	return len(v.pending) > n
}

// took notes when the first change queued since the last evaluation came
// off the feed: its diff's latency counts from there.
func (v *view) took(observed time.Time) {
	if v.pendingSince.IsZero() {
		v.pendingSince = observed
	}
}

// joins reports whether a relation version is traversable between two
// members.
func joins(el *graphstore.Element, member func(graphstore.ID) bool) bool {
	return el != nil && el.Traversable() && member(el.SourceID) && member(el.TargetID)
}

// selects reports whether the view's filter holds for a component version
// (false for none, or for another kind of element).
func (v *view) selects(el *graphstore.Element) bool {
	if el == nil || el.Kind != graphstore.KindComponent {
		return false
	}
	c := el.Component()
	return c != nil && v.match.Match(c)
}

// setMembers takes a full answer as the members of a maintained view.
func (v *view) setMembers(res *exec.TopologyResult) {
	v.members = make(map[graphstore.ID]struct{}, res.Components.Len())
	for i := range res.Components.Len() {
		v.members[graphstore.ID(res.Components.ID(i))] = struct{}{}
	}
}

// errGrown stops maintaining an answer that grew past the engine's element
// limit: the query then runs in full, and fails as it would have.
var errGrown = fmt.Errorf("live: the maintained answer grew past the element limit")

// maintain applies the changes of the commits after prev (in commit order,
// as take queued them) to prev and returns the answer at commit time at.
// It reads the snapshot at at only for the relations of components that
// joined the answer.
func (h *Hub) maintain(ctx context.Context, v *view, prev *exec.TopologyResult, changes []graphstore.Change, at int64) (*exec.TopologyResult, error) {
	// The last version of each changed element decides: a component's when
	// it is selected (nil when not), a relation's (nil when deleted). A
	// component that joined at some commit (even one that was in prev and
	// left and came back meanwhile) may have relations to members that did
	// not change while it was out: those are read from the snapshot.
	comps := map[graphstore.ID]*graphstore.Element{}
	rels := map[graphstore.ID]*graphstore.Element{}
	entered := map[graphstore.ID]bool{}
	for i := range changes {
		ch := &changes[i]
		switch {
		case ch.Kind == graphstore.KindRelation:
			rels[ch.ID] = ch.After
		case v.selects(ch.After):
			comps[ch.ID] = ch.After
			if !v.selects(ch.Before) {
				entered[ch.ID] = true
			}
		default:
			comps[ch.ID] = nil
		}
	}
	answer := make([]exec.Component, 0, prev.Components.Len()+len(comps))
	for _, c := range prev.Components.All() {
		el, changed := comps[graphstore.ID(c.ID)]
		switch {
		case !changed:
			answer = append(answer, c)
		case el != nil:
			answer = append(answer, exec.ComponentOf(el.Component()))
		}
	}
	var joined []graphstore.ID
	for id, el := range comps {
		if el == nil {
			continue
		}
		if !holds(prev.Components, id) {
			answer = append(answer, exec.ComponentOf(el.Component()))
		}
		if entered[id] {
			joined = append(joined, id)
		}
	}
	slices.Sort(joined)
	slices.SortFunc(answer, func(a, b exec.Component) int { return cmp.Compare(a.ID, b.ID) })
	if len(answer) > h.engine.MaxElements() {
		return nil, errGrown
	}
	out := &exec.TopologyResult{EvaluatedAt: time.Unix(0, at), Components: exec.RowsOf(answer)}
	member := func(id graphstore.ID) bool { return holds(out.Components, id) }
	among := make([]exec.Relation, 0, prev.Relations.Len()+len(rels))
	have := map[uint64]bool{}
	for _, r := range prev.Relations.All() {
		if _, changed := rels[graphstore.ID(r.ID)]; !changed && member(graphstore.ID(r.Source)) && member(graphstore.ID(r.Target)) {
			among = append(among, r)
			have[r.ID] = true
		}
	}
	for id, el := range rels {
		if joins(el, member) {
			among = append(among, exec.RelationOf(el.Relation()))
			have[uint64(id)] = true
		}
	}
	if len(joined) > 0 {
		found, err := h.relationsOf(ctx, joined, at, member, have)
		if err != nil {
			return nil, err
		}
		among = append(among, found...)
	}
	slices.SortFunc(among, func(a, b exec.Relation) int { return cmp.Compare(a.ID, b.ID) })
	out.Relations = exec.RowsOf(among)
	return out, nil
}

// holds reports whether rows ordered by id hold id.
func holds[T exec.Component | exec.Relation](l exec.Rows[T], id graphstore.ID) bool {
	i := sort.Search(l.Len(), func(i int) bool { return l.ID(i) >= uint64(id) })
	return i < l.Len() && l.ID(i) == uint64(id)
}

// relationsOf returns the traversable relations at commit time at between
// a component that joined the answer and a member, but those in have.
func (h *Hub) relationsOf(ctx context.Context, joined []graphstore.ID, at int64, member func(graphstore.ID) bool, have map[uint64]bool) ([]exec.Relation, error) {
	snap, err := h.store.Snapshot(time.Unix(0, at))
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	var out []exec.Relation
	var adj []graphstore.Adjacency
	for _, id := range joined {
		for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
			if adj, err = snap.Adjacent(id, ix, adj[:0]); err != nil {
				return nil, err
			}
			for _, a := range adj {
				if have[uint64(a.Relation)] || !member(a.Other) {
					continue
				}
				el, err := snap.Element(a.Relation)
				if err != nil {
					return nil, err
				}
				if el == nil || el.Relation() == nil {
					return nil, fmt.Errorf("live: relation %d is adjacent to %d at %d but not live", a.Relation, id, at)
				}
				out = append(out, exec.RelationOf(el.Relation()))
				have[uint64(a.Relation)] = true
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
