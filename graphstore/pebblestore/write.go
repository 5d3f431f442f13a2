package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// Apply implements graphstore.Store: plan the batch against the latest
// commit, write versions, posting changes, external-id mappings, the change
// log entry and the counters in one Pebble batch, commit it with sync, then
// update the caches and wake the feeds.
func (s *Store) Apply(ctx context.Context, b *graphstore.Batch) (_ *graphstore.Commit, err error) {
	defer markCorrupt(&err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	last, asked, next, closed := s.last, s.asked, s.nextID, s.closed
	s.mu.RUnlock()
	if closed {
		return nil, graphstore.ErrClosed
	}
	ts, asked, err := base.StampTime(b.Time, s.opts.Now(), last, asked, s.opts.MaxFutureSkew)
	if err != nil {
		return nil, err
	}
	v := &view{r: s.db, seen: last, quiet: 1}
	st := &writeState{s: s, v: v, at: last}
	ops, err := st.prefetch(b)
	var plan *base.Plan
	if err == nil {
		plan, err = base.PlanNormalized(st, b, ops, ts, next)
	}
	v.close()
	if err != nil {
		return nil, err
	}
	changes, err := s.commit(plan, asked)
	if err != nil {
		return nil, err
	}
	s.publish(plan, changes, asked)
	c := &graphstore.Commit{Time: time.Unix(0, ts)}
	base.Count(c, base.ChangesOf(plan.Writes))
	return c, nil
}

// termChanges are a commit's posting changes, by term.
type termChanges map[termKey][]postingChange

// commit writes a plan in one synced Pebble batch and returns its posting
// changes.
func (s *Store) commit(plan *base.Plan, asked int64) (termChanges, error) {
	first, second := &s.wbuf[0], &s.wbuf[1]
	writes := plan.Writes
	first.reset(len(writes))
	second.reset(0)
	// Versions and postings are encoded a chunk of writes at a time, by
	// this goroutine and a helper (shareWork), each into its own buffer.
	size := cmp.Or(s.opts.chunkWrites, chunkWrites)
	var errs [2]error
	shareWork((len(writes)+size-1)/size, func(worker, chunk int) {
		if errs[worker] == nil {
			lo := chunk * size
			errs[worker] = s.encodeWrites(&s.wbuf[worker], writes[lo:min(lo+size, len(writes))], plan.Time)
		}
	})
	if err := cmp.Or(errs[0], errs[1]); err != nil {
		return nil, err
	}
	kv := &first.kv
	for _, m := range plan.Mappings {
		kv.set(func(b []byte) ([]byte, int) {
			b = append(b, externalKey(m.Kind, m.Source, m.ExternalID)...)
			n := len(b)
			return appendU64(b, uint64(m.ID)), n
		})
	}
	for _, sp := range plan.Supports {
		if sp.Via == 0 {
			kv.del(supportKey(sp.ID))
		} else {
			kv.setKV(supportKey(sp.ID), appendU64(nil, uint64(sp.Via)))
		}
	}
	kv.setKV(logKey(plan.Time), encodeLog(plan.Writes))
	kv.setKV(metaLast, appendU64(nil, uint64(plan.Time)))
	kv.setKV(metaAsked, appendU64(nil, uint64(asked)))
	kv.setKV(metaNextID, appendU64(nil, uint64(plan.NextID)))
	// The new current postings, most of a commit's keys, are not among
	// kv's: their terms are sorted once each and their keys written in
	// order from the changes (openPostings), beside the sort of the rest.
	first.changes.merge(second.changes)
	kv.absorb(&second.kv)
	open := &s.wopen
	shareWork(2, func(_, task int) {
		if task == 0 {
			kv.sort()
		} else {
			open.build(first.changes, plan.Time)
		}
	})
	batch := s.db.NewBatchWithSize(kv.size() + open.kv.size())
	defer batch.Close()
	if err := applySorted(batch, kv, &open.kv); err != nil {
		return nil, err
	}
	// State operations go last and in their order: a range delete must
	// stay before the later writes of keys in its range.
	if err := writeStateOps(batch, plan.State); err != nil {
		return nil, err
	}
	wo := pebble.Sync
	if s.opts.NoSync {
		wo = pebble.NoSync
	}
	if err := batch.Commit(wo); err != nil {
		return nil, fmt.Errorf("pebblestore: commit: %w", err)
	}
	return first.changes, nil
}

// chunkWrites is how many writes a commit encodes at a time (see commit):
// enough that claiming a chunk costs nothing beside it, few enough that
// the two goroutines finish close together.
const chunkWrites = 64

// shareWork runs do for the tasks 0…n-1 on this goroutine (worker 0) and
// one helper (worker 1), each claiming the next task when it is free, and
// returns when all are done. The writer is the intake's serial path, and
// the machine's other core is often free while it plans and encodes; but
// when the other core is busy (HTTP handlers decoding the next payloads)
// a helper may start late or never: this goroutine then does the tasks
// itself, and waits only for a task the helper is doing, never for the
// helper to start (a fork and a join waited, in total, a sixth of the
// writer's time). A helper that starts after every task was claimed
// claims none and ends.
func shareWork(n int, do func(worker, task int)) {
	var next, done atomic.Int64
	finished := make(chan struct{})
	run := func(worker int) {
		for t := int(next.Add(1) - 1); t < n; t = int(next.Add(1) - 1) {
			do(worker, t)
			if done.Add(1) == int64(n) {
				close(finished)
			}
		}
	}
	if n > 1 {
		go run(1)
	}
	run(0)
	if n > 0 {
		<-finished
	}
}

// writeBuf is what a commit encodes from a run of its writes: their keys
// and values, and their posting changes. The store keeps two, reused under
// wmu, so that a commit allocates neither.
type writeBuf struct {
	kv sortedWrites
	changeSet
}

// changeSet is the posting changes of a commit (or of a batch of a bulk
// load), recorded without an allocation per term.
type changeSet struct {
	changes termChanges
	// arena backs the change lists of changes: most terms a commit
	// changes are an element's own (its name, its identifiers), each a
	// list of one change, and one allocation each was a tenth of
	// encoding a write. Nothing keeps a list beyond publish.
	arena []postingChange
	// shared are the terms of this commit with more than one change (a
	// type, a layer, a domain: shared by many of its elements), and spare
	// the lists of the previous commits' shared terms, emptied: growing a
	// list from one change to hundreds, doubling, for every shared term
	// of every commit was half the cost of recording the changes.
	shared []termKey
	spare  [][]postingChange
}

// change appends one posting change of term k.
func (buf *changeSet) change(k termKey, ch postingChange) {
	l, ok := buf.changes[k]
	switch {
	case !ok:
		buf.arena = append(buf.arena, ch)
		n := len(buf.arena)
		buf.changes[k] = buf.arena[n-1 : n : n]
	case len(l) == 1: // the term's second change: it moves to a list of its own
		var own []postingChange
		if n := len(buf.spare); n > 0 {
			own, buf.spare = buf.spare[n-1], buf.spare[:n-1]
		}
		buf.changes[k] = append(own, l[0], ch)
		buf.shared = append(buf.shared, k)
	default:
		buf.changes[k] = append(l, ch)
	}
}

// reset empties buf for a commit of about n writes.
func (buf *writeBuf) reset(n int) {
	buf.kv.reset()
	buf.changeSet.reset(n)
}

// reset empties the changes for a commit of about n writes, keeping the
// lists of the last commit's shared terms as spares.
func (buf *changeSet) reset(n int) {
	for _, k := range buf.shared {
		// A list that merge grew in another buffer's map is recovered
		// from this map all the same: the map holds its final slice.
		if l := buf.changes[k]; cap(l) <= 1<<12 && len(buf.spare) < 1<<10 {
			buf.spare = append(buf.spare, l[:0])
		}
	}
	buf.shared = buf.shared[:0]
	buf.changes = buf.changes.reset(n)
	if cap(buf.arena) > 1<<20 { // as sortedWrites.reset: a bulk batch does not keep its size
		buf.arena = nil
	}
	buf.arena = buf.arena[:0]
}

// encodeWrites encodes writes into buf: each version and the posting
// changes from its committed one.
func (s *Store) encodeWrites(buf *writeBuf, writes []base.Write, ts int64) error {
	v := &view{r: s.db, seen: ts - 1}
	defer v.close()
	for i := range writes {
		w := &writes[i]
		buf.kv.set(func(b []byte) ([]byte, int) {
			b = appendVersionKey(b, w.ID, ts)
			n := len(b)
			return appendElement(b, w.After), n
		})
		if err := s.writePostings(buf, v, w, ts); err != nil {
			return err
		}
	}
	return nil
}

// reset returns an empty posting-change map for n writes: c cleared,
// unless it grew beyond what a usual commit needs. Allocating it afresh
// took a twentieth of the writer's time (an element's postings are mostly
// terms of its own, so the map has about eight entries per write).
// Nothing keeps the map beyond publish.
func (c termChanges) reset(n int) termChanges {
	const keep = 1 << 16
	if c == nil || len(c) > keep {
		return make(termChanges, 8*n)
	}
	clear(c)
	return c
}

// merge adds the changes of o to c. Where both changed a term, the order
// of its changes does not matter: a commit changes each element once
// (one element's changes of a term are in one map, in order), and the
// present graph and the caches apply the changes of distinct elements
// independently.
func (c termChanges) merge(o termChanges) {
	for k, l := range o {
		if have, ok := c[k]; ok {
			c[k] = append(have, l...)
		} else {
			c[k] = l
		}
	}
}

// sortedWrites collects a commit's sets and deletes and adds them to a
// Pebble batch in key order. Pebble inserts a batch into its memtable
// (a skiplist) one key at a time, reusing the previous insert's position
// when the next key follows it: in key order an insert is a step, in the
// order a plan produces them (a version, its postings, the next version)
// each is a search from the top of a list of a million keys, which was the
// largest single cost of a commit (a third of Pebble's commit went to it).
// Writes of one key keep their order, so a later write still wins.
type sortedWrites struct {
	buf []byte  // keys and values, back to back
	ops []kvRef // into buf
}

// kvRef is one operation: its key is buf[off:mid], its value
// buf[mid:end]; del marks a delete (no value).
type kvRef struct {
	off, mid, end int
	del           bool
}

// set appends one set whose key and value fill appends to b, returning
// where the key ends.
func (w *sortedWrites) set(fill func(b []byte) ([]byte, int)) {
	off := len(w.buf)
	b, n := fill(w.buf)
	w.buf = b
	w.ops = append(w.ops, kvRef{off: off, mid: n, end: len(b)})
}

func (w *sortedWrites) setKV(k, v []byte) {
	off := len(w.buf)
	w.buf = append(append(w.buf, k...), v...)
	w.ops = append(w.ops, kvRef{off: off, mid: off + len(k), end: len(w.buf)})
}

// absorb moves o's operations to the end of w's, emptying o.
func (w *sortedWrites) absorb(o *sortedWrites) {
	base := len(w.buf)
	w.buf = append(w.buf, o.buf...)
	for _, r := range o.ops {
		w.ops = append(w.ops, kvRef{off: base + r.off, mid: base + r.mid, end: base + r.end, del: r.del})
	}
	o.reset()
}

func (w *sortedWrites) del(k []byte) {
	off := len(w.buf)
	w.buf = append(w.buf, k...)
	w.ops = append(w.ops, kvRef{off: off, mid: len(w.buf), end: len(w.buf), del: true})
}

// reset empties w for the next commit, keeping its buffers unless a
// large batch grew them beyond what a usual commit needs.
func (w *sortedWrites) reset() {
	const keep = 32 << 20
	if cap(w.buf) > keep {
		w.buf, w.ops = nil, nil
	}
	w.buf, w.ops = w.buf[:0], w.ops[:0]
}

func (w *sortedWrites) key(r kvRef) []byte { return w.buf[r.off:r.mid] }

// size estimates the Pebble batch's size, to allocate it once.
func (w *sortedWrites) size() int { return len(w.buf) + 8*len(w.ops) + 64 }

// sort puts the operations in key order. Ties in the order written (off
// grows with it): a later write of a key stays later, as a stable sort
// would keep it, at the cost of an unstable one.
func (w *sortedWrites) sort() {
	slices.SortFunc(w.ops, func(a, b kvRef) int {
		return cmp.Or(bytes.Compare(w.key(a), w.key(b)), cmp.Compare(a.off, b.off))
	})
}

// add adds one operation to batch.
func (w *sortedWrites) add(batch *pebble.Batch, r kvRef) error {
	if r.del {
		return batch.Delete(w.key(r), nil)
	}
	return batch.Set(w.key(r), w.buf[r.mid:r.end], nil)
}

// applySorted adds the operations of a and b, each sorted, to batch in key
// order, a's first where both write one key (a commit's never do: the keys
// of a write carry its element's id, and the rest are all in a).
func applySorted(batch *pebble.Batch, a, b *sortedWrites) error {
	bops := b.ops
	i, j := 0, 0
	for i < len(a.ops) || j < len(bops) {
		var err error
		if j == len(bops) || i < len(a.ops) && bytes.Compare(a.key(a.ops[i]), b.key(bops[j])) <= 0 {
			err = a.add(batch, a.ops[i])
			i++
		} else {
			err = b.add(batch, bops[j])
			j++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeStateOps adds a batch's writer state operations, in order (a later
// write of a key wins over an earlier range delete: Pebble orders a batch's
// operations by sequence number).
func writeStateOps(batch *pebble.Batch, ops []graphstore.StateOp) error {
	for _, op := range ops {
		k := stateKey(op.Key)
		var err error
		switch {
		case op.Prefix:
			end := prefixEnd(k)
			err = batch.DeleteRange(k, end, nil)
		case op.Delete:
			err = batch.Delete(k, nil)
		default:
			err = batch.Set(k, op.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadState implements graphstore.StateStore.
func (s *Store) ReadState(prefix string, fn func(key string, value []byte) error) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return graphstore.ErrClosed
	}
	lo := stateKey(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		if err := fn(string(it.Key()[1:]), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

type postingID struct {
	ix   graphstore.Index
	term string
	aux  graphstore.ID
}

// writePostings closes the postings the old version had and the new one has
// not (moving them to the history table with their validity interval) and
// records the ones the new version adds as changes, from which
// openPostings writes their keys.
func (s *Store) writePostings(buf *writeBuf, v *view, w *base.Write, ts int64) error {
	kv := &buf.kv
	if base.SamePostings(w.Before, w.After) {
		return nil // a change of health alone
	}
	before := graphstore.Postings(w.Before)
	after := graphstore.Postings(w.After)
	kept, had := postingLookup(after), postingLookup(before)
	for _, p := range before {
		if kept(p) {
			continue
		}
		if err := s.closePosting(kv, v, p, w.ID, ts); err != nil {
			return err
		}
		buf.change(termKey{p.Index, p.Term}, postingChange{id: w.ID, aux: p.Aux, close: true})
	}
	for _, p := range after {
		if !had(p) { // its key is written from the change (openPostings)
			buf.change(termKey{p.Index, p.Term}, postingChange{id: w.ID, aux: p.Aux})
		}
	}
	return nil
}

// postingLookup returns whether a list of postings has a posting: by
// scanning the list while it is short (an element's usual dozen: no map
// per element written), by a map beyond.
func postingLookup(l []graphstore.Posting) func(graphstore.Posting) bool {
	if len(l) <= 32 {
		return func(p graphstore.Posting) bool {
			return slices.ContainsFunc(l, func(q graphstore.Posting) bool { return samePosting(p, q) })
		}
	}
	m := make(map[postingID]bool, len(l))
	for _, p := range l {
		m[postingID{p.Index, p.Term, p.Aux}] = true
	}
	return func(p graphstore.Posting) bool { return m[postingID{p.Index, p.Term, p.Aux}] }
}

// closePosting ends a posting at ts: the current entry is deleted and a
// history entry [from, ts) takes its place.
func (s *Store) closePosting(kv *sortedWrites, vw *view, p graphstore.Posting, id graphstore.ID, ts int64) error {
	key := postingKey(p.Index, p.Term, id)
	from, err := s.postingStart(vw, p, id, key)
	if err != nil {
		return err
	}
	var aux []byte
	if p.Aux != 0 {
		aux = appendU64(nil, uint64(p.Aux))
	}
	kv.del(key)
	kv.setKV(historyKey(p.Index, p.Term, ts, id, from), aux)
	return nil
}

// postingStart returns when an open posting began: from the posting cache
// when the term is cached, else from the current table.
func (s *Store) postingStart(vw *view, p graphstore.Posting, id graphstore.ID, key []byte) (int64, error) {
	if l, ok := s.cachedIntervals(termKey{p.Index, p.Term}); ok {
		for _, iv := range l.of(id) {
			if iv.to == openEnd && iv.aux == p.Aux {
				return iv.from, nil
			}
		}
	}
	v, closer, err := vw.reader().Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return 0, fmt.Errorf("pebblestore: posting %s %q of element %d is missing: %w", p.Index, p.Term, id, errCorrupt)
		}
		return 0, err
	}
	defer closer.Close()
	if len(v) < 8 {
		return 0, fmt.Errorf("pebblestore: posting %s of element %d: %w", p.Index, id, errCorrupt)
	}
	return int64(u64(v)), nil
}

// publish makes a commit visible: caches first, then the commit time that
// readers use as their visibility bound, then the feeds' wake-up.
func (s *Store) publish(plan *base.Plan, changes termChanges, asked int64) {
	// The present graph and the caches are apart, and readers use neither
	// for the commit before its time is published below: shareWork updates
	// them side by side.
	prev := s.lastPublished()
	shareWork(2, func(_, task int) {
		switch {
		case task == 1:
			s.publishCaches(plan, changes)
		case s.now != nil:
			s.now.apply(plan.Writes, changes, plan.Time, prev)
		}
	})
	s.mu.Lock()
	s.last, s.asked, s.nextID = plan.Time, asked, plan.NextID
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// publishCaches applies a commit to the element, posting and count caches.
func (s *Store) publishCaches(plan *base.Plan, changes termChanges) {
	for i := range plan.Writes {
		w := &plan.Writes[i]
		s.elems.appendVersion(w.ID, plan.Time, w.After)
	}
	for k, chs := range changes {
		if k.isAdjacency() {
			s.elems.applyAdjacency(k.component(), side(k.ix), chs, plan.Time, s.posts.maxLen)
		} else {
			s.posts.apply(k, chs, plan.Time)
		}
		delta := 0
		for _, ch := range chs {
			if ch.close {
				delta--
			} else {
				delta++
			}
		}
		s.count.add(k, delta, plan.Time)
	}
}

// writeState is what PlanBatch sees: the latest commit, read from the live
// database under the writer lock.
type writeState struct {
	s       *Store
	v       *view
	at      int64                       // the commit planning reads the present graph at: the writer's last
	ext     map[string]graphstore.ID    // external-id mappings of the batch's operations, prefetched
	holders map[termKey][]graphstore.ID // current holders of the terms the batch will ask about, prefetched
}

// prefetch reads what planning the batch will ask of the store, in key
// order with one iterator per kind of key: for a bulk load of new elements,
// point lookups of absent keys were the most expensive part of a batch
// (each searches every level of the LSM). It also returns the batch's
// operations normalized (base.Normalize). The three are independent (the
// writer lock keeps the store still, and Pebble's reads are safe for
// concurrent use): shareWork runs them.
func (st *writeState) prefetch(b *graphstore.Batch) ([]graphstore.Op, error) {
	var (
		ops  []graphstore.Op
		errs [3]error
	)
	shareWork(len(errs), func(_, task int) {
		switch task {
		case 0: // the largest first: this goroutine takes it
			errs[task] = st.prefetchHolders(b)
		case 1:
			errs[task] = st.prefetchExternal(b)
		default:
			ops, errs[task] = base.Normalize(b)
		}
	})
	if err := cmp.Or(errs[2], errs[1], errs[0]); err != nil {
		return nil, err
	}
	return ops, nil
}

// prefetched holds the maps of a writeState, kept between commits: a
// commit of a few hundred elements filled two maps of a thousand entries
// or more, a tenth of the writer's allocations. Nothing keeps them past the
// commit (Holders returns the lists, which are not reused).
type prefetched struct {
	ext     map[string]graphstore.ID
	holders map[termKey][]graphstore.ID
}

// reuseMap returns m emptied, or a new map for about n entries when there
// is none or m grew large (a bulk batch's size is not kept).
func reuseMap[K comparable, V any](m map[K]V, n int) map[K]V {
	if m == nil || len(m) > 1<<16 {
		return make(map[K]V, n)
	}
	clear(m)
	return m
}

// prefetchExternal reads the external-id mapping of every operation, with
// an iterator of its own (prefetch runs it beside prefetchHolders).
func (st *writeState) prefetchExternal(b *graphstore.Batch) (err error) {
	keys := make([]string, 0, len(b.Ops))
	var buf []byte
	for i := range b.Ops {
		op := &b.Ops[i]
		buf = appendExternalKey(buf[:0], op.Kind.ElementKind(), op.Source, op.ExternalID)
		keys = append(keys, string(buf))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	it, err := st.v.reader().NewIter(nil)
	if err != nil {
		return err
	}
	defer func() { err = cmp.Or(err, it.Close()) }()
	st.ext = reuseMap(st.s.wpre.ext, len(keys))
	st.s.wpre.ext = st.ext
	var seek []byte // one buffer for every seek key (Pebble copies it)
	for _, k := range keys {
		seek = append(seek[:0], k...)
		if !it.SeekPrefixGE(seek) || string(it.Key()) != k {
			st.ext[k] = 0
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if len(v) != 8 {
			return errCorrupt
		}
		st.ext[k] = graphstore.ID(u64(v))
	}
	return it.Error()
}

func (st writeState) Current(id graphstore.ID) (*graphstore.Element, error) {
	if st.s.now != nil {
		if e, ok := st.s.now.element(st.at, id); ok {
			return e, nil
		}
	}
	ch, err := st.s.chainOf(st.v, id)
	if err != nil {
		return nil, err
	}
	return st.s.load(st.v, id, ch.last())
}

func (st writeState) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	return st.lookupExternalKey(externalKey(kind, source, ext))
}

// lookupExternalKey is LookupExternal of an external-id key.
func (st writeState) lookupExternalKey(key []byte) (graphstore.ID, error) {
	if id, ok := st.ext[string(key)]; ok {
		return id, nil
	}
	return getID(st.s.db, key)
}

// prefetchHolders reads the current holders of every identifier the batch's
// components carry or its relations and check states refer to, unless the
// posting cache has the term.
func (st *writeState) prefetchHolders(b *graphstore.Batch) error {
	// Who holds an identifier (asked for every term), and which relations
	// and check states wait for it (asked for the identifiers components
	// carry: those whose holder may change).
	var held, carried []string
	for i := range b.Ops {
		op := &b.Ops[i]
		switch {
		case op.Kind == graphstore.OpPutComponent && op.Component != nil:
			carried = append(append(carried, op.Component.Identifiers...), op.ExternalID)
		case op.Kind == graphstore.OpPutRelation && op.Relation != nil:
			held = append(held, op.Relation.SourceRef, op.Relation.TargetRef)
		case op.Kind == graphstore.OpPutCheck && op.Check != nil:
			held = append(held, op.Check.Identifier)
		}
	}
	// Sorted once: the keys of one index are its terms in order, and the
	// indexes come in order, so the iterator only moves forward.
	slices.Sort(carried)
	carried = slices.Compact(carried)
	held = append(held, carried...)
	slices.Sort(held)
	held = slices.Compact(held)
	it, err := st.v.iter()
	if err != nil {
		return err
	}
	st.holders = reuseMap(st.s.wpre.holders, len(held)+2*len(carried))
	st.s.wpre.holders = st.holders
	var prefix []byte // one buffer for every seek's prefix (Pebble copies it)
	for _, ix := range [...]graphstore.Index{graphstore.IdxIdentifier, graphstore.IdxRelRef, graphstore.IdxCheckRef} {
		terms := carried
		if ix == graphstore.IdxIdentifier {
			terms = held
		}
		for _, t := range terms {
			k := termKey{ix, t}
			if e, ok := st.s.posts.get(k); ok && !e.tooLong {
				continue
			}
			prefix = appendTermPrefix(prefix[:0], tagPosting, k.ix, k.term)
			ids, err := seekHolders(it, prefix)
			if err != nil {
				return err
			}
			st.holders[k] = ids
		}
	}
	return nil
}

// seekHolders reads the current postings of a term, whose prefix is p,
// with an iterator that moves forward only (keys must come in order).
func seekHolders(it *pebble.Iterator, p []byte) ([]graphstore.ID, error) {
	var ids []graphstore.ID
	for valid := it.SeekPrefixGE(p); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != len(p)+8 {
			return nil, errCorrupt
		}
		ids = append(ids, graphstore.ID(u64(key[len(p):])))
	}
	return ids, it.Error()
}

func (st writeState) Holders(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	k := termKey{ix, term}
	if ids, ok := st.holders[k]; ok {
		return ids, nil
	}
	if k.isAdjacency() { // health planning walks adjacency: the present graph has it in memory
		if ids, ok := st.presentAdjacent(k); ok {
			return ids, nil
		}
	}
	l, err := st.s.intervals(st.v, k, st.v.seen, true)
	if err != nil {
		return nil, err
	}
	var out []graphstore.ID
	for _, iv := range l {
		if iv.to == openEnd {
			out = append(out, iv.id)
		}
	}
	return out, nil
}

// presentAdjacent returns the relations of one side of a component's
// adjacency from the present graph, ok false when it cannot answer.
func (st writeState) presentAdjacent(k termKey) ([]graphstore.ID, bool) {
	if st.s.now == nil {
		return nil, false
	}
	adj, ok := st.s.now.adjacent(st.at, k.component(), side(k.ix))
	if !ok {
		return nil, false
	}
	ids := make([]graphstore.ID, len(adj))
	for i, a := range adj {
		ids[i] = graphstore.ID(a.rel)
	}
	return ids, true
}

// Support implements base.State from the support table, which holds only
// the latest state: it is read under the writer lock, never by readers.
func (st writeState) Support(id graphstore.ID) (graphstore.ID, error) {
	return getID(st.v.reader(), supportKey(id))
}

// reader is what Pebble's DB and Snapshot have in common for point reads.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func lookupExternal(r reader, kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	return getID(r, externalKey(kind, source, ext))
}

// getID reads a key whose value is an element id, 0 when it is absent.
func getID(r reader, key []byte) (graphstore.ID, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return graphstore.ID(u64(v)), nil
}

// cachedIntervals returns a term's whole interval list if a cache has it:
// the component's chain for adjacency, the posting cache for the rest.
func (s *Store) cachedIntervals(k termKey) (plist, bool) {
	if k.isAdjacency() {
		if ch := s.elems.get(k.component()); ch != nil && ch.adj[side(k.ix)].loaded {
			return ch.adj[side(k.ix)].list, true
		}
		return nil, false
	}
	if e, ok := s.posts.get(k); ok && !e.tooLong {
		return e.list, true
	}
	return nil, false
}
