package exec

import (
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/planner"
)

// Reads at the current time on the Pebble store can take postings as
// compressed bitmaps (graphstore.SetReader). The engine then scans a term
// by iterating its bitmap instead of materialising an id list, and tests a
// filter's condition by set membership instead of loading each component:
// at a million components, loading components that a filter then drops was
// most of the time of a selective conjunction. Every use falls back to the
// plain reads when the snapshot cannot answer from memory.

// postingSet returns a term's postings as a bitmap when the snapshot holds
// it in memory.
func (r *run) postingSet(ix graphstore.Index, term string) (*roaring.Bitmap, bool, error) {
	sr, ok := r.snap.(graphstore.SetReader)
	if !ok {
		return nil, false, nil
	}
	return sr.PostingSet(ix, term)
}

// termsSet unites the bitmaps of several terms; ok is false when any of
// them is not in memory.
func (r *run) termsSet(ix graphstore.Index, terms []string) (*roaring.Bitmap, bool, error) {
	sets := make([]*roaring.Bitmap, 0, len(terms))
	for _, t := range terms {
		s, ok, err := r.postingSet(ix, t)
		if err != nil || !ok {
			return nil, false, err
		}
		sets = append(sets, s)
	}
	switch len(sets) {
	case 0:
		return roaring.New(), true, nil
	case 1:
		return sets[0], true, nil
	}
	return roaring.FastOr(sets...), true, nil
}

// globSet unites the bitmaps of every term of an index that matches a glob.
func (r *run) globSet(ix graphstore.Index, globs []planner.Glob) (*roaring.Bitmap, bool, error) {
	var terms []string
	for _, g := range globs {
		err := r.snap.Terms(ix, g.Prefix(), func(term string) error {
			if g.Match(term) {
				terms = append(terms, term)
			}
			return r.check()
		})
		if err != nil {
			return nil, false, err
		}
	}
	return r.termsSet(ix, terms)
}

// setIter streams a bitmap in ascending order; it implements iterator.
type setIter struct {
	it      roaring.IntPeekable
	cur     graphstore.ID
	started bool
}

func newSetIter(bm *roaring.Bitmap) *setIter { return &setIter{it: bm.Iterator()} }

func (s *setIter) Next() bool {
	if !s.it.HasNext() {
		return false
	}
	s.cur, s.started = graphstore.ID(s.it.Next()), true
	return true
}

func (s *setIter) SeekGE(id graphstore.ID) bool {
	if s.started && s.cur >= id {
		return true
	}
	if id > math.MaxUint32 {
		return false
	}
	s.it.AdvanceIfNeeded(uint32(id))
	return s.Next()
}

func (s *setIter) At() graphstore.ID { return s.cur }
func (s *setIter) Err() error        { return nil }
func (s *setIter) Close() error      { return nil }

// setPred compiles a predicate into a membership test over bitmaps; ok is
// false when some term is not in memory (then the filter loads components).
func (r *run) setPred(p planner.Pred) (func(graphstore.ID) bool, bool, error) {
	switch p := p.(type) {
	case *planner.Match:
		bm, ok, err := r.matchSet(p)
		if err != nil || !ok {
			return nil, false, err
		}
		return func(id graphstore.ID) bool { return id <= math.MaxUint32 && bm.Contains(uint32(id)) }, true, nil
	case *planner.Not:
		x, ok, err := r.setPred(p.X)
		if err != nil || !ok {
			return nil, false, err
		}
		return func(id graphstore.ID) bool { return !x(id) }, true, nil
	case *planner.And, *planner.Or:
		return r.setJunction(p)
	}
	return nil, false, nil
}

func (r *run) setJunction(p planner.Pred) (func(graphstore.ID) bool, bool, error) {
	xs, all := []planner.Pred(nil), false
	switch p := p.(type) {
	case *planner.And:
		xs, all = p.Xs, true
	case *planner.Or:
		xs = p.Xs
	}
	fns := make([]func(graphstore.ID) bool, len(xs))
	for i, x := range xs {
		f, ok, err := r.setPred(x)
		if err != nil || !ok {
			return nil, false, err
		}
		fns[i] = f
	}
	return func(id graphstore.ID) bool {
		for _, f := range fns {
			if f(id) != all {
				return !all
			}
		}
		return all
	}, true, nil
}

// filterSet returns the members of in that p holds for, by set algebra;
// ok is false when some term is not in memory. The result may be in
// itself, which the caller must not modify either.
func (r *run) filterSet(in *roaring.Bitmap, p planner.Pred) (*roaring.Bitmap, bool, error) {
	switch p := p.(type) {
	case *planner.Match:
		bm, ok, err := r.matchSet(p)
		if err != nil || !ok {
			return nil, false, err
		}
		return roaring.And(in, bm), true, nil
	case *planner.Not:
		x, ok, err := r.filterSet(in, p.X)
		if err != nil || !ok {
			return nil, false, err
		}
		return roaring.AndNot(in, x), true, nil
	case *planner.And:
		out := in
		for _, x := range p.Xs {
			var ok bool
			var err error
			if out, ok, err = r.filterSet(out, x); err != nil || !ok {
				return nil, false, err
			}
		}
		return out, true, nil
	case *planner.Or:
		parts := make([]*roaring.Bitmap, 0, len(p.Xs))
		for _, x := range p.Xs {
			part, ok, err := r.filterSet(in, x)
			if err != nil || !ok {
				return nil, false, err
			}
			parts = append(parts, part)
		}
		if len(parts) == 0 {
			return roaring.New(), true, nil
		}
		return roaring.FastOr(parts...), true, nil
	}
	return nil, false, nil
}

// matchSet is the set of components a Match holds for.
func (r *run) matchSet(m *planner.Match) (*roaring.Bitmap, bool, error) {
	if m.Field == planner.FieldID {
		if len(m.Globs) > 0 {
			return nil, false, nil
		}
		bm := roaring.New()
		for _, t := range m.Terms {
			if n, err := strconv.ParseUint(t, 10, 32); err == nil {
				bm.Add(uint32(n))
			}
		}
		return bm, true, nil
	}
	ix, err := indexOf(m.Field)
	if err != nil {
		return nil, false, err
	}
	terms, ok, err := r.termsSet(ix, m.Terms)
	if err != nil || !ok || len(m.Globs) == 0 {
		return terms, ok, err
	}
	globs, ok, err := r.globSet(ix, m.Globs)
	if err != nil || !ok {
		return nil, false, err
	}
	return roaring.Or(terms, globs), true, nil
}

// idSet is a set of element ids: bitmaps of 4,096 ids each, found by id /
// 4096, with the block used last at hand. Ids that come in order (a
// posting list, a sorted result) cost a bit test each; scattered ones a
// lookup of a small integer key. A traversal and a result of ten
// thousand components test and add their ids many times over, which a
// map of ids made a third of their time.
type idSet struct {
	blocks  map[graphstore.ID]*idBlock
	lastKey graphstore.ID
	last    *idBlock
	n       int
}

type idBlock [64]uint64

const idBlockBits = 12

func newIDSet() *idSet { return &idSet{blocks: map[graphstore.ID]*idBlock{}} }

// block returns the bitmap that holds id, creating it when create is set
// (else nil when there is none).
func (s *idSet) block(id graphstore.ID, create bool) *idBlock {
	k := id >> idBlockBits
	if s.last != nil && s.lastKey == k {
		return s.last
	}
	b := s.blocks[k]
	if b == nil {
		if !create {
			return nil
		}
		b = new(idBlock)
		s.blocks[k] = b
	}
	s.last, s.lastKey = b, k
	return b
}

func (s *idSet) has(id graphstore.ID) bool {
	b := s.block(id, false)
	return b != nil && b[id>>6&63]&(1<<(id&63)) != 0
}

// add adds id and reports whether it was not there yet.
func (s *idSet) add(id graphstore.ID) bool {
	b := s.block(id, true)
	w, bit := &b[id>>6&63], uint64(1)<<(id&63)
	if *w&bit != 0 {
		return false
	}
	*w |= bit
	s.n++
	return true
}

func (s *idSet) len() int { return s.n }

// members is a membership test over a sorted list of ids: a bitmap over
// the list's range when the ids are dense enough (at most 16 bytes of
// bitmap per id), a binary search of a short list, else the engine's id
// set. A bitmap of 32 KiB or more comes from a pool and goes back to it on
// release: a large one is fresh memory per query otherwise, which costs
// page faults on this project's VM, and a broad result (a tenth of a
// million components) tests some three hundred thousand ids against it,
// which the id set's map made a third of relating the result.
type members struct {
	lo     graphstore.ID
	bits   []uint64
	pooled *[]uint64
	sorted []graphstore.ID
	set    *idSet
}

const (
	maxMemberWords  = 4000 // 32,000 bytes: below the runtime's 32 KiB of a small object
	maxMemberSearch = 256
)

var memberPool sync.Pool // of *[]uint64

func membersOf(sorted []graphstore.ID) members {
	if len(sorted) == 0 {
		return members{}
	}
	lo, hi := sorted[0], sorted[len(sorted)-1]
	if words := uint64(hi-lo)/64 + 1; words <= 2*uint64(len(sorted))+16 {
		m := members{lo: lo}
		if words <= maxMemberWords {
			m.bits = make([]uint64, words)
		} else {
			m.pooled, m.bits = pooledWords(int(words))
		}
		for _, id := range sorted {
			d := id - lo
			m.bits[d/64] |= 1 << (d % 64)
		}
		return m
	}
	if len(sorted) <= maxMemberSearch {
		return members{sorted: sorted}
	}
	set := newIDSet()
	for _, id := range sorted {
		set.add(id)
	}
	return members{set: set}
}

// pooledWords returns n zeroed words from the pool.
func pooledWords(n int) (*[]uint64, []uint64) {
	p, _ := memberPool.Get().(*[]uint64)
	if p == nil || cap(*p) < n {
		p = &[]uint64{}
		*p = make([]uint64, n)
		return p, *p
	}
	w := (*p)[:n]
	clear(w)
	return p, w
}

// release hands a pooled bitmap back; m must not be used after.
func (m *members) release() {
	if m.pooled != nil {
		memberPool.Put(m.pooled)
		m.pooled, m.bits = nil, nil
	}
}

func (m members) has(id graphstore.ID) bool {
	switch {
	case m.bits != nil:
		d := uint64(id - m.lo) // wraps for id < lo: past the bitmap
		return d/64 < uint64(len(m.bits)) && m.bits[d/64]&(1<<(d%64)) != 0
	case m.set != nil:
		return m.set.has(id)
	}
	_, ok := slices.BinarySearch(m.sorted, id)
	return ok
}
