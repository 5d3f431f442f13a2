// Package memstore is the in-memory reference implementation of
// graphstore.Store. It keeps every version of every element in a map and
// answers every read by scanning all of them: no indexes, no caches, nothing
// clever, so that it is obviously right. Tests use it as the oracle for the
// Pebble store and the query engine; it is not meant for large graphs.
//
// It applies batches with its own implementation of the identity rules
// (world.go: merging components that share identifiers, resolving relation
// endpoints and check states, by brute force over every element), computes
// every component's health from scratch after every batch (its check state,
// and its propagated state by a walk of everything it reaches through
// dependencies), and derives the terms an element carries on its own
// (terms.go), so that a bug in the Pebble store's planner, incremental
// health or postings cannot hide in both. It shares with the
// Pebble store only the validation of a batch, the stamping of commit
// times, the change feed, and the merged view of an element
// (graphstore.NewElement).
package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// version is one entry of an element's history; e is nil for a deletion.
type version struct {
	ts int64
	e  *graphstore.Element
}

type extKey struct {
	kind        graphstore.Kind
	source, ext string
}

type commit struct {
	ts      int64
	changes []graphstore.Change
}

// Store is the reference store. It is safe for concurrent use.
type Store struct {
	mu        sync.RWMutex
	history   map[graphstore.ID][]version
	external  map[extKey]graphstore.ID
	nextID    graphstore.ID
	last      int64
	asked     int64 // latest time a batch asked for
	horizon   int64
	log       []commit
	notify    chan struct{} // closed and replaced on every commit
	closed    bool
	now       func() time.Time
	retention time.Duration
	maxSkew   time.Duration
	readers   map[int64]int // read times of open snapshots: compaction never passes them
	state     map[string][]byte
	terms     sync.Map // *graphstore.Element → its terms (termsOf): versions are immutable
}

// Options configure a reference store.
type Options struct {
	Now       func() time.Time // the clock; time.Now when nil
	Retention time.Duration    // graphstore.DefaultRetention when zero
	// MaxFutureSkew bounds how far past the clock a batch may be stamped
	// (graphstore.DefaultMaxFutureSkew when zero).
	MaxFutureSkew time.Duration
}

// New returns an empty reference store.
func New(o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention == 0 {
		o.Retention = graphstore.DefaultRetention
	}
	if o.MaxFutureSkew == 0 {
		o.MaxFutureSkew = graphstore.DefaultMaxFutureSkew
	}
	return &Store{
		history:   map[graphstore.ID][]version{},
		external:  map[extKey]graphstore.ID{},
		nextID:    1,
		notify:    make(chan struct{}),
		now:       o.Now,
		retention: o.Retention,
		maxSkew:   o.MaxFutureSkew,
		readers:   map[int64]int{},
		state:     map[string][]byte{},
	}
}

var _ graphstore.Store = (*Store)(nil)

// Apply implements graphstore.Store. It validates the batch with the shared
// normalisation, then applies it with its own rules (world.go), written
// independently of the Pebble store's planner.
func (s *Store) Apply(ctx context.Context, b *graphstore.Batch) (*graphstore.Commit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, graphstore.ErrClosed
	}
	ts, asked, err := base.StampTime(b.Time, s.now(), s.last, s.asked, s.maxSkew)
	if err != nil {
		return nil, err
	}
	ops, err := base.Normalize(b)
	if err != nil {
		return nil, err
	}
	w := s.world()
	for i := range ops {
		w.apply(&ops[i])
	}
	w.resolveRefs()
	w.health()
	changes := w.changes(ts)
	for _, ch := range changes {
		s.history[ch.ID] = append(s.history[ch.ID], version{ts: ts, e: ch.After})
	}
	s.external, s.nextID, s.last, s.asked = w.external, w.nextID, ts, asked
	s.applyState(b.State)
	s.log = append(s.log, commit{ts: ts, changes: changes})
	close(s.notify)
	s.notify = make(chan struct{})
	c := &graphstore.Commit{Time: time.Unix(0, ts)}
	for _, ch := range changes {
		switch ch.Op {
		case graphstore.Added:
			c.Added++
		case graphstore.Changed:
			c.Changed++
		case graphstore.Removed:
			c.Removed++
		}
	}
	return c, nil
}

// applyState applies writer state operations in order.
func (s *Store) applyState(ops []graphstore.StateOp) {
	for _, op := range ops {
		switch {
		case op.Prefix:
			for k := range s.state {
				if strings.HasPrefix(k, op.Key) {
					delete(s.state, k)
				}
			}
		case op.Delete:
			delete(s.state, op.Key)
		default:
			s.state[op.Key] = slices.Clone(op.Value)
		}
	}
}

// ReadState implements graphstore.StateStore.
func (s *Store) ReadState(prefix string, fn func(key string, value []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return graphstore.ErrClosed
	}
	var keys []string
	vals := map[string][]byte{}
	for k, v := range s.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
			vals[k] = v
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k, vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// at returns the version of id live at ts, or nil.
func (s *Store) at(id graphstore.ID, ts int64) *graphstore.Element {
	var live *graphstore.Element
	for _, v := range s.history[id] {
		if v.ts > ts {
			break
		}
		live = v.e
	}
	return live
}

// liveAt returns every element live at ts, by id.
func (s *Store) liveAt(ts int64) []*graphstore.Element {
	var out []*graphstore.Element
	for id := range s.history {
		if e := s.at(id, ts); e != nil {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *graphstore.Element) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// holders returns the elements live at ts that carry a term.
func (s *Store) holders(ix graphstore.Index, term string, ts int64) []graphstore.ID {
	var out []graphstore.ID
	for _, e := range s.liveAt(ts) {
		if slices.Contains(s.termsOf(e)[ix], term) {
			out = append(out, e.ID)
		}
	}
	return out
}

// Snapshot implements graphstore.Store.
func (s *Store) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, graphstore.ErrClosed
	}
	ts := s.last
	if !t.IsZero() {
		ts = t.UnixNano()
	}
	if ts < s.horizon {
		return nil, &graphstore.BeforeRetentionError{At: time.Unix(0, ts), Horizon: time.Unix(0, s.horizon)}
	}
	shown := t
	if t.IsZero() {
		shown = time.Unix(0, ts)
	}
	sn := &snapshot{s: s, ts: min(ts, s.last), shown: shown}
	s.readers[sn.ts]++
	return sn, nil
}

// LastCommit implements graphstore.Store.
func (s *Store) LastCommit() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.last == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.last)
}

// Horizon implements graphstore.Store.
func (s *Store) Horizon() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return time.Unix(0, s.horizon)
}

// Compact implements graphstore.Store: it drops versions superseded before
// the horizon and commits older than it.
func (s *Store) Compact(ctx context.Context, now time.Time) (*graphstore.CompactStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, graphstore.ErrClosed
	}
	h := min(now.Add(-s.retention).UnixNano(), s.last) // a caught-up feed stays readable
	for t := range s.readers {
		h = min(h, t) // an open snapshot keeps reading what it read
	}
	stats := &graphstore.CompactStats{Horizon: time.Unix(0, max(h, s.horizon))}
	if h <= s.horizon {
		return stats, nil
	}
	for id, vs := range s.history {
		keep := 0 // index of the version live at the horizon
		for i, v := range vs {
			if v.ts <= h {
				keep = i
			}
		}
		if vs[keep].ts <= h && vs[keep].e == nil {
			keep++ // deleted before the horizon: nothing of it is readable
		}
		stats.Versions += keep
		if keep == len(vs) {
			delete(s.history, id)
		} else {
			s.history[id] = vs[keep:]
		}
	}
	i := 0
	for i < len(s.log) && s.log[i].ts <= h {
		i++
	}
	stats.Commits = i
	s.log = s.log[i:]
	s.horizon = h
	s.terms.Clear() // forget dropped versions; the rest are recomputed
	return stats, nil
}

// Close implements graphstore.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// snapshot answers every read by scanning the whole history.
type snapshot struct {
	s      *Store
	ts     int64 // visibility bound: min(read time, last commit at open)
	shown  time.Time
	closed bool
}

func (sn *snapshot) Time() time.Time { return sn.shown }

func (sn *snapshot) Postings(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	return sn.s.holders(ix, term, sn.ts), nil
}

func (sn *snapshot) Terms(ix graphstore.Index, prefix string, fn func(string) error) error {
	sn.s.mu.RLock()
	var terms []string
	for _, e := range sn.s.liveAt(sn.ts) {
		for _, t := range sn.s.termsOf(e)[ix] {
			if strings.HasPrefix(t, prefix) {
				terms = append(terms, t)
			}
		}
	}
	sn.s.mu.RUnlock()
	slices.Sort(terms)
	for _, t := range slices.Compact(terms) {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func (sn *snapshot) Element(id graphstore.ID) (*graphstore.Element, error) {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	return sn.s.at(id, sn.ts), nil
}

func (sn *snapshot) Adjacent(id graphstore.ID, ix graphstore.Index, out []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	for _, e := range sn.s.liveAt(sn.ts) {
		if !e.Traversable() {
			continue
		}
		switch {
		case ix == graphstore.IdxOut && e.SourceID == id:
			out = append(out, graphstore.Adjacency{Relation: e.ID, Other: e.TargetID})
		case ix == graphstore.IdxIn && e.TargetID == id:
			out = append(out, graphstore.Adjacency{Relation: e.ID, Other: e.SourceID})
		}
	}
	return out, nil
}

func (sn *snapshot) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	return sn.s.external[extKey{kind, source, ext}], nil
}

func (sn *snapshot) Estimate(ix graphstore.Index, term string) (int, error) {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	return len(sn.s.holders(ix, term, sn.s.last)), nil
}

func (sn *snapshot) Close() error {
	if sn.closed {
		return nil
	}
	sn.closed = true
	sn.s.mu.Lock()
	if sn.s.readers[sn.ts]--; sn.s.readers[sn.ts] <= 0 {
		delete(sn.s.readers, sn.ts)
	}
	sn.s.mu.Unlock()
	return nil
}

func (sn *snapshot) AdjacentPage(id graphstore.ID, ix graphstore.Index, after graphstore.ID, max int, out []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	all, err := sn.Adjacent(id, ix, nil)
	n := 0
	for _, a := range all {
		if a.Relation <= after {
			continue
		}
		if max > 0 && n == max {
			break
		}
		out = append(out, a)
		n++
	}
	return out, err
}
