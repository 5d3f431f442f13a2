package pebblestore

import (
	"fmt"
	"slices"
	"time"

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
	sn.snap = s.db.NewSnapshot()
	s.readers[sn.ts]++
	return sn, nil
}

// snapshot is a read at one time, on a Pebble snapshot. Its visibility bound
// ts is the read time or, for reads at or after the last commit, the last
// commit: every commit after the snapshot opened is stamped later, so the
// caches (which may already hold newer versions) are filtered by ts alone.
type snapshot struct {
	s      *Store
	snap   *pebble.Snapshot
	it     *pebble.Iterator // reused for every scan; created on first use
	ts     int64
	isNow  bool // no commit after ts existed at open: history holds nothing live at ts
	shown  time.Time
	closed bool
}

var _ graphstore.Snapshot = (*snapshot)(nil)

func (sn *snapshot) Time() time.Time { return sn.shown }

func (sn *snapshot) iter() (*pebble.Iterator, error) {
	if sn.closed {
		return nil, graphstore.ErrClosed
	}
	if sn.it == nil {
		it, err := sn.snap.NewIter(nil)
		if err != nil {
			return nil, err
		}
		sn.it = it
	}
	return sn.it, nil
}

// Postings implements graphstore.Snapshot: the current table's entries that
// started by ts, plus (for past reads) the history entries that ended after
// ts and started by it.
func (sn *snapshot) Postings(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	it, err := sn.iter()
	if err != nil {
		return nil, err
	}
	var out []graphstore.ID
	err = scanCurrent(it, ix, term, func(id graphstore.ID, from int64, _ graphstore.ID) {
		if from <= sn.ts {
			out = append(out, id)
		}
	})
	if err != nil || sn.isNow {
		return out, err
	}
	n := len(out)
	err = scanHistory(it, ix, term, sn.ts, func(id graphstore.ID, from int64, _ graphstore.ID) {
		if from <= sn.ts {
			out = append(out, id)
		}
	})
	if len(out) > n {
		slices.Sort(out)
	}
	return out, err
}

// Adjacent implements graphstore.Snapshot.
func (sn *snapshot) Adjacent(id graphstore.ID, ix graphstore.Index) ([]graphstore.Adjacency, error) {
	if ix != graphstore.IdxOut && ix != graphstore.IdxIn {
		return nil, fmt.Errorf("pebblestore: Adjacent needs IdxOut or IdxIn, not %s", ix)
	}
	it, err := sn.iter()
	if err != nil {
		return nil, err
	}
	term := graphstore.IDTerm(id)
	var out []graphstore.Adjacency
	add := func(rel graphstore.ID, from int64, other graphstore.ID) {
		if from <= sn.ts {
			out = append(out, graphstore.Adjacency{Relation: rel, Other: other})
		}
	}
	if err := scanCurrent(it, ix, term, add); err != nil || sn.isNow {
		return out, err
	}
	n := len(out)
	err = scanHistory(it, ix, term, sn.ts, add)
	if len(out) > n {
		slices.SortFunc(out, func(a, b graphstore.Adjacency) int { return cmpID(a.Relation, b.Relation) })
	}
	return out, err
}

func cmpID(a, b graphstore.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Element implements graphstore.Snapshot.
func (sn *snapshot) Element(id graphstore.ID) (*graphstore.Element, error) {
	if sn.closed {
		return nil, graphstore.ErrClosed
	}
	ch, err := sn.s.chainOf(id)
	if err != nil || ch == nil {
		return nil, err
	}
	return sn.s.load(id, ch.at(sn.ts))
}

// Terms implements graphstore.Snapshot by hopping from term to term: one
// seek per distinct term.
func (sn *snapshot) Terms(ix graphstore.Index, prefix string, fn func(string) error) error {
	it, err := sn.iter()
	if err != nil {
		return err
	}
	terms, err := distinctTerms(it, tagPosting, ix, prefix)
	if err != nil {
		return err
	}
	if !sn.isNow {
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
// versioned: it names the element the pair names now.
func (sn *snapshot) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	if sn.closed {
		return 0, graphstore.ErrClosed
	}
	return lookupExternal(sn.snap, kind, source, ext)
}

// Estimate implements graphstore.Snapshot from the count cache, counting the
// term's current postings on a miss.
func (sn *snapshot) Estimate(ix graphstore.Index, term string) (int, error) {
	if sn.closed {
		return 0, graphstore.ErrClosed
	}
	k := countKey{ix, term}
	n, ok, gen := sn.s.count.get(k)
	if ok {
		return n, nil
	}
	it, err := sn.s.db.NewIter(nil) // the live database: the count is cached for everyone
	if err != nil {
		return 0, err
	}
	defer it.Close()
	err = scanCurrent(it, ix, term, func(graphstore.ID, int64, graphstore.ID) { n++ })
	if err != nil {
		return 0, err
	}
	sn.s.count.put(k, n, gen)
	return n, nil
}

// Close implements graphstore.Snapshot.
func (sn *snapshot) Close() error {
	if sn.closed {
		return nil
	}
	sn.closed = true
	var err error
	if sn.it != nil {
		err = sn.it.Close()
	}
	if e := sn.snap.Close(); err == nil {
		err = e
	}
	sn.s.mu.Lock()
	if sn.s.readers[sn.ts]--; sn.s.readers[sn.ts] <= 0 {
		delete(sn.s.readers, sn.ts)
	}
	sn.s.mu.Unlock()
	return err
}

// scanCurrent calls fn(id, from, aux) for every current posting of a term.
func scanCurrent(it *pebble.Iterator, ix graphstore.Index, term string, fn func(graphstore.ID, int64, graphstore.ID)) error {
	lo := termPrefix(tagPosting, ix, term)
	it.SetBounds(lo, prefixEnd(lo))
	n := len(lo)
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if len(k) != n+8 || len(v) < 8 {
			return errCorrupt
		}
		var aux graphstore.ID
		if len(v) >= 16 {
			aux = graphstore.ID(u64(v[8:]))
		}
		fn(graphstore.ID(u64(k[n:])), int64(u64(v)), aux)
	}
	return it.Error()
}

// scanHistory calls fn(id, from, aux) for every history entry of a term that
// ended after ts. Entries are keyed by their end, so the ones that ended
// earlier are never read.
func scanHistory(it *pebble.Iterator, ix graphstore.Index, term string, ts int64, fn func(graphstore.ID, int64, graphstore.ID)) error {
	p := termPrefix(tagHistory, ix, term)
	n := len(p)
	it.SetBounds(appendU64(p, uint64(ts)+1), prefixEnd(p[:n:n]))
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if len(k) != n+24 {
			return errCorrupt
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		var aux graphstore.ID
		if len(v) >= 8 {
			aux = graphstore.ID(u64(v))
		}
		fn(graphstore.ID(u64(k[n+8:])), int64(u64(k[n+16:])), aux)
	}
	return it.Error()
}

// chainOf returns the version directory of an element, loading and caching
// it on a miss. An element never written has an empty chain.
func (s *Store) chainOf(id graphstore.ID) (*chain, error) {
	ch, gen := s.elems.get(id)
	if ch != nil {
		return ch, nil
	}
	ch, err := s.loadChain(id)
	if err != nil {
		return nil, err
	}
	s.elems.put(id, ch, gen)
	return ch, nil
}

// loadChain reads an element's version directory from the live database.
func (s *Store) loadChain(id graphstore.ID) (*chain, error) {
	p := versionPrefix(id)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	ch := &chain{}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if len(k) != 17 {
			return nil, errCorrupt
		}
		ch.slots = append(ch.slots, &slot{ts: int64(u64(k[9:])), tomb: it.Value() == nil || len(it.Value()) == 0})
	}
	return ch, it.Error()
}

// load returns the element version of a slot, decoding it on first use.
func (s *Store) load(id graphstore.ID, sl *slot) (*graphstore.Element, error) {
	if sl == nil || sl.tomb {
		return nil, nil
	}
	if e := sl.e.Load(); e != nil {
		return e, nil
	}
	v, closer, err := s.db.Get(versionKey(id, sl.ts))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: element %d at %d: %w", id, sl.ts, err)
	}
	defer closer.Close()
	e, err := decodeElement(id, sl.ts, v)
	if err != nil {
		return nil, err
	}
	if e != nil && sl.e.CompareAndSwap(nil, e) {
		s.elems.noteDecoded(id, e)
	}
	return sl.e.Load(), nil
}
