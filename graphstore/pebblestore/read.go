package pebblestore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// Snapshot implements graphstore.Store.
func (s *Store) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, graphstore.ErrClosed
	}
	sn := &snapshot{s: s, ts: s.last, isNow: true, shown: t}
	if t.IsZero() {
		sn.shown = time.Unix(0, s.last)
	} else if at := t.UnixNano(); at < s.last {
		if at < s.horizon {
			return nil, &graphstore.BeforeRetentionError{At: t, Horizon: time.Unix(0, s.horizon)}
		}
		sn.ts, sn.isNow = at, false
	}
	// The Pebble snapshot is taken on the first read that needs it: a read
	// at the current time that the present graph answers never does. A
	// snapshot taken later may reflect later commits; reads filter by ts,
	// and noLaterCommits tells them when history must be consulted.
	sn.view = view{db: s.db, seen: s.last}
	s.readers[sn.ts]++
	return sn, nil
}

// view is a consistent Pebble read (a snapshot, or the live database under
// the writer lock) and the time of the last published commit when it was
// taken, which is what the caches' fill guard compares against.
//
// A snapshot taken while a writer is between its Pebble commit and its
// publication reflects one commit more than seen. Reads must not then assume
// that no posting ended after seen; noLaterCommits tells.
type view struct {
	r     pebble.Reader
	db    *pebble.DB // set for a view whose Pebble snapshot is taken on first use (r nil until then)
	seen  int64
	it    *pebble.Iterator // reused for every scan; created on first use
	quiet int8             // 0: not checked yet; 1: reflects no commit after seen; -1: it does
}

// noLaterCommits reports whether the view reflects no commit after seen,
// reading the view's last-commit counter once.
func (v *view) noLaterCommits() (bool, error) {
	if v.quiet == 0 {
		last, closer, err := v.reader().Get(metaLast)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
			v.quiet = 1
		case err != nil:
			return false, err
		default:
			v.quiet = -1
			if len(last) == 8 && int64(u64(last)) <= v.seen {
				v.quiet = 1
			}
			closer.Close()
		}
	}
	return v.quiet > 0, nil
}

func (v *view) iter() (*pebble.Iterator, error) {
	if v.it == nil {
		it, err := v.reader().NewIter(nil)
		if err != nil {
			return nil, err
		}
		v.it = it
	}
	return v.it, nil
}

// reader returns the view's Pebble reader, taking the snapshot of a lazy
// view on first use.
func (v *view) reader() pebble.Reader {
	if v.r == nil {
		v.r = v.db.NewSnapshot()
	}
	return v.r
}

func (v *view) close() error {
	if v.it == nil {
		return nil
	}
	err := v.it.Close()
	v.it = nil
	return err
}

// release closes the iterator and, for a lazy view, its snapshot.
func (v *view) release() error {
	err := v.close()
	if v.db != nil && v.r != nil {
		err = errors.Join(err, v.r.(*pebble.Snapshot).Close())
		v.r = nil
	}
	return err
}

// snapshot is a read at one time. Its visibility bound ts is the read time
// or, for reads at or after the last commit, the last commit: every commit
// after the snapshot opened is stamped later, so cached data (which may be
// newer) is filtered by ts alone.
type snapshot struct {
	s      *Store
	view   view
	ts     int64
	isNow  bool // the read is at or after the last published commit
	shown  time.Time
	closed bool
	memo   *chainMemo    // the chains this snapshot has looked up; nil until the first
	batch  *batchScratch // the batch reads' arrays (pastbatch.go); nil until the first
}

var _ graphstore.Snapshot = (*snapshot)(nil)

func (sn *snapshot) Time() time.Time { return sn.shown }

// Postings implements graphstore.Snapshot.
func (sn *snapshot) Postings(ix graphstore.Index, term string) (_ []graphstore.ID, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return nil, graphstore.ErrClosed
	}
	if set, ok := sn.presentSet(ix, term); ok {
		return set.ids(), nil
	}
	l, err := sn.s.intervals(&sn.view, termKey{ix, term}, sn.ts, sn.isNow)
	if err != nil {
		return nil, err
	}
	var out []graphstore.ID
	for _, iv := range l {
		if iv.from <= sn.ts && sn.ts < iv.to {
			out = append(out, iv.id)
		}
	}
	return out, nil
}

// Adjacent implements graphstore.Snapshot.
func (sn *snapshot) Adjacent(id graphstore.ID, ix graphstore.Index, dst []graphstore.Adjacency) (_ []graphstore.Adjacency, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return dst, graphstore.ErrClosed
	}
	if ix != graphstore.IdxOut && ix != graphstore.IdxIn {
		return dst, fmt.Errorf("pebblestore: Adjacent needs IdxOut or IdxIn, not %s", ix)
	}
	if l, ok := sn.presentAdjacent(id, ix); ok {
		return appendAdjacency(dst, l), nil
	}
	l, err := sn.chainAdjacent(id, ix)
	return append(dst, l...), err
}

// chainAdjacent returns one side of a component's adjacency at the
// snapshot's time from its chain (see sideAt).
func (sn *snapshot) chainAdjacent(id graphstore.ID, ix graphstore.Index) (_ []graphstore.Adjacency, err error) {
	defer markCorrupt(&err)
	ch, err := sn.chain(id)
	if err != nil {
		return nil, err
	}
	return sn.sideAt(ch, id, ix)
}

// sideAt returns one side of a component's adjacency at the snapshot's
// time from the component's chain, loading the side from Pebble when the
// chain does not hold it. A side the chain holds is answered with a list
// the cache shares (its open intervals, or the live part it remembers for
// a past time): immutable, never to be modified or appended to.
func (sn *snapshot) sideAt(ch *chain, id graphstore.ID, ix graphstore.Index) ([]graphstore.Adjacency, error) {
	if a := &ch.adj[side(ix)]; a.loaded && a.changed <= sn.ts {
		return a.current, nil // nothing changed since: the open intervals
	} else if a.loaded {
		return a.liveAt(sn.ts), nil
	}
	l, err := sn.s.adjacency(&sn.view, ch, id, ix, sn.ts, sn.isNow)
	if err != nil {
		return nil, err
	}
	if !ch.adj[side(ix)].tooLong {
		sn.adjacencyLoaded(id, side(ix))
	}
	var out []graphstore.Adjacency
	for _, iv := range l {
		if iv.from <= sn.ts && sn.ts < iv.to {
			out = append(out, graphstore.Adjacency{Relation: iv.id, Other: iv.aux})
		}
	}
	return out, nil
}

// chain returns an element's version directory, remembering it for the
// snapshot's life (chainMemo): a query that reads a component, expands
// its adjacency and relates it to the result looks it up once.
func (sn *snapshot) chain(id graphstore.ID) (*chain, error) {
	if ch := sn.memoOf().get(id); ch != nil {
		return ch, nil
	}
	ch, err := sn.s.chainOf(&sn.view, id)
	if err != nil {
		return nil, err
	}
	sn.memo.put(id, ch)
	return ch, nil
}

// memoOf returns the snapshot's memo, taking one from the pool on first
// use.
func (sn *snapshot) memoOf() *chainMemo {
	if sn.memo == nil {
		sn.memo = memoPool.Get().(*chainMemo)
	}
	return sn.memo
}

// adjacencyLoaded remembers the chain the cache now holds for id once a
// read has loaded a side of its adjacency, so that the snapshot's later
// reads of that side find it loaded instead of reading Pebble again. The
// chain that was read may have come from the cache's index (a batch read)
// rather than the memo, so the memo may not exist yet.
func (sn *snapshot) adjacencyLoaded(id graphstore.ID, sd int) {
	if ch := sn.s.elems.get(id); ch != nil && (ch.adj[sd].loaded || ch.adj[sd].tooLong) {
		sn.memoOf().put(id, ch)
	}
}

// Element implements graphstore.Snapshot.
func (sn *snapshot) Element(id graphstore.ID) (_ *graphstore.Element, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return nil, graphstore.ErrClosed
	}
	var slots *elemSlots
	if sn.isNow && sn.s.now != nil {
		if slots = sn.s.now.slots(sn.ts); slots != nil {
			if e, ok := slots.get(id); ok && sn.s.now.usable(sn.ts) {
				return e, nil
			}
		}
	}
	ch, err := sn.chain(id)
	if err != nil {
		return nil, err
	}
	e, err := sn.s.load(&sn.view, id, ch.at(sn.ts))
	if err == nil && slots != nil {
		slots.fill(id, e, sn.s.now.budget)
	}
	return e, err
}

// Version implements graphstore.VersionReader from the element's version
// directory (or, at the current time, the present graph's slot).
func (sn *snapshot) Version(id graphstore.ID) (_ int64, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return 0, graphstore.ErrClosed
	}
	if sn.isNow && sn.s.now != nil && sn.s.now.usable(sn.ts) {
		// The current version, from the slots, which the load fills: the
		// next read of it is an array lookup.
		e, err := sn.Element(id)
		if err != nil || e == nil {
			return 0, err
		}
		return e.Version, nil
	}
	ch, err := sn.chain(id)
	if err != nil {
		return 0, err
	}
	if sl := ch.at(sn.ts); sl != nil && !sl.tomb {
		return sl.ts, nil
	}
	return 0, nil
}

var _ graphstore.VersionReader = (*snapshot)(nil)

// Terms implements graphstore.Snapshot by hopping from term to term: one
// seek per distinct term.
func (sn *snapshot) Terms(ix graphstore.Index, prefix string, fn func(string) error) (err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return graphstore.ErrClosed
	}
	it, err := sn.view.iter()
	if err != nil {
		return err
	}
	terms, err := distinctTerms(it, tagPosting, ix, prefix)
	if err != nil {
		return err
	}
	quiet, err := sn.view.noLaterCommits()
	if err != nil {
		return err
	}
	if !sn.isNow || !quiet {
		hist, err := distinctTerms(it, tagHistory, ix, prefix)
		if err != nil {
			return err
		}
		terms = append(terms, hist...)
		slices.Sort(terms)
		terms = slices.Compact(terms)
	}
	for _, t := range terms {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func distinctTerms(it *pebble.Iterator, tag byte, ix graphstore.Index, prefix string) ([]string, error) {
	lo := appendEscapedPrefix([]byte{tag, byte(ix)}, prefix)
	it.SetBounds(lo, prefixEnd(lo))
	defer it.SetBounds(nil, nil) // the other scans seek by prefix, unbounded
	var out []string
	for valid := it.First(); valid; {
		term, _, err := readEscaped(it.Key()[2:])
		if err != nil {
			return nil, err
		}
		out = append(out, term)
		next := termPrefix(tag, ix, term)
		next[len(next)-1]++ // 0x00 0x02: past every entry of this term
		valid = it.SeekGE(next)
	}
	return out, it.Error()
}

// LookupExternal implements graphstore.Snapshot. The mapping is not
// versioned: it names the element the pair named when the snapshot opened.
func (sn *snapshot) LookupExternal(kind graphstore.Kind, source, ext string) (_ graphstore.ID, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return 0, graphstore.ErrClosed
	}
	return lookupExternal(sn.view.reader(), kind, source, ext)
}

// Estimate implements graphstore.Snapshot from the count cache, counting the
// term's current postings on a miss.
func (sn *snapshot) Estimate(ix graphstore.Index, term string) (_ int, err error) {
	defer markCorrupt(&err)
	if sn.closed {
		return 0, graphstore.ErrClosed
	}
	if set, ok := sn.presentSet(ix, term); ok {
		return set.card(), nil
	}
	k := termKey{ix, term}
	if n, ok := sn.s.count.get(k); ok {
		return n, nil
	}
	// The count to cache is the one as of the view's last published commit
	// (seen): commits after it reach the count cache as deltas.
	n, seen := 0, sn.view.seen
	if l, ok := sn.s.posts.get(k); ok && !l.tooLong {
		for _, iv := range l.list { // the cached list may already hold later commits
			if iv.from <= seen && seen < iv.to {
				n++
			}
		}
	} else {
		it, err := sn.view.iter()
		if err != nil {
			return 0, err
		}
		if err := scanCurrent(it, k, func(interval) { n++ }); err != nil {
			return 0, err
		}
		if quiet, err := sn.view.noLaterCommits(); err != nil || !quiet {
			return n, err // the scan may include an unpublished commit: do not cache it
		}
	}
	sn.s.count.put(k, n, seen)
	return n, nil
}

// Close implements graphstore.Snapshot.
func (sn *snapshot) Close() error {
	if sn.closed {
		return nil
	}
	sn.closed = true
	if sn.memo != nil {
		sn.memo.reset()
		memoPool.Put(sn.memo)
		sn.memo = nil
	}
	sn.releaseScratch()
	err := sn.view.release()
	sn.s.mu.Lock()
	if sn.s.readers[sn.ts]--; sn.s.readers[sn.ts] <= 0 {
		delete(sn.s.readers, sn.ts)
	}
	sn.s.mu.Unlock()
	return err
}

// intervals returns posting intervals of a term that include every interval
// live at ts: the whole cached list when the term is cached, else the term's
// current postings plus (for past reads) the history that ended after ts. A
// term loaded whole and short enough is cached for everyone.
func (s *Store) intervals(v *view, k termKey, ts int64, isNow bool) (plist, error) {
	if k.isAdjacency() {
		// Adjacency lives on the component's chain, where commits keep it
		// current; the posting cache never sees adjacency changes.
		id := k.component()
		if id == 0 {
			return nil, nil // not an id term: no component has it
		}
		ch, err := s.chainOf(v, id)
		if err != nil {
			return nil, err
		}
		return s.adjacency(v, ch, id, k.ix, ts, isNow)
	}
	if e, ok := s.posts.get(k); ok && !e.tooLong {
		return e.list, nil
	} else if ok {
		return s.partialIntervals(v, k, ts, isNow)
	}
	l, complete, err := s.loadTerm(v, k)
	if err != nil {
		return nil, err
	}
	s.posts.put(k, l, !complete, v.seen)
	if !complete {
		return s.partialIntervals(v, k, ts, isNow)
	}
	return l, nil
}

// loadTerm reads every interval of a term (current and history), sorted,
// unless there are more than the posting cache's cap: then complete is
// false and the list is not usable.
func (s *Store) loadTerm(v *view, k termKey) (l plist, complete bool, err error) {
	it, err := v.iter()
	if err != nil {
		return nil, false, err
	}
	if err := scanCurrent(it, k, func(iv interval) { l = append(l, iv) }); err != nil {
		return nil, false, err
	}
	room := s.posts.maxLen - len(l)
	if room < 0 {
		return nil, false, nil
	}
	err = scanHistory(it, k, 0, func(iv interval) bool {
		l = append(l, iv)
		room--
		return room >= 0
	})
	if err != nil || room < 0 {
		return nil, false, err
	}
	sortIntervals(l)
	return l, true, nil
}

// adjacency returns intervals of one side of a component's adjacency that
// include every interval live at ts, from the component's cached chain or,
// on a miss, from Pebble (then cached on the chain when short enough).
func (s *Store) adjacency(v *view, ch *chain, id graphstore.ID, ix graphstore.Index, ts int64, isNow bool) (plist, error) {
	switch a := &ch.adj[side(ix)]; {
	case a.loaded:
		return a.list, nil
	case a.tooLong:
		return s.partialIntervals(v, termKey{ix, graphstore.IDTerm(id)}, ts, isNow)
	}
	k := termKey{ix, graphstore.IDTerm(id)}
	l, complete, err := s.loadTerm(v, k)
	if err != nil {
		return nil, err
	}
	loaded := adjacency{tooLong: true}
	if complete {
		loaded = newAdjacency(l)
	}
	s.elems.setAdjacency(id, side(ix), loaded, v.seen)
	if !complete {
		return s.partialIntervals(v, k, ts, isNow)
	}
	return l, nil
}

// partialIntervals reads what one read at ts needs of a term too long to
// cache: its current postings and the history that ended after ts.
func (s *Store) partialIntervals(v *view, k termKey, ts int64, isNow bool) (plist, error) {
	it, err := v.iter()
	if err != nil {
		return nil, err
	}
	var l plist
	if err := scanCurrent(it, k, func(iv interval) { l = append(l, iv) }); err != nil {
		return nil, err
	}
	if isNow {
		if quiet, err := v.noLaterCommits(); err != nil || quiet {
			return l, err
		}
	}
	n := len(l)
	err = scanHistory(it, k, ts+1, func(iv interval) bool { l = append(l, iv); return true })
	if len(l) > n {
		sortIntervals(l)
	}
	return l, err
}

func sortIntervals(l plist) {
	slices.SortFunc(l, func(a, b interval) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.from, b.from))
	})
}

// scanCurrent calls fn for every current posting of a term, in id order.
func scanCurrent(it *pebble.Iterator, k termKey, fn func(interval)) error {
	lo := termPrefix(tagPosting, k.ix, k.term)
	n := len(lo)
	for valid := it.SeekPrefixGE(lo); valid; valid = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if len(key) != n+8 || len(v) < 8 {
			return errCorrupt
		}
		iv := interval{id: graphstore.ID(u64(key[n:])), from: int64(u64(v)), to: openEnd}
		if len(v) >= 16 {
			iv.aux = graphstore.ID(u64(v[8:]))
		}
		fn(iv)
	}
	return it.Error()
}

// scanHistory calls fn for every history entry of a term that ended at or
// after minTo, in order of end time, until fn returns false. Entries are
// keyed by their end, so the ones that ended earlier are never read.
func scanHistory(it *pebble.Iterator, k termKey, minTo int64, fn func(interval) bool) error {
	p := termPrefix(tagHistory, k.ix, k.term)
	n := len(p)
	for valid := it.SeekPrefixGE(appendU64(p, uint64(minTo))); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != n+24 {
			return errCorrupt
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		iv := interval{to: int64(u64(key[n:])), id: graphstore.ID(u64(key[n+8:])), from: int64(u64(key[n+16:]))}
		if len(v) >= 8 {
			iv.aux = graphstore.ID(u64(v))
		}
		if !fn(iv) {
			return nil
		}
	}
	return it.Error()
}

// chainOf returns the version directory of an element, loading it through
// v and caching it on a miss. An element never written has an empty chain.
func (s *Store) chainOf(v *view, id graphstore.ID) (*chain, error) {
	if ch := s.elems.get(id); ch != nil {
		return ch, nil
	}
	it, err := v.iter()
	if err != nil {
		return nil, err
	}
	ch := &chain{}
	for valid := it.SeekPrefixGE(versionPrefix(id)); valid; valid = it.Next() {
		k := it.Key()
		if len(k) != 17 {
			return nil, errCorrupt
		}
		// Only the value's length is needed (a tombstone is empty). Pebble
		// keeps all but an element's newest version in value blocks, and
		// the length is in the handle: reading it, unlike the value, costs
		// no block load, so a chain of 30 days of versions costs the seek.
		lv := it.LazyValue()
		ch.slots = append(ch.slots, &slot{ts: int64(u64(k[9:])), tomb: lv.Len() == 0})
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	s.elems.put(id, ch, v.seen)
	return ch, nil
}

// load returns the element version of a slot, decoding it on first use.
func (s *Store) load(v *view, id graphstore.ID, sl *slot) (*graphstore.Element, error) {
	if sl == nil || sl.tomb {
		return nil, nil
	}
	if e := sl.e.Load(); e != nil {
		return e, nil
	}
	val, closer, err := v.reader().Get(versionKey(id, sl.ts))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: element %d at %d: %w", id, sl.ts, err)
	}
	defer closer.Close()
	e, err := decodeElement(id, sl.ts, val)
	if err != nil {
		return nil, err
	}
	if e != nil {
		s.elems.storeDecoded(id, sl, e)
	}
	return sl.e.Load(), nil
}

// presentSet answers a term's postings from the present graph, when the
// snapshot reads at the commit it reflects.
func (sn *snapshot) presentSet(ix graphstore.Index, term string) (pset, bool) {
	if !sn.isNow || sn.s.now == nil {
		return pset{}, false
	}
	return sn.s.now.set(sn.ts, ix, term)
}

func (sn *snapshot) presentAdjacent(id graphstore.ID, ix graphstore.Index) ([]adjPair, bool) {
	if !sn.isNow || sn.s.now == nil {
		return nil, false
	}
	return sn.s.now.adjacent(sn.ts, id, side(ix))
}

// AdjacentView implements graphstore.AdjacencyViewer from the present
// graph, whose packed lists it converts into a list of the caller's own,
// or else from the component's chain (sideAt), without a copy.
func (sn *snapshot) AdjacentView(id graphstore.ID, ix graphstore.Index) ([]graphstore.Adjacency, bool, error) {
	if sn.closed {
		return nil, false, graphstore.ErrClosed
	}
	if ix != graphstore.IdxOut && ix != graphstore.IdxIn {
		return nil, false, fmt.Errorf("pebblestore: AdjacentView needs IdxOut or IdxIn, not %s", ix)
	}
	if l, ok := sn.presentAdjacent(id, ix); ok {
		return appendAdjacency(nil, l), true, nil
	}
	l, err := sn.chainAdjacent(id, ix)
	return l, err == nil, err
}

var _ graphstore.AdjacencyViewer = (*snapshot)(nil)

// PostingSet implements graphstore.SetReader from the present graph.
func (sn *snapshot) PostingSet(ix graphstore.Index, term string) (*roaring.Bitmap, bool, error) {
	if sn.closed {
		return nil, false, graphstore.ErrClosed
	}
	set, ok := sn.presentSet(ix, term)
	if !ok {
		return nil, false, nil
	}
	return set.bitmap(), true, nil
}

// PostingBlocks implements graphstore.DenseSetReader from the present
// graph.
func (sn *snapshot) PostingBlocks(ix graphstore.Index, term string) (*roaring.Bitmap, graphstore.DenseBlocks, bool, error) {
	if sn.closed {
		return nil, nil, false, graphstore.ErrClosed
	}
	set, ok := sn.presentSet(ix, term)
	if !ok {
		return nil, nil, false, nil
	}
	return set.bitmap(), set.dense, true, nil
}

var _ graphstore.DenseSetReader = (*snapshot)(nil)

// PostingSorted implements graphstore.SortedSetReader from the present
// graph.
func (sn *snapshot) PostingSorted(ix graphstore.Index, term string) ([]uint32, bool, error) {
	if sn.closed {
		return nil, false, graphstore.ErrClosed
	}
	set, ok := sn.presentSet(ix, term)
	if !ok {
		return nil, false, nil
	}
	ids, ok := set.sortedIDs()
	return ids, ok, nil
}

var _ graphstore.SortedSetReader = (*snapshot)(nil)

// AdjacentPage implements graphstore.Snapshot. From the present graph or a
// cached adjacency the page is a window of a list in memory; a hub too long
// to cache is read from Pebble a page at a time at the current time (its
// current postings are keyed by relation id), and whole for a past read.
func (sn *snapshot) AdjacentPage(id graphstore.ID, ix graphstore.Index, after graphstore.ID, max int, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	if sn.closed {
		return dst, graphstore.ErrClosed
	}
	if ix != graphstore.IdxOut && ix != graphstore.IdxIn {
		return dst, fmt.Errorf("pebblestore: AdjacentPage needs IdxOut or IdxIn, not %s", ix)
	}
	if l, ok := sn.presentAdjacent(id, ix); ok {
		if after > 0 { // a later page: past relation after (a first page, the usual read, starts at 0)
			i, _ := slices.BinarySearchFunc(l, after+1, func(a adjPair, id graphstore.ID) int {
				return cmp.Compare(graphstore.ID(a.rel), id)
			})
			l = l[i:]
		}
		if max > 0 && len(l) > max {
			l = l[:max]
		}
		return appendAdjacency(dst, l), nil
	}
	ch, err := sn.chain(id)
	if err != nil {
		return dst, err
	}
	if a := &ch.adj[side(ix)]; a.tooLong && sn.isNow {
		if quiet, err := sn.view.noLaterCommits(); err != nil || quiet {
			if err != nil {
				return dst, err
			}
			return sn.currentPage(id, ix, after, max, dst)
		}
	}
	all, err := sn.sideAt(ch, id, ix)
	if err != nil {
		markCorrupt(&err) // as Adjacent, which this read went through before
		return dst, err
	}
	return appendPage(dst, all, after, max), nil
}

// appendPage appends the entries of l (ascending by relation) after
// relation after, at most max of them (all when max ≤ 0).
func appendPage(dst, l []graphstore.Adjacency, after graphstore.ID, max int) []graphstore.Adjacency {
	i, _ := slices.BinarySearchFunc(l, after+1, func(a graphstore.Adjacency, id graphstore.ID) int {
		return cmp.Compare(a.Relation, id)
	})
	l = l[i:]
	if max > 0 && len(l) > max {
		l = l[:max]
	}
	return append(dst, l...)
}

// currentPage reads one page of a term's current postings: at the current
// time with no commit after the read's, they are exactly the live ones.
func (sn *snapshot) currentPage(id graphstore.ID, ix graphstore.Index, after graphstore.ID, max int, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	it, err := sn.view.iter()
	if err != nil {
		return dst, err
	}
	p := termPrefix(tagPosting, ix, graphstore.IDTerm(id))
	n := len(p)
	start := appendU64(slices.Clip(p), uint64(after)+1)
	for valid := it.SeekPrefixGE(start); valid; valid = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return dst, err
		}
		if len(key) != n+8 || len(v) < 16 {
			return dst, errCorrupt
		}
		dst = append(dst, graphstore.Adjacency{Relation: graphstore.ID(u64(key[n:])), Other: graphstore.ID(u64(v[8:]))})
		if max--; max == 0 {
			break
		}
	}
	return dst, it.Error()
}
