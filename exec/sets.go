package exec

import (
	"cmp"
	"math"
	"math/bits"
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

// memSet is a set of ids in memory: a bitmap, and for a term's postings
// the dense blocks the store keeps beside it (graphstore.DenseBlocks). It
// is shared: never modify it.
type memSet struct {
	bm    *roaring.Bitmap
	dense graphstore.DenseBlocks
}

func (s memSet) card() uint64 { return s.bm.GetCardinality() }

// has reports whether the set holds id.
func (s memSet) has(id graphstore.ID) bool {
	if id > math.MaxUint32 {
		return false
	}
	if blk := s.block(uint64(id) >> 16); blk != nil {
		return blk[id>>6&1023]&(1<<(id&63)) != 0
	}
	return s.bm.Contains(uint32(id))
}

// block returns the dense block b, nil when there is none.
func (s memSet) block(b uint64) *[1024]uint64 {
	if b < uint64(len(s.dense)) {
		return s.dense[b]
	}
	return nil
}

// postingSet returns a term's postings when the snapshot holds them in
// memory, with their dense blocks when it keeps them.
func (r *run) postingSet(ix graphstore.Index, term string) (memSet, bool, error) {
	if dr, ok := r.snap.(graphstore.DenseSetReader); ok {
		bm, dense, ok, err := dr.PostingBlocks(ix, term)
		return memSet{bm: bm, dense: dense}, ok, err
	}
	sr, ok := r.snap.(graphstore.SetReader)
	if !ok {
		return memSet{}, false, nil
	}
	bm, ok, err := sr.PostingSet(ix, term)
	return memSet{bm: bm}, ok, err
}

// termsSet unites the postings of several terms; ok is false when any of
// them is not in memory.
func (r *run) termsSet(ix graphstore.Index, terms []string) (memSet, bool, error) {
	sets := make([]*roaring.Bitmap, 0, len(terms))
	for _, t := range terms {
		s, ok, err := r.postingSet(ix, t)
		if err != nil || !ok {
			return memSet{}, false, err
		}
		if len(terms) == 1 {
			return s, true, nil
		}
		sets = append(sets, s.bm)
	}
	if len(sets) == 0 {
		return memSet{bm: roaring.New()}, true, nil
	}
	return memSet{bm: roaring.FastOr(sets...)}, true, nil
}

// globSet unites the postings of every term of an index that matches a
// glob.
func (r *run) globSet(ix graphstore.Index, globs []planner.Glob) (memSet, bool, error) {
	var terms []string
	for _, g := range globs {
		err := r.snap.Terms(ix, g.Prefix(), func(term string) error {
			if g.Match(term) {
				terms = append(terms, term)
			}
			return r.check()
		})
		if err != nil {
			return memSet{}, false, err
		}
	}
	return r.termsSet(ix, terms)
}

// intersectAll intersects sets in memory, smallest first: block by block
// (intersectBlocks) when most of the smallest set's ids lie in blocks
// where every set is dense (a million components, where the blocks'
// words intersect three times as fast as roaring's arrays); else as
// bitmaps, stopping once the intersection is empty (100k components with
// a month of churn, where ids spread over forty blocks that few sets fill
// and testing the ids of the sparse blocks one by one costs more than
// roaring's merge). The result may be one
// of the inputs (never modify it).
func intersectAll(sets []memSet) memSet {
	slices.SortFunc(sets, func(a, b memSet) int { return cmp.Compare(a.card(), b.card()) })
	if len(sets) == 1 {
		return sets[0]
	}
	if denseShare(sets) {
		return memSet{bm: intersectBlocks(sets)}
	}
	out := roaring.And(sets[0].bm, sets[1].bm)
	for _, s := range sets[2:] {
		if out.IsEmpty() {
			break
		}
		out.And(s.bm) // out is this intersection's own
	}
	return memSet{bm: out}
}

// denseShare reports whether at least 7/8 of the smallest set's ids lie
// in blocks where every set is dense.
func denseShare(sets []memSet) bool {
	small := sets[0]
	covered := uint64(0)
	for b, blk := range small.dense {
		if blk == nil {
			continue
		}
		all := true
		for _, s := range sets[1:] {
			all = all && s.block(uint64(b)) != nil
		}
		if all {
			covered += small.bm.Rank(uint32(b<<16|0xffff)) - rankBelow(small.bm, uint64(b)<<16)
		}
	}
	return covered > 0 && covered*8 >= small.card()*7
}

// rankBelow counts the ids of bm below x.
func rankBelow(bm *roaring.Bitmap, x uint64) uint64 {
	if x == 0 {
		return 0
	}
	return bm.Rank(uint32(x - 1))
}

// intersectBlocks intersects sets sorted by size, a block of 65,536 ids
// at a time over the blocks the smallest has ids in: where every set has
// the block dense, by ANDing its words; else the ids of a set that is
// sparse there (fewer than a dense block's share, or no dense blocks at
// all) are each tested in the others, by a bit of a dense block or by
// advancing an iterator (the ids come in order).
func intersectBlocks(sets []memSet) *roaring.Bitmap {
	var out []uint32
	its := make([]roaring.IntPeekable, len(sets)) // of sparse blocks, made on first use
	blocks := make([]*[1024]uint64, len(sets))
	it := sets[0].bm.Iterator()
	for it.HasNext() {
		b := uint64(it.PeekNext()) >> 16
		sparse := -1
		for i, s := range sets {
			if blocks[i] = s.block(b); blocks[i] == nil && sparse < 0 {
				sparse = i
			}
		}
		if sparse < 0 {
			out = andBlocks(out, b, blocks)
		} else {
			d := it
			if sparse > 0 {
				d = iterAt(sets, its, sparse, uint32(b<<16))
			}
			for d.HasNext() && uint64(d.PeekNext())>>16 == b {
				if id := d.Next(); containsAll(sets, its, blocks, sparse, id) {
					out = append(out, id)
				}
			}
		}
		if b == math.MaxUint16 {
			break
		}
		it.AdvanceIfNeeded(uint32((b + 1) << 16))
	}
	return roaring.BitmapOf(out...)
}

// andBlocks appends the ids of block b that every one of blocks has,
// four words at a time: the four words of the first two blocks are
// ANDed without a branch, and the group is skipped when none of them
// meets (a test per word mispredicted whenever the sets meet in some
// words and not in others, and the mispredictions were most of
// intersecting a million components' sets), then the same with the
// third. The loop keeps its words in registers; a group that meets
// goes on in andRest when there are more blocks.
func andBlocks(out []uint32, b uint64, blocks []*[1024]uint64) []uint32 {
	x, y, z, rest := blocks[0], blocks[1], blocks[1], blocks[2:] // ANDing y twice changes nothing
	if len(rest) > 0 {
		z, rest = rest[0], rest[1:]
	}
	for w := 0; w < len(x); w += 4 {
		xs, ys := (*[4]uint64)(x[w:]), (*[4]uint64)(y[w:])
		v0, v1, v2, v3 := xs[0]&ys[0], xs[1]&ys[1], xs[2]&ys[2], xs[3]&ys[3]
		if v0|v1|v2|v3 == 0 {
			continue
		}
		zs := (*[4]uint64)(z[w:])
		v0, v1, v2, v3 = v0&zs[0], v1&zs[1], v2&zs[2], v3&zs[3]
		if v0|v1|v2|v3 == 0 {
			continue
		}
		at := uint32(b<<16) | uint32(w<<6)
		if len(rest) > 0 {
			out = andRest(out, at, rest, w, [4]uint64{v0, v1, v2, v3})
			continue
		}
		out = appendBits(out, at, v0)
		out = appendBits(out, at+64, v1)
		out = appendBits(out, at+128, v2)
		out = appendBits(out, at+192, v3)
	}
	return out
}

// andRest ANDs words w to w+3 of blocks into v and appends the ids of
// their bits, the first word's first bit being at.
func andRest(out []uint32, at uint32, blocks []*[1024]uint64, w int, v [4]uint64) []uint32 {
	for _, z := range blocks {
		zs := (*[4]uint64)(z[w:])
		for k := range v {
			v[k] &= zs[k]
		}
	}
	for k, vk := range v {
		out = appendBits(out, at+uint32(k)*64, vk)
	}
	return out
}

// appendBits appends at plus the index of every set bit of v.
func appendBits(out []uint32, at uint32, v uint64) []uint32 {
	for v != 0 {
		out = append(out, at|uint32(bits.TrailingZeros64(v)))
		v &= v - 1
	}
	return out
}

// iterAt returns set i's iterator (made on first use) advanced to id.
func iterAt(sets []memSet, its []roaring.IntPeekable, i int, id uint32) roaring.IntPeekable {
	if its[i] == nil {
		its[i] = sets[i].bm.Iterator()
	}
	its[i].AdvanceIfNeeded(id)
	return its[i]
}

// containsAll reports whether every set but skip holds id: by the bit of
// its dense block (blocks, of id's block) or its iterator, which it
// advances.
func containsAll(sets []memSet, its []roaring.IntPeekable, blocks []*[1024]uint64, skip int, id uint32) bool {
	for i := range sets {
		switch blk := blocks[i]; {
		case i == skip:
		case blk != nil:
			if blk[id>>6&1023]&(1<<(id&63)) == 0 {
				return false
			}
		default:
			if it := iterAt(sets, its, i, id); !it.HasNext() || it.PeekNext() != id {
				return false
			}
		}
	}
	return true
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
		set, ok, err := r.matchSet(p)
		if err != nil || !ok {
			return nil, false, err
		}
		return set.has, true, nil
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
func (r *run) filterSet(in memSet, p planner.Pred) (memSet, bool, error) {
	switch p := p.(type) {
	case *planner.Match:
		m, ok, err := r.matchSet(p)
		if err != nil || !ok {
			return memSet{}, false, err
		}
		return intersectAll([]memSet{in, m}), true, nil
	case *planner.Not:
		x, ok, err := r.filterSet(in, p.X)
		if err != nil || !ok {
			return memSet{}, false, err
		}
		return memSet{bm: roaring.AndNot(in.bm, x.bm)}, true, nil
	case *planner.And:
		// The terms together (intersectAll picks the order and the
		// blocks), then the rest.
		sets, rest := []memSet{in}, []planner.Pred(nil)
		for _, x := range p.Xs {
			m, ok := x.(*planner.Match)
			if !ok {
				rest = append(rest, x)
				continue
			}
			set, ok, err := r.matchSet(m)
			if err != nil || !ok {
				return memSet{}, false, err
			}
			sets = append(sets, set)
		}
		out := intersectAll(sets)
		for _, x := range rest {
			var ok bool
			var err error
			if out, ok, err = r.filterSet(out, x); err != nil || !ok {
				return memSet{}, false, err
			}
		}
		return out, true, nil
	case *planner.Or:
		parts := make([]*roaring.Bitmap, 0, len(p.Xs))
		for _, x := range p.Xs {
			part, ok, err := r.filterSet(in, x)
			if err != nil || !ok {
				return memSet{}, false, err
			}
			parts = append(parts, part.bm)
		}
		if len(parts) == 0 {
			return memSet{bm: roaring.New()}, true, nil
		}
		return memSet{bm: roaring.FastOr(parts...)}, true, nil
	}
	return memSet{}, false, nil
}

// matchSet is the set of components a Match holds for.
func (r *run) matchSet(m *planner.Match) (memSet, bool, error) {
	if m.Field == planner.FieldID {
		if len(m.Globs) > 0 {
			return memSet{}, false, nil
		}
		bm := roaring.New()
		for _, t := range m.Terms {
			if n, err := strconv.ParseUint(t, 10, 32); err == nil {
				bm.Add(uint32(n))
			}
		}
		return memSet{bm: bm}, true, nil
	}
	ix, err := indexOf(m.Field)
	if err != nil {
		return memSet{}, false, err
	}
	terms, ok, err := r.termsSet(ix, m.Terms)
	if err != nil || !ok || len(m.Globs) == 0 {
		return terms, ok, err
	}
	globs, ok, err := r.globSet(ix, m.Globs)
	if err != nil || !ok {
		return memSet{}, false, err
	}
	return memSet{bm: roaring.Or(terms.bm, globs.bm)}, true, nil
}

// idSet is a set of element ids: bitmaps of 4,096 ids each, found by id /
// 4096, with the block used last at hand. Ids that come in order (a
// posting list, a sorted result) cost a bit test each; scattered ones a
// lookup of a small integer key. A traversal and a result of ten
// thousand components test and add their ids many times over, which a
// map of ids made a third of their time.
//
// A run keeps its sets for the next run (reset): at a million components
// the ids a traversal touches are scattered, each in a block of its own,
// and the fresh blocks and map of two sets per query were a quarter of a
// traversal's time.
type idSet struct {
	blocks  map[graphstore.ID]*idBlock
	lastKey graphstore.ID
	last    *idBlock
	n       int
	spare   []*idBlock // cleared blocks to use again
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
		if n := len(s.spare); n > 0 {
			b, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			b = new(idBlock)
		}
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

// maxKeptBlocks is how many blocks (of 512 bytes) a set may hold and
// still be kept for another run by reset: a broad answer's sets go.
const maxKeptBlocks = 512

// reset empties s to be used again and reports whether it is worth
// keeping: its blocks, cleared, become spares.
func (s *idSet) reset() bool {
	if len(s.blocks)+len(s.spare) > maxKeptBlocks {
		return false
	}
	for _, b := range s.blocks {
		clear(b[:])
		s.spare = append(s.spare, b)
	}
	clear(s.blocks)
	s.last, s.lastKey, s.n = nil, 0, 0
	return true
}

// members is a membership test over a sorted list of ids: a bitmap over
// the list's range when the ids are dense enough (at most 64 bytes of
// bitmap per id, see memberWordsPerID), a binary search of a short list,
// else the engine's id set. A bitmap of 32 KiB or more comes from a pool and goes back to it on
// release: a large one is fresh memory per query otherwise, which costs
// page faults on this project's VM, and a broad result (a tenth of a
// million components) tests some three hundred thousand ids against it,
// which the id set's map made a third of relating the result.
//
// A short list also has a filter: 4,096 bits, one set per id by a hash, so
// that the ids it does not hold (nearly all adjacent ids of a small
// result: at a million components a selective filter's 100 rows have
// some 300 neighbours, a few of them in the result) are turned away by one
// word's test instead of a binary search of unpredictable branches.
type members struct {
	lo     graphstore.ID
	bits   []uint64
	pooled *[]uint64
	sorted []graphstore.ID
	filter []uint64 // with sorted: filterWords words
	set    *idSet
}

const (
	maxMemberWords  = 4000 // 32,000 bytes: below the runtime's 32 KiB of a small object
	maxMemberSearch = 256
	filterWords     = 64
	// memberWordsPerID is how many words of bitmap per id of the list a
	// bitmap over its range may take: one cache line to clear per id
	// costs less than the id set's map probe per test. A broad result at
	// 100k components with a month of churn (ten thousand ids spread over
	// 2.6 million, four words per id) took the id set before, and its
	// tests were a fifth of the query.
	memberWordsPerID = 8
)

// filterBit is where an id's bit lies in a members filter (a
// multiplicative hash to 12 bits).
func filterBit(id graphstore.ID) uint64 { return uint64(id) * 0x9e3779b97f4a7c15 >> 52 }

var memberPool sync.Pool // of *[]uint64

func membersOf(sorted []graphstore.ID) members {
	if len(sorted) == 0 {
		return members{}
	}
	lo, hi := sorted[0], sorted[len(sorted)-1]
	if words := uint64(hi-lo)/64 + 1; words <= memberWordsPerID*uint64(len(sorted))+16 {
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
		m := members{sorted: sorted}
		m.pooled, m.filter = pooledWords(filterWords)
		for _, id := range sorted {
			b := filterBit(id)
			m.filter[b/64] |= 1 << (b % 64)
		}
		return m
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
		m.pooled, m.bits, m.filter = nil, nil, nil
	}
}

// forStore returns m for a store to test ids against (graphstore.AmongReader):
// its bitmap when it has one, else its test.
func (m *members) forStore() graphstore.Members {
	if m.bits != nil {
		return graphstore.Members{Lo: m.lo, Words: m.bits}
	}
	return graphstore.Members{Has: m.hasID}
}

// hasID is has through a pointer: a store calls it per adjacent id, and
// the method value of has would copy m for every call.
func (m *members) hasID(id graphstore.ID) bool { return m.has(id) }

func (m members) has(id graphstore.ID) bool {
	switch {
	case m.bits != nil:
		d := uint64(id - m.lo) // wraps for id < lo: past the bitmap
		return d/64 < uint64(len(m.bits)) && m.bits[d/64]&(1<<(d%64)) != 0
	case m.set != nil:
		return m.set.has(id)
	case m.filter != nil:
		if b := filterBit(id); m.filter[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	_, ok := slices.BinarySearch(m.sorted, id)
	return ok
}
