package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Applier writes decoded topologies to a graph store with the receiver's
// semantics: puts, delete_ids, and snapshots that replace a source's
// elements. One Apply is one batch, committed as one version; ApplyGroup
// commits several payloads as one batch (group commit) and still applies
// each whole or not at all.
//
// Snapshot state: a start_snapshot opens a snapshot for its source, and
// every element of that source put from then on (in the same or later
// Apply calls) is seen; the stop_snapshot deletes every element the source
// had contributed that the snapshot did not see. Which snapshots are open,
// and what each has seen, is kept in memory, and by an Applier made with
// OpenApplier also in the store's writer state (graphstore.StateStore,
// under ingest/snap/), written in the same atomic batch as the elements:
// a snapshot then spans requests and restarts, and after a crash the state
// and the graph agree. With NewApplier it is lost when the process ends,
// after which a stop_snapshot fails until the source starts a new snapshot.
// The elements a source has are read from the store when its snapshot
// stops, so the Applier must be the only writer of the sources it handles.
//
// An Applier is safe for concurrent use; Apply calls are serialised.
type Applier struct {
	store   graphstore.Store
	durable graphstore.StateStore // nil: snapshot state in memory only

	mu sync.Mutex
	// open maps a source with an open snapshot to the elements it has seen
	// (never nil for an open snapshot).
	open map[string]map[elemKey]struct{}
	// hopen maps a health stream with an open snapshot to the check
	// states it has put (healthsnap.go).
	hopen map[string]map[string]struct{}
	// exp are the REPEAT_STATES deadlines, expMin the earliest of each
	// clock (expiry.go).
	exp    map[checkKey]deadline
	expMin map[string]int64
}

// NewApplier returns an Applier writing to st that keeps snapshot state in
// memory only (tetra load, whose bulk loader keeps no writer state).
func NewApplier(st graphstore.Store) *Applier {
	return &Applier{store: st, open: map[string]map[elemKey]struct{}{}, hopen: map[string]map[string]struct{}{},
		exp: map[checkKey]deadline{}, expMin: map[string]int64{}}
}

// OpenApplier returns an Applier writing to st that keeps snapshot state
// durably in st's writer state, and loads the snapshots open there.
func OpenApplier(st graphstore.Store) (*Applier, error) {
	ss, ok := st.(graphstore.StateStore)
	if !ok {
		return nil, fmt.Errorf("ingest: %T keeps no writer state, so snapshots could not survive a restart", st)
	}
	a := NewApplier(st)
	a.durable = ss
	for _, load := range []func() error{a.loadSnapshots, a.loadHealthSnapshots, a.loadDeadlines} {
		if err := load(); err != nil {
			return nil, err
		}
	}
	return a, nil
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
	// Commit is the store's commit, nil when nothing was committed (the
	// topologies carried no operation and no snapshot state changed). In a
	// group commit, every payload of the group shares the commit, and its
	// counts are the group's.
	Commit  *graphstore.Commit
	Sources []SourceSummary // sorted by source
	Streams []StreamSummary // health streams whose check states changed, sorted
}

// SourceSummary is what one Apply did for one source.
type SourceSummary struct {
	Source     string
	Components int // distinct components put
	Relations  int // distinct relations put
	DeleteIDs  int // delete_ids entries
	// Duplicates counts puts of an external id the same payload had put
	// already for this source (the last one wins).
	Duplicates int
	// Snapshot events in this Apply and the state after it.
	SnapshotStarted, SnapshotStopped, SnapshotOpen bool
	// Elements deleted because a snapshot stopped without seeing them.
	SnapshotDeletedComponents, SnapshotDeletedRelations int

	puts map[elemKey]struct{} // what the payload put, for the distinct counts
}

func (s SourceSummary) String() string {
	out := fmt.Sprintf("%s: put %s, %s; delete_ids %d",
		s.Source, plural(s.Components, "component"), plural(s.Relations, "relation"), s.DeleteIDs)
	if s.Duplicates > 0 {
		out += fmt.Sprintf("; %s of an external id put earlier in the payload", plural(s.Duplicates, "duplicate"))
	}
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
	g := &Group{Time: at, Items: []GroupItem{{Topologies: topos}}, release: true}
	if err := a.ApplyGroup(ctx, g); err != nil {
		return nil, err
	}
	it := &g.Items[0]
	return it.Summary, it.Err
}

// Group is several payloads committed as one batch: the group commit of a
// single writer serving many senders, and a log consumer's batch of
// records with its offsets.
type Group struct {
	Time  time.Time // the version's time (zero: the commit time)
	Items []GroupItem
	// State is written in the same atomic batch as the items (a log
	// consumer's offsets), even when an item is refused.
	State []graphstore.StateOp
	// release drops each item's topologies once they are built into the
	// batch, so that the store plans the batch without them alive
	// (Apply's group: one item, which is never applied again on its own).
	// A file of 400,000 elements (tetra load) decodes to about 0.1 GiB of
	// them beyond what the batch shares.
	release bool
}

// GroupItem is one payload of a group. ApplyGroup sets Summary when it
// committed, Err when it refused the item; the other items still commit.
type GroupItem struct {
	Topologies []Topology
	// Time is when the payload was received (zero: the group's time, else
	// now) and Clock the clock it is on (expiry.go): they decide which
	// REPEAT_STATES check states have expired before it is applied, and
	// when the ones it puts expire.
	Time    time.Time
	Clock   string
	Summary *Summary
	Err     error
}

// ApplyGroup commits the items of a group in order as one batch, each whole
// or not at all: an item with an error (a stop_snapshot with no open
// snapshot) gets its Err and the others commit. The returned error is one
// every item shares (a store error): then nothing committed. When the store
// refuses the combined batch for one operation (*graphstore.OpError), the
// items are committed one by one so that only the bad one fails, with the
// group's State after them.
func (a *Applier) ApplyGroup(ctx context.Context, g *Group) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.newRun(g.Time)
	for i := range g.Items {
		it := &g.Items[i]
		if it.Err = r.precheck(it.Topologies); it.Err != nil {
			continue
		}
		r.at(g, it)
		if err := r.item(it); err != nil {
			r.close()
			return err
		}
		if g.release {
			it.Topologies = nil
		}
	}
	r.close()
	r.batch.State = append(r.stateOps(), g.State...)
	err := r.commit(ctx)
	var oe *graphstore.OpError
	if errors.As(err, &oe) && r.items > 1 {
		return a.applyEach(ctx, g)
	}
	if err != nil {
		return err
	}
	for i := range g.Items {
		if it := &g.Items[i]; it.Err == nil {
			it.Summary.Commit = r.commitInfo
		}
	}
	return nil
}

// applyEach commits a group's items one batch each (Applier.mu held), then
// the group's state.
func (a *Applier) applyEach(ctx context.Context, g *Group) error {
	for i := range g.Items {
		it := &g.Items[i]
		if it.Err != nil {
			continue
		}
		r := a.newRun(g.Time)
		if it.Err = r.precheck(it.Topologies); it.Err == nil {
			r.at(g, it)
			it.Err = r.item(it)
		}
		r.close()
		if it.Err != nil {
			continue
		}
		r.batch.State = r.stateOps()
		if it.Err = r.commit(ctx); it.Err == nil {
			it.Summary.Commit = r.commitInfo
		}
	}
	if len(g.State) == 0 {
		return nil
	}
	_, err := a.store.Apply(ctx, &graphstore.Batch{Time: g.Time, State: g.State})
	return err
}

// run is the work of one batch.
type run struct {
	a          *Applier
	batch      *graphstore.Batch
	states     map[string]*srcState
	hstates    map[string]*streamState // health streams' snapshot state
	hput       map[checkKey]bool       // check states put (true) or deleted in the batch
	exp        map[checkKey]*deadline  // deadline changes over the Applier's (nil: removed)
	now        time.Time               // the current item's time
	clock      string                  // and clock
	snap       graphstore.Snapshot     // opened on the first stop_snapshot
	sums       map[string]*SourceSummary
	streams    map[string]*StreamSummary // health streams the current item changed
	items      int                       // items built into the batch
	commitInfo *graphstore.Commit
}

func (a *Applier) newRun(at time.Time) *run {
	return &run{a: a, batch: &graphstore.Batch{Time: at}, states: map[string]*srcState{}, hstates: map[string]*streamState{},
		hput: map[checkKey]bool{}, exp: map[checkKey]*deadline{}}
}

// at sets the time and clock of the item about to be built. An item of a
// partition's clock without a time (a record from before records had one,
// one that did not decode) leaves the time zero, which expires nothing:
// a replica's own clock would not be the same on every replica.
func (r *run) at(g *Group, it *GroupItem) {
	r.now, r.clock = it.Time, it.Clock
	if r.now.IsZero() && r.clock == "" {
		r.now = cmp.Or(g.Time, time.Now())
	}
}

// close ends the run's read of the store; close it before writing.
func (r *run) close() {
	if r.snap != nil {
		r.snap.Close()
		r.snap = nil
	}
}

// commit writes the batch when it carries anything, then makes the run's
// snapshot state the Applier's.
func (r *run) commit(ctx context.Context) error {
	if len(r.batch.Ops) > 0 || len(r.batch.State) > 0 {
		c, err := r.a.store.Apply(ctx, r.batch)
		if err != nil {
			return err
		}
		r.commitInfo = c
	}
	r.commitState()
	r.commitHealthState()
	r.commitExpiry()
	return nil
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

// state returns the run's state and summary of source src, made for about
// n elements when new.
func (r *run) state(src string, n int) (*srcState, *SourceSummary) {
	st, ok := r.states[src]
	if !ok {
		base := r.a.open[src]
		st = &srcState{open: base != nil, base: base, seen: map[elemKey]bool{}, present: make(map[elemKey]bool, n)}
		r.states[src] = st
	}
	sum, ok := r.sums[src]
	if !ok {
		sum = &SourceSummary{Source: src, puts: make(map[elemKey]struct{}, n)}
		r.sums[src] = sum
	}
	return st, sum
}

// precheck finds the error an item would meet, before any of it is built
// into the batch: a stop_snapshot for a source with no open snapshot,
// given what the batch's earlier items did.
func (r *run) precheck(topos []Topology) error {
	open := map[string]bool{}
	isOpen := func(src string) bool {
		if v, ok := open[src]; ok {
			return v
		}
		if st, ok := r.states[src]; ok {
			return st.open
		}
		return r.a.open[src] != nil
	}
	hopen := map[string]bool{}
	streamOpen := func(s string) bool {
		if v, ok := hopen[s]; ok {
			return v
		}
		return r.streamOpen(s)
	}
	for i := range topos {
		t := &topos[i]
		if h := t.Health; h != nil && h.Start {
			hopen[h.Stream] = true
		}
		if h := t.Health; h != nil && h.Stop {
			if !streamOpen(h.Stream) {
				return &Error{Path: t.Path, Msg: fmt.Sprintf(
					"stop_snapshot without a start_snapshot: no snapshot is open for health stream %q", h.Stream)}
			}
			hopen[h.Stream] = false
		}
		if t.StartSnapshot {
			open[t.Source] = true
		}
		if t.StopSnapshot {
			if !isOpen(t.Source) {
				return &Error{Path: t.Path, Msg: fmt.Sprintf(
					"stop_snapshot without a start_snapshot: no snapshot is open for source %q", t.Source)}
			}
			open[t.Source] = false
		}
	}
	return nil
}

// item builds one item into the batch; an error is a store error.
func (r *run) item(it *GroupItem) error {
	r.sums, r.streams = map[string]*SourceSummary{}, map[string]*StreamSummary{}
	if err := r.expire(); err != nil {
		return err
	}
	for i := range it.Topologies {
		if err := r.topology(&it.Topologies[i]); err != nil {
			return err
		}
	}
	it.Summary = r.summary()
	r.items++
	return nil
}

// topology adds one topology to the batch: the start of a snapshot, the
// puts, the deletes, then the end of the snapshot. Deletes follow puts, so
// an element both put and listed in delete_ids is deleted.
func (r *run) topology(t *Topology) error {
	if t.CheckStates != nil {
		return r.checkStates(t) // the check states form or a health entry: nothing else
	}
	src := t.Source
	n := len(t.Components) + len(t.Relations)
	st, sum := r.state(src, n)
	r.batch.Ops = slices.Grow(r.batch.Ops, n+2*len(t.DeleteIDs))
	if t.StartSnapshot {
		st.open, st.base, st.seen = true, nil, map[elemKey]bool{}
		sum.SnapshotStarted = true
	}
	for _, c := range t.Components {
		r.batch.PutComponent(src, c.ExternalID, c.Data)
		r.put(st, sum, elemKey{graphstore.KindComponent, c.ExternalID})
	}
	for _, rel := range t.Relations {
		r.batch.PutRelation(src, rel.ExternalID, rel.Data)
		r.put(st, sum, elemKey{graphstore.KindRelation, rel.ExternalID})
	}
	for _, id := range t.DeleteIDs {
		r.batch.DeleteComponent(src, id)
		r.batch.DeleteRelation(src, id)
		st.mark(elemKey{graphstore.KindComponent, id}, false)
		st.mark(elemKey{graphstore.KindRelation, id}, false)
	}
	sum.DeleteIDs += len(t.DeleteIDs)
	if !t.StopSnapshot {
		return nil
	}
	return r.stop(src, st, sum)
}

// put records a put for the snapshot state and the distinct counts.
func (r *run) put(st *srcState, sum *SourceSummary, k elemKey) {
	st.mark(k, true)
	if _, dup := sum.puts[k]; dup {
		sum.Duplicates++
		return
	}
	sum.puts[k] = struct{}{}
	if k.kind == graphstore.KindComponent {
		sum.Components++
	} else {
		sum.Relations++
	}
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

// snapshot returns the run's read of the store as of its last commit,
// opened on first use.
func (r *run) snapshot() (graphstore.Snapshot, error) {
	if r.snap == nil {
		sn, err := r.a.store.Snapshot(time.Time{})
		if err != nil {
			return nil, err
		}
		r.snap = sn
	}
	return r.snap, nil
}

// elementsOf lists the elements a source contributes to in the store as of
// its last commit.
func (r *run) elementsOf(src string) ([]elemKey, error) {
	if _, err := r.snapshot(); err != nil {
		return nil, err
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

// summary is the current item's summary, with each source's snapshot state
// after it.
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
