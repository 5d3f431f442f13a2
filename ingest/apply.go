package ingest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Applier writes decoded topologies to a graph store with the receiver's
// semantics: puts, delete_ids, and snapshots that replace a source's
// elements. One Apply is one batch, committed as one version.
//
// Snapshot state: a start_snapshot opens a snapshot for its source, and
// every element of that source put from then on (in the same or later
// Apply calls) is seen; the stop_snapshot deletes every element the source
// had contributed that the snapshot did not see. Which snapshots are open,
// and what each has seen, is kept in memory in the Applier: it is lost on
// restart, after which a stop_snapshot fails until the source starts a new
// snapshot (the agent does so on its next check run). The elements a source
// has are read from the store when its snapshot stops, so the Applier must be
// the only writer of the sources it handles.
//
// An Applier is safe for concurrent use; Apply calls are serialised.
type Applier struct {
	store graphstore.Store

	mu sync.Mutex
	// open maps a source with an open snapshot to the elements it has seen
	// (never nil for an open snapshot).
	open map[string]map[elemKey]struct{}
}

// NewApplier returns an Applier writing to st.
func NewApplier(st graphstore.Store) *Applier {
	return &Applier{store: st, open: map[string]map[elemKey]struct{}{}}
}

// elemKey names one element of a source.
type elemKey struct {
	kind graphstore.Kind
	ext  string
}

func compareKeys(a, b elemKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.ext, b.ext))
}

// Summary is what one Apply did.
type Summary struct {
	// Commit is the store's commit, nil when the topologies carried no
	// operation (nothing is committed then; snapshot state still changes).
	Commit  *graphstore.Commit
	Sources []SourceSummary // sorted by source
	Streams []StreamSummary // health streams whose check states changed, sorted
}

// SourceSummary is what one Apply did for one source.
type SourceSummary struct {
	Source     string
	Components int // components put
	Relations  int // relations put
	DeleteIDs  int // delete_ids entries
	// Snapshot events in this Apply and the state after it.
	SnapshotStarted, SnapshotStopped, SnapshotOpen bool
	// Elements deleted because a snapshot stopped without seeing them.
	SnapshotDeletedComponents, SnapshotDeletedRelations int
}

func (s SourceSummary) String() string {
	out := fmt.Sprintf("%s: put %s, %s; delete_ids %d",
		s.Source, plural(s.Components, "component"), plural(s.Relations, "relation"), s.DeleteIDs)
	var snap []string
	if s.SnapshotStarted {
		snap = append(snap, "started")
	}
	if s.SnapshotStopped {
		snap = append(snap, fmt.Sprintf("stopped (deleted %s, %s)",
			plural(s.SnapshotDeletedComponents, "component"), plural(s.SnapshotDeletedRelations, "relation")))
	}
	if s.SnapshotOpen {
		snap = append(snap, "open")
	}
	if len(snap) > 0 {
		out += "; snapshot " + strings.Join(snap, ", ")
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// OpenSnapshots returns the sources with an open snapshot, sorted.
func (a *Applier) OpenSnapshots() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.open))
	for s := range a.open {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Apply commits topologies as one batch stamped at (zero: the commit time).
// An error (a stop_snapshot with no open snapshot, a store error) commits
// nothing and leaves the snapshot state as it was.
func (a *Applier) Apply(ctx context.Context, topos []Topology, at time.Time) (*Summary, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &run{a: a, batch: &graphstore.Batch{Time: at}, states: map[string]*srcState{}, sums: map[string]*SourceSummary{},
		streams: map[string]*StreamSummary{}}
	err := r.build(topos)
	if r.snap != nil {
		r.snap.Close() // the read is done; close it before writing
	}
	if err != nil {
		return nil, err
	}
	sum := r.summary()
	if len(r.batch.Ops) > 0 {
		if sum.Commit, err = a.store.Apply(ctx, r.batch); err != nil {
			return nil, err
		}
	}
	r.commitState()
	return sum, nil
}

// run is the work of one Apply.
type run struct {
	a       *Applier
	batch   *graphstore.Batch
	states  map[string]*srcState
	sums    map[string]*SourceSummary
	streams map[string]*StreamSummary
	snap    graphstore.Snapshot // opened on the first stop_snapshot
}

// srcState is a source's snapshot state during a run, over the Applier's
// committed state, which the run changes only once its batch commits.
type srcState struct {
	open bool
	base map[elemKey]struct{} // committed seen set; nil when (re)started in this run
	seen map[elemKey]bool     // this run's changes over base: true seen, false deleted
	// present records the elements this run put (true) or deleted (false).
	present map[elemKey]bool
}

func (s *srcState) isSeen(k elemKey) bool {
	if v, ok := s.seen[k]; ok {
		return v
	}
	_, ok := s.base[k]
	return ok
}

func (s *srcState) mark(k elemKey, put bool) {
	s.present[k] = put
	if s.open {
		s.seen[k] = put
	}
}

func (r *run) state(src string) (*srcState, *SourceSummary) {
	st, ok := r.states[src]
	if !ok {
		base := r.a.open[src]
		st = &srcState{open: base != nil, base: base, seen: map[elemKey]bool{}, present: map[elemKey]bool{}}
		r.states[src] = st
		r.sums[src] = &SourceSummary{Source: src}
	}
	return st, r.sums[src]
}

func (r *run) build(topos []Topology) error {
	for i := range topos {
		if err := r.topology(&topos[i]); err != nil {
			return err
		}
	}
	return nil
}

// topology adds one topology to the batch: the start of a snapshot, the
// puts, the deletes, then the end of the snapshot. Deletes follow puts, so
// an element both put and listed in delete_ids is deleted.
func (r *run) topology(t *Topology) error {
	if t.CheckStates != nil {
		r.checkStates(t) // the check states form: nothing else
		return nil
	}
	src := t.Source
	st, sum := r.state(src)
	if t.StartSnapshot {
		st.open, st.base, st.seen = true, nil, map[elemKey]bool{}
		sum.SnapshotStarted = true
	}
	for _, c := range t.Components {
		r.batch.PutComponent(src, c.ExternalID, c.Data)
		st.mark(elemKey{graphstore.KindComponent, c.ExternalID}, true)
	}
	for _, rel := range t.Relations {
		r.batch.PutRelation(src, rel.ExternalID, rel.Data)
		st.mark(elemKey{graphstore.KindRelation, rel.ExternalID}, true)
	}
	for _, id := range t.DeleteIDs {
		r.batch.DeleteComponent(src, id)
		r.batch.DeleteRelation(src, id)
		st.mark(elemKey{graphstore.KindComponent, id}, false)
		st.mark(elemKey{graphstore.KindRelation, id}, false)
	}
	sum.Components += len(t.Components)
	sum.Relations += len(t.Relations)
	sum.DeleteIDs += len(t.DeleteIDs)
	if !t.StopSnapshot {
		return nil
	}
	if !st.open {
		return &Error{Path: t.Path, Msg: fmt.Sprintf(
			"stop_snapshot without a start_snapshot: no snapshot is open for source %q", src)}
	}
	return r.stop(src, st, sum)
}

// stop ends a source's snapshot: every element the source has, in the store
// or from earlier in this batch, that the snapshot did not see is deleted.
func (r *run) stop(src string, st *srcState, sum *SourceSummary) error {
	have, err := r.elementsOf(src)
	if err != nil {
		return err
	}
	for k, put := range st.present {
		if put {
			have = append(have, k)
		}
	}
	slices.SortFunc(have, compareKeys)
	have = slices.Compact(have)
	for _, k := range have {
		if put, ok := st.present[k]; (ok && !put) || st.isSeen(k) {
			continue
		}
		if k.kind == graphstore.KindComponent {
			r.batch.DeleteComponent(src, k.ext)
			sum.SnapshotDeletedComponents++
		} else {
			r.batch.DeleteRelation(src, k.ext)
			sum.SnapshotDeletedRelations++
		}
		st.present[k] = false
	}
	st.open, st.base, st.seen = false, nil, map[elemKey]bool{}
	sum.SnapshotStopped = true
	return nil
}

// elementsOf lists the elements a source contributes to in the store as of
// its last commit.
func (r *run) elementsOf(src string) ([]elemKey, error) {
	if r.snap == nil {
		sn, err := r.a.store.Snapshot(time.Time{})
		if err != nil {
			return nil, err
		}
		r.snap = sn
	}
	ids, err := r.snap.Postings(graphstore.IdxSource, src)
	if err != nil {
		return nil, err
	}
	var out []elemKey
	for _, id := range ids {
		e, err := r.snap.Element(id)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		for _, c := range e.Contribs {
			if c.Source == src {
				out = append(out, elemKey{e.Kind, c.ExternalID})
			}
		}
	}
	return out, nil
}

func (r *run) summary() *Summary {
	s := &Summary{}
	for src, sum := range r.sums {
		sum.SnapshotOpen = r.states[src].open
		s.Sources = append(s.Sources, *sum)
	}
	slices.SortFunc(s.Sources, func(a, b SourceSummary) int { return strings.Compare(a.Source, b.Source) })
	for _, sum := range r.streams {
		s.Streams = append(s.Streams, *sum)
	}
	slices.SortFunc(s.Streams, compareStreams)
	return s
}

// commitState makes the run's snapshot state the Applier's, once its batch
// has committed.
func (r *run) commitState() {
	for src, st := range r.states {
		switch {
		case !st.open:
			delete(r.a.open, src)
		case st.base == nil:
			m := map[elemKey]struct{}{}
			for k, v := range st.seen {
				if v {
					m[k] = struct{}{}
				}
			}
			r.a.open[src] = m
		default:
			for k, v := range st.seen {
				if v {
					st.base[k] = struct{}{}
				} else {
					delete(st.base, k)
				}
			}
		}
	}
}
