package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// A Loader applies many batches far faster than Apply: instead of writing
// each batch through Pebble's write-ahead log and memtable (a dozen random
// inserts per element, compacted again later), it plans the batches exactly
// as Apply does, gathers what they write in memory, and hands Pebble sorted,
// disjoint tables per run of batches (DB.Ingest; bulkrun.go). Once the
// runs mostly update what earlier runs wrote (churn after a first load), it
// writes one run's tables on another goroutine while it plans the next
// (see handOff). The store it leaves is key for key, byte for byte, the
// one the same batches applied with Apply leave (TestLoaderSameBytes), so
// it suits a first load, a restore or a replica catching up a long log.
// The present graph follows the load batch by batch, as it follows Apply.
//
// While a Loader is open it is the store's only writer (it holds the writer
// lock; Apply waits). What it applied becomes visible to readers and feeds
// when a run is ingested: when the run grows past its budget (shortly
// after, when it churns: its tables are then written and ingested in the
// background), when the Loader is
// read through (Snapshot, Subscribe, Compact flush first and wait) and at
// Close. A run is durable once ingested; a crash loses the runs in memory,
// never part of an ingested one. A Loader is used by one goroutine at a
// time.
//
// Loader implements graphstore.Store so that a writer that also reads (the
// ingest applier, which reads a source's elements when its snapshot stops)
// can use it in place of the store; Close ends the load, not the store.
type Loader struct {
	s           *Store
	budget      int
	last, asked int64
	next        graphstore.ID
	run         *loadRun
	// overlap is whether a full run is written and ingested in the
	// background while the next plans (see handOff). prev is then the run
	// handed off before run: while done is not nil its tables are being
	// written and ingested, and planning reads it as a layer between run
	// and Pebble. Once ingested it waits, emptied, to become the next run.
	overlap bool
	prev    *loadRun
	done    chan error
	runs    [2]int // how many runs were ingested in line and in the background
	spills  int    // how many times a run's writes were spilled (names the files)
	// What the load knows for good, across runs: when the open postings
	// of the elements it wrote began, and the supports it recorded. A
	// churn closes postings and re-derives health of elements written
	// runs earlier; reading these back from Pebble (a seek through every
	// level of the LSM per posting) was a third of generating churn.
	opens  openStarts
	sups   map[graphstore.ID]graphstore.ID // 0: forgotten
	born   graphstore.ID                   // the first id the load allocated: later ones have no support it did not record
	sketch loadSketch                      // health planning's view of what the load wrote (loadsketch.go)
	froms  []int64                         // gatherPostings' scratch
	chs    changeSet                       // the posting changes of the batch being applied, for the present graph
	err    error                           // sticky: a failed run leaves the loader unusable
	closed bool
}

// openStarts is when the open postings of the elements a load wrote began:
// 8 bytes per element the load made, in an array by id (the load's largest
// memory besides its runs; a map of them took about 40 bytes per element,
// and its growth was a tenth of a first load's map work).
type openStarts struct {
	born  graphstore.ID                   // the first id the load allocated: dense[0]
	dense []int64                         // by id - born: when an element's open postings began (all, the common case, or those not listed), -1 unknown
	from  map[graphstore.ID]int64         // the same for elements older than the load
	lists map[graphstore.ID][]openPosting // the open postings that began at another time (openSet.list)
}

func newOpenStarts(born graphstore.ID) openStarts {
	return openStarts{born: born, from: map[graphstore.ID]int64{}, lists: map[graphstore.ID][]openPosting{}}
}

// get returns what the load knows of an element's open postings (from -1:
// nothing, Pebble has them).
func (o *openStarts) get(id graphstore.ID) openSet {
	s := openSet{from: o.fromOf(id)}
	if len(o.lists) > 0 {
		s.list = o.lists[id]
	}
	return s
}

func (o *openStarts) fromOf(id graphstore.ID) int64 {
	if id < o.born {
		if f, ok := o.from[id]; ok {
			return f
		}
		return -1
	}
	if i := int(id - o.born); i < len(o.dense) {
		return o.dense[i]
	}
	return -1
}

// set records an element's open postings; from -1 and no list forgets it.
func (o *openStarts) set(id graphstore.ID, s openSet) {
	if s.list != nil {
		o.lists[id] = s.list
	} else if len(o.lists) > 0 {
		delete(o.lists, id)
	}
	from := s.from
	switch {
	case id < o.born && from < 0:
		delete(o.from, id)
	case id < o.born:
		o.from[id] = from
	default:
		i := int(id - o.born)
		for len(o.dense) <= i {
			o.dense = append(o.dense, -1)
		}
		o.dense[i] = from
	}
}

var _ graphstore.Store = (*Loader)(nil)

// DefaultLoaderRunBytes is how much a Loader gathers in memory before it
// hands a run off to be ingested; two runs are in memory while one is in
// flight (churn only, see Loader.overlap). Halving it (runs of 64 MiB)
// kept the memory of one run alone but doubled the ingests, and so the
// compactions, of churn: generating 240 hours of churn on 100,000
// components took half again as much CPU.
const DefaultLoaderRunBytes = 128 << 20

// NewLoader starts a bulk load; runBytes bounds the memory a run gathers
// (DefaultLoaderRunBytes when zero). It waits for a running Apply.
func (s *Store) NewLoader(runBytes int) (*Loader, error) {
	if runBytes <= 0 {
		runBytes = DefaultLoaderRunBytes
	}
	s.wmu.Lock()
	s.mu.RLock()
	last, asked, next, closed := s.last, s.asked, s.nextID, s.closed
	s.mu.RUnlock()
	if closed {
		s.wmu.Unlock()
		return nil, graphstore.ErrClosed
	}
	s.removeLoadFiles()
	return &Loader{s: s, budget: runBytes, last: last, asked: asked, next: next, born: next, sketch: loadSketch{born: next}, run: newLoadRun(runBytes),
		opens: newOpenStarts(next),
		sups:  map[graphstore.ID]graphstore.ID{}}, nil
}

// removeLoadFiles removes what a load that ended in a crash left in the
// store's directory: its spills and tables (Pebble took in none of them,
// or links of them, so none is needed). The writer lock is held.
func (s *Store) removeLoadFiles() {
	fs := s.po.FS
	names, err := fs.List(s.dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, "tetra-load-") {
			fs.Remove(filepath.Join(s.dir, n))
		}
	}
}

// loadRun is what a run of batches writes, gathered in memory, and what
// planning the next batches needs to know of it.
type loadRun struct {
	runKV                                       // every write, in order
	elems map[graphstore.ID]*graphstore.Element // latest version written in the run (nil: deleted)
	ext   map[string]graphstore.ID              // external-id mappings made in the run, by key
	delta map[termKey]*holderDelta              // changes to the holders of identifier and reference terms
	slab  []holderDelta                         // where delta's entries are allocated, many at a time
	ts    int64                                 // time of the run's last batch
	// How many of the run's writes made a new element and how many wrote
	// a new version of one that existed: whether the load churns.
	created, updated int
}

type openPosting struct {
	p    graphstore.Posting
	from int64
}

// openSet is when an element's open postings began: each listed one as
// listed, every other at from (all of them in the common case, an element
// whose postings a version of the load opened together). -1 is before the
// load (Pebble has it). Only the exceptions are listed: a relation that a
// later batch re-resolves keeps most of its postings and opens its
// adjacency anew, and listing every posting of the hundreds of thousands
// re-resolved in a 1M load held about 0.3 GiB by its end.
type openSet struct {
	from int64
	list []openPosting
}

// fromOf returns when an open posting of the element began, -1 if the load
// does not know.
func (o openSet) fromOf(p graphstore.Posting) int64 {
	for _, q := range o.list {
		if samePosting(q.p, p) {
			return q.from
		}
	}
	return o.from
}

func samePosting(a, b graphstore.Posting) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Aux == b.Aux
}

// holderDelta is how a run changed the holders of a term: the elements
// that hold it now and those that no longer do (an element is in one of the
// two at most).
type holderDelta struct {
	added, removed idSet
}

// idSet is a set of element ids: a slice while small (most terms have a
// holder or two), a map beyond, so that a hub's thousands of relations
// cost no quadratic scan.
type idSet struct {
	small []graphstore.ID
	big   map[graphstore.ID]struct{}
}

const idSetSmall = 16

func (s *idSet) has(id graphstore.ID) bool {
	if s.big != nil {
		_, ok := s.big[id]
		return ok
	}
	return slices.Contains(s.small, id)
}

func (s *idSet) add(id graphstore.ID) {
	switch {
	case s.big != nil:
		s.big[id] = struct{}{}
	case slices.Contains(s.small, id):
	case len(s.small) < idSetSmall:
		s.small = append(s.small, id)
	default:
		s.big = make(map[graphstore.ID]struct{}, 2*idSetSmall)
		for _, x := range s.small {
			s.big[x] = struct{}{}
		}
		s.big[id] = struct{}{}
		s.small = nil
	}
}

func (s *idSet) remove(id graphstore.ID) {
	if s.big != nil {
		delete(s.big, id)
		return
	}
	if i := slices.Index(s.small, id); i >= 0 {
		s.small = slices.Delete(s.small, i, i+1)
	}
}

func (s *idSet) each(fn func(graphstore.ID)) {
	for _, id := range s.small {
		fn(id)
	}
	for id := range s.big {
		fn(id)
	}
}

func newLoadRun(budget int) *loadRun {
	return &loadRun{elems: map[graphstore.ID]*graphstore.Element{},
		ext: map[string]graphstore.ID{}, delta: map[termKey]*holderDelta{},
		runKV: runKV{ents: make([]kvEntry, 0, budget/64)}} // a write takes about 64 bytes of the budget
}

// reset empties an ingested run for the next one, keeping its memory: its
// chunks, entries and maps grew to a run's size once, and on this
// project's VM touching fresh memory costs more than filling it (a page
// fault per 4 KiB; allocating a run's 64 MiB of entries anew for every run
// was 4% of a load's CPU, and the maps regrew from empty each time).
func (r *loadRun) reset() {
	clear(r.elems)
	clear(r.ext)
	clear(r.delta)
	r.slab = nil
	r.runKV.reset()
	r.ts = 0
	r.created, r.updated = 0, 0
}

// Apply implements graphstore.Store: it plans the batch against the store
// and what the load applied so far, and gathers its writes.
func (l *Loader) Apply(ctx context.Context, b *graphstore.Batch) (*graphstore.Commit, error) {
	if err := l.usable(ctx); err != nil {
		return nil, err
	}
	if len(b.State) > 0 {
		// The loader writes sorted tables, not a batch: writer state could
		// not commit atomically with the elements.
		return nil, &graphstore.StateError{Msg: "the bulk loader keeps no writer state; apply through the store"}
	}
	ts, asked, err := base.StampTime(b.Time, l.s.opts.Now(), l.last, l.asked, l.s.opts.MaxFutureSkew)
	if err != nil {
		return nil, err
	}
	v := &view{r: l.s.db, seen: l.s.lastPublished(), quiet: 1}
	defer v.close()
	st := &loadState{l: l, w: &writeState{s: l.s, v: v, at: l.last}, run: l.run, prev: l.inFlight()}
	ops, err := st.w.prefetch(b)
	if err != nil {
		return nil, err
	}
	plan, err := base.PlanNormalized(st, b, ops, ts, l.next)
	if err != nil {
		return nil, err
	}
	l.chs.reset(len(plan.Writes) / 4) // a write changes about two of the terms the present graph holds
	following := l.followsPresent()
	starts, err := l.postingStarts(v, plan)
	if err != nil {
		return nil, err
	}
	if err := l.gather(v, plan, asked, starts); err != nil {
		l.err = err
		return nil, err
	}
	if l.s.now != nil {
		// The present graph follows the load batch by batch, as it follows
		// Apply: planning the next batch reads elements and adjacency from
		// it, and the load needs no rebuild at its end. Readers use it only
		// at the commit it reflects, which they see once the run is
		// ingested and published.
		l.s.now.apply(plan.Writes, l.chs.changes, plan.Time, l.last)
	}
	if len(l.chs.changes) > 1<<16 {
		// A large batch's changes are not kept until the next (a file of
		// tetra load is a batch, and the next one decodes meanwhile).
		l.chs = changeSet{}
	}
	l.last, l.asked, l.next = ts, asked, plan.NextID
	if following && !l.followsPresent() {
		// The present graph went off (an id beyond its sets): the runs kept
		// no adjacency of their own, so Pebble must have it before the next
		// batch plans.
		if err := l.Flush(ctx); err != nil {
			return nil, err
		}
	}
	c := &graphstore.Commit{Time: time.Unix(0, ts)}
	base.Count(c, base.ChangesOf(plan.Writes))
	if l.run.bytes >= l.budget || len(l.run.spills) > 0 {
		if err := l.handOff(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// inFlight returns the run being ingested in the background, nil when
// there is none.
func (l *Loader) inFlight() *loadRun {
	if l.done == nil {
		return nil
	}
	return l.prev
}

// followsPresent reports whether the present graph reflects every batch
// the load applied.
func (l *Loader) followsPresent() bool { return l.s.now != nil && l.s.now.usable(l.last) }

func (l *Loader) usable(ctx context.Context) error {
	switch {
	case l.closed:
		return graphstore.ErrClosed
	case l.err != nil:
		return fmt.Errorf("pebblestore: the bulk load failed earlier: %w", l.err)
	}
	return ctx.Err()
}

// gather records what a planned batch writes, as commit would write it,
// and its posting changes.
func (l *Loader) gather(v *view, plan *base.Plan, asked int64, starts map[string]int64) error {
	r := l.run
	for i := range plan.Writes {
		if r.kv >= l.budget {
			if err := l.spill(); err != nil {
				return err
			}
		}
		w := &plan.Writes[i]
		b := appendVersionKey(r.start(), w.ID, plan.Time)
		r.finish(appendElement(b, w.After), versionKeyLen, false)
		if err := l.gatherPostings(v, w, plan.Time, starts); err != nil {
			return err
		}
		if w.Before == nil {
			r.created++
		} else {
			r.updated++
		}
		r.elems[w.ID] = w.After
		l.sketch.record(w.ID, w.After)
	}
	for _, m := range plan.Mappings {
		b := appendExternalKey(r.start(), m.Kind, m.Source, m.ExternalID)
		k := len(b)
		r.finish(appendU64(b, uint64(m.ID)), k, false)
		r.ext[string(b[:k])] = m.ID
	}
	for _, sp := range plan.Supports {
		if sp.Via == 0 {
			r.del(supportKey(sp.ID))
		} else {
			r.set(supportKey(sp.ID), appendU64(nil, uint64(sp.Via)))
		}
		l.sups[sp.ID] = sp.Via
	}
	r.set(logKey(plan.Time), encodeLog(plan.Writes))
	r.set(metaLast, appendU64(nil, uint64(plan.Time)))
	r.set(metaAsked, appendU64(nil, uint64(asked)))
	r.set(metaNextID, appendU64(nil, uint64(plan.NextID)))
	r.ts = plan.Time
	return nil
}

// spill writes the run's writes in memory out to a file (runKV.spill):
// the batch being gathered has outgrown the run's budget, and the run
// cannot be ingested before the batch ends (a crash must leave all of a
// batch or none). The run's maps, which planning reads, stay.
func (l *Loader) spill() error {
	l.spills++
	return l.run.spill(l.s.po.FS, filepath.Join(l.s.dir, fmt.Sprintf("tetra-load-%d.spill", l.spills)))
}

// gatherPostings closes the postings the old version had and the new one
// has not, and opens the new ones, as writePostings does. It keeps each
// written element's open postings (with when each began), so closing one
// later in the load needs no read.
func (l *Loader) gatherPostings(v *view, w *base.Write, ts int64, starts map[string]int64) error {
	if base.SamePostings(w.Before, w.After) {
		return nil // a change of health alone: the open postings stand
	}
	before, after := graphstore.Postings(w.Before), graphstore.Postings(w.After)
	open := l.opens.get(w.ID)
	kept, had := postingLookup(after), postingLookup(before)
	for _, p := range before {
		if !kept(p) {
			if err := l.closePosting(v, p, w.ID, ts, open.fromOf(p), starts); err != nil {
				return err
			}
			l.changed(p, w.ID, true)
		}
	}
	froms := l.froms[:0]
	for _, p := range after {
		from := ts
		if had(p) {
			from = open.fromOf(p) // -1 (unknown: in Pebble) is read if it closes
		} else {
			l.openPosting(p, w.ID, ts)
			l.changed(p, w.ID, false)
		}
		froms = append(froms, from)
	}
	l.froms = froms
	next := openSet{from: -1} // nothing the load knows of when there are none
	if len(after) > 0 {
		next.from = mostCommon(froms)
	}
	for i, from := range froms {
		if from != next.from {
			if next.list == nil {
				next.list = make([]openPosting, 0, len(after)-i)
			}
			next.list = append(next.list, openPosting{after[i], from})
		}
	}
	l.opens.set(w.ID, next)
	return nil
}

// mostCommon returns the value most of vs share (of equally common ones,
// the first): an element's postings began at one or two times.
func mostCommon(vs []int64) int64 {
	best, most := vs[0], 0
	for i, v := range vs {
		if i > 0 && v == vs[i-1] || v == best && i > 0 {
			continue
		}
		n := 0
		for _, w := range vs[i:] {
			if w == v {
				n++
			}
		}
		if n > most {
			best, most = v, n
		}
		if 2*most >= len(vs) {
			break
		}
	}
	return best
}

// postingStarts reads when each posting the plan closes began, for those
// that began before the load (the load knows the others), in key order with
// one iterator. Churn closes postings of elements written long ago (a
// replaced relation's, a re-versioned component's), and a point read per
// posting searched every level of the LSM: in the churn of the benchmark
// graphs it was the loader's largest cost after planning.
func (l *Loader) postingStarts(v *view, plan *base.Plan) (map[string]int64, error) {
	var keys []string
	for i := range plan.Writes {
		w := &plan.Writes[i]
		if w.Before == nil || base.SamePostings(w.Before, w.After) {
			continue
		}
		open := l.opens.get(w.ID)
		kept := postingLookup(graphstore.Postings(w.After))
		for _, p := range graphstore.Postings(w.Before) {
			if kept(p) || open.fromOf(p) >= 0 {
				continue
			}
			if _, ok := l.s.cachedIntervals(termKey{p.Index, p.Term}); ok {
				continue // postingStart answers from memory
			}
			keys = append(keys, string(appendPostingKey(nil, p.Index, p.Term, w.ID)))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	it, err := v.iter()
	if err != nil {
		return nil, err
	}
	starts := make(map[string]int64, len(keys))
	for _, k := range keys {
		if !it.SeekPrefixGE([]byte(k)) || string(it.Key()) != k {
			continue // postingStart reports the missing posting
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if len(val) < 8 {
			return nil, fmt.Errorf("pebblestore: posting %q: %w", k, errCorrupt)
		}
		starts[k] = int64(u64(val))
	}
	return starts, it.Error()
}

// changed records a posting change for the present graph: of the terms it
// holds (and of no other: a load writes millions of identifier and source
// terms the present graph never asks for).
func (l *Loader) changed(p graphstore.Posting, id graphstore.ID, close bool) {
	k := termKey{p.Index, p.Term}
	if l.s.now == nil || !k.isAdjacency() && !presentTerm(k) {
		return
	}
	l.chs.change(k, postingChange{id: id, aux: p.Aux, close: close})
}

func (l *Loader) openPosting(p graphstore.Posting, id graphstore.ID, ts int64) {
	r := l.run
	b := appendPostingKey(r.start(), p.Index, p.Term, id)
	k := len(b)
	b = appendU64(b, uint64(ts))
	if p.Aux != 0 {
		b = appendU64(b, uint64(p.Aux))
	}
	r.finish(b, k, false)
	l.holders(p.Index, p.Term, id, true)
}

// closePosting ends a posting at ts; from is when it began, or -1 when the
// load does not know (it began before the load: Pebble has it, and starts
// has it unless the posting cache does).
func (l *Loader) closePosting(v *view, p graphstore.Posting, id graphstore.ID, ts, from int64, starts map[string]int64) error {
	r := l.run
	key := appendPostingKey(r.start(), p.Index, p.Term, id)
	if f, ok := starts[string(key)]; ok && from < 0 {
		from = f
	}
	if from < 0 {
		f, err := l.s.postingStart(v, p, id, key)
		if err != nil {
			return err
		}
		from = f
	}
	r.finish(key, len(key), true)
	b := appendHistoryKey(r.start(), p.Index, p.Term, ts, id, from)
	k := len(b)
	if p.Aux != 0 {
		b = appendU64(b, uint64(p.Aux))
	}
	r.finish(b, k, false)
	l.holders(p.Index, p.Term, id, false)
	return nil
}

// holders records a change of a term's holders, for the terms planning
// asks about: who holds an identifier, which relations and check states
// refer to it, (for health) the relations at a component and the check
// states bound to it, and (for a replaced stream) a stream's check states.
// The relations at a component are left out while the present graph
// follows the load: planning reads them there (see Apply).
func (l *Loader) holders(ix graphstore.Index, term string, id graphstore.ID, add bool) {
	switch ix {
	case graphstore.IdxOut, graphstore.IdxIn:
		if l.followsPresent() {
			return
		}
	case graphstore.IdxIdentifier, graphstore.IdxRelRef, graphstore.IdxCheckRef, graphstore.IdxBound, graphstore.IdxStream:
	default:
		return
	}
	r := l.run
	k := termKey{ix, term}
	d := r.delta[k]
	if d == nil {
		d = r.newDelta()
		r.delta[k] = d
		r.bytes += 128 // the delta counts against the run's memory too
	}
	r.bytes += 16
	if add {
		d.removed.remove(id)
		d.added.add(id)
	} else {
		d.added.remove(id)
		d.removed.add(id)
	}
}

// loadState is what PlanBatch sees during a load: the store as of the last
// ingested run, overlaid with the run in flight (prev, if any) and the run
// in memory. Pebble may take the run in flight in at any moment while a
// batch plans; every layer holds final values (an element's latest version,
// a term's holders added and removed), so reading it over a Pebble that
// already has it gives the same answer.
type loadState struct {
	l         *Loader
	w         *writeState
	run, prev *loadRun
	key       []byte // LookupExternal's buffer
}

// layers returns the runs to read, newest first.
func (st *loadState) layers() [2]*loadRun { return [2]*loadRun{st.run, st.prev} }

func (st *loadState) Current(id graphstore.ID) (*graphstore.Element, error) {
	for _, r := range st.layers() {
		if r == nil {
			continue
		}
		if e, ok := r.elems[id]; ok {
			return e, nil
		}
	}
	return st.w.Current(id)
}

func (st *loadState) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	// One buffer for every key (the lookups copy nothing): building a key
	// per lookup was the load's most frequent allocation.
	st.key = appendExternalKey(st.key[:0], kind, source, ext)
	for _, r := range st.layers() {
		if r == nil {
			continue
		}
		if id, ok := r.ext[string(st.key)]; ok {
			return id, nil
		}
	}
	return st.w.lookupExternalKey(st.key)
}

func (st *loadState) Support(id graphstore.ID) (graphstore.ID, error) {
	if via, ok := st.l.sups[id]; ok {
		return via, nil
	}
	if id >= st.l.born {
		return 0, nil // an element of the load: it recorded every support it has
	}
	return st.w.Support(id)
}

func (st *loadState) Holders(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	if k := (termKey{ix, term}); k.isAdjacency() {
		if ids, ok := st.w.presentAdjacent(k); ok { // the present graph has the run's batches too
			return ids, nil
		}
	}
	ids, err := st.w.Holders(ix, term)
	if err != nil {
		return nil, err
	}
	k := termKey{ix, term}
	if st.prev != nil {
		ids = st.prev.delta[k].applyTo(ids)
	}
	return st.run.delta[k].applyTo(ids), nil
}

// newDelta returns an empty holderDelta of the run. A first load makes one
// for every identifier and reference term it writes: they are allocated a
// thousand at a time.
func (r *loadRun) newDelta() *holderDelta {
	if len(r.slab) == cap(r.slab) {
		r.slab = make([]holderDelta, 0, 1024)
	}
	r.slab = r.slab[:len(r.slab)+1]
	return &r.slab[len(r.slab)-1]
}

// applyTo returns sorted holders ids with the delta applied (ids itself,
// not to be modified, when d is nil).
func (d *holderDelta) applyTo(ids []graphstore.ID) []graphstore.ID {
	if d == nil {
		return ids
	}
	if len(ids) == 0 && d.added.big == nil {
		// A term the load gave its holders (a first load's every term):
		// the ids it added, sorted, are the answer.
		out := slices.Clone(d.added.small)
		slices.Sort(out)
		return out
	}
	out := slices.DeleteFunc(slices.Clone(ids), d.removed.has)
	d.added.each(func(id graphstore.ID) {
		if _, found := slices.BinarySearch(ids, id); !found {
			out = append(out, id)
		}
	})
	slices.Sort(out)
	return out
}

// Flush ingests the runs gathered so far, making them durable and visible.
func (l *Loader) Flush(ctx context.Context) error {
	if err := l.handOff(ctx); err != nil {
		return err
	}
	return l.wait()
}

// handOff ingests the run and begins the next: in line while the load
// mostly creates elements (a first load), in the background once it mostly
// updates them (churn).
//
// Why both: writing a run in the background saves the wall time of its
// ingest only while a core is free, and costs a second run's memory (about
// 200 MiB more of peak RSS at the default budget) and a second layer that
// planning misses for every new element. On this project's VM a first
// touch of memory costs a page fault of about 40 µs per 4 KiB (nested
// paging), so a first load, which is a few runs, paid more for the second
// run than the overlap saved: 25% slower loader and 1.3× the peak RSS of
// writing in line (session 8, quiet window). Churn hands off hundreds of
// runs, whose ingests overlap the store's data and take longer (level 0 and
// compactions): there the overlap made it about 1.5× faster.
func (l *Loader) handOff(ctx context.Context) error {
	if err := l.usable(ctx); err != nil {
		return err
	}
	if len(l.run.ents) == 0 && len(l.run.spills) == 0 {
		return nil
	}
	if err := l.wait(); err != nil {
		return err
	}
	r := l.run
	// The next run will churn as this one did: a load's batches change
	// their kind rarely (a first load, then its churn).
	overlap := r.updated > r.created
	if !l.overlap {
		l.overlap = overlap
		l.runs[0]++
		return l.ingestInLine(ctx, r)
	}
	l.overlap = overlap
	l.runs[1]++
	asked, next := l.asked, l.next
	l.run = l.prev
	if l.run == nil {
		l.run = newLoadRun(l.budget)
	}
	l.prev = r
	done := make(chan error, 1)
	l.done = done
	// The ingest outlives this call: it must not end with the caller's
	// context (a failure still comes back at the next call, by wait).
	bg := context.WithoutCancel(ctx)
	go func() {
		err := l.ingest(bg, r)
		if err == nil {
			l.s.publishLoad(r.ts, asked, next)
		}
		done <- err
	}()
	return nil
}

// ingestInLine ingests the run and publishes it before planning goes on,
// then empties it to be the next run.
func (l *Loader) ingestInLine(ctx context.Context, r *loadRun) error {
	if err := l.ingest(ctx, r); err != nil {
		l.err = err
		return err
	}
	l.s.publishLoad(r.ts, l.asked, l.next)
	r.reset()
	return nil
}

// wait waits for the run in flight, if any, and empties it for reuse.
func (l *Loader) wait() error {
	if l.done == nil {
		return nil
	}
	err := <-l.done
	l.done = nil
	if err != nil {
		l.err = err
		return err
	}
	l.prev.reset()
	return nil
}

// ingest writes a run as sorted tables and hands them to Pebble.
func (l *Loader) ingest(ctx context.Context, r *loadRun) error {
	wo := func() sstable.WriterOptions {
		// Level 0's writer options, not the lowest level's: a table
		// written for the lowest level marks deletions obsolete, and Pebble
		// may ingest this one above data they must delete.
		o := l.s.po.MakeWriterOptions(0, l.s.db.TableFormat())
		// Without value blocks: Pebble keeps a table's value blocks in
		// memory until the table is closed, each in a buffer of at least
		// 32 KiB however little it holds, and a run's posting tables put
		// every posting of a term but the first there (the values share
		// the term's prefix). At a million components that held 110-130
		// MiB while a run's tables were written. The values stay beside
		// their keys instead; compactions rewrite the tables with value
		// blocks as usual.
		o.DisableValueBlocks = true
		return o
	}
	fs := l.s.po.FS
	defer r.removeSpills(fs) // merged into the tables, or the load failed
	paths, err := r.writeTables(ctx, fs, l.s.dir, fmt.Sprintf("tetra-load-%d", r.ts), wo)
	if err != nil {
		return err
	}
	defer func() { // Pebble links or copies what it ingests
		for _, p := range paths {
			fs.Remove(p)
		}
	}()
	if err := l.s.db.Ingest(ctx, paths); err != nil {
		return fmt.Errorf("pebblestore: bulk load: ingest: %w", err)
	}
	return nil
}

// publishLoad makes an ingested run visible: the caches, which the run did
// not update, are emptied (as of its last commit, so no reader refills them
// from an older view), then the counters move and the feeds wake.
func (s *Store) publishLoad(ts, asked int64, next graphstore.ID) {
	s.elems.clear(ts)
	s.posts.clear(ts)
	s.count.clear(ts)
	s.mu.Lock()
	s.last, s.asked, s.nextID = ts, asked, next
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// lastPublished returns the time of the last published commit.
func (s *Store) lastPublished() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last
}

// Close ingests the last runs and ends the load; the store stays open.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	err := l.Flush(context.Background())
	if werr := l.wait(); err == nil { // Flush did not get to it
		err = werr
	}
	if errors.Is(err, graphstore.ErrClosed) {
		err = nil
	}
	if err == nil && l.s.now != nil {
		l.s.mu.RLock()
		last, next := l.s.last, l.s.nextID
		l.s.mu.RUnlock()
		if l.s.now.ver.Load() != last {
			// The index fell out of step (an id beyond its sets): read it
			// anew from what the runs left.
			err = l.s.now.build(l.s.db, last, next)
			markCorrupt(&err)
		}
	}
	l.closed = true
	l.s.wmu.Unlock()
	return err
}

// Snapshot implements graphstore.Store: it ingests the run first, so the
// read sees every batch the loader applied.
func (l *Loader) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	if err := l.Flush(context.Background()); err != nil {
		return nil, err
	}
	return l.s.Snapshot(t)
}

// Subscribe implements graphstore.Store (after ingesting the run).
func (l *Loader) Subscribe(from time.Time) (graphstore.Feed, error) {
	if err := l.Flush(context.Background()); err != nil {
		return nil, err
	}
	return l.s.Subscribe(from)
}

// LastCommit implements graphstore.Store: the last batch the loader
// applied, ingested or not.
func (l *Loader) LastCommit() time.Time {
	if l.last == 0 {
		return time.Time{}
	}
	return time.Unix(0, l.last)
}

// Horizon implements graphstore.Store.
func (l *Loader) Horizon() time.Time { return l.s.Horizon() }

// Compact implements graphstore.Store (after ingesting the run).
func (l *Loader) Compact(ctx context.Context, now time.Time) (*graphstore.CompactStats, error) {
	if err := l.Flush(ctx); err != nil {
		return nil, err
	}
	return l.s.Compact(ctx, now)
}
