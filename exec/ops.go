package exec

import (
	"container/heap"
	"slices"
	"sort"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// iterator streams component ids in ascending order. It is the one iterator
// shape of the engine: Next advances (false at the end or on error), At is
// the current id, Err the error that stopped it, Close releases it.
// SeekGE moves to the first id ≥ id (never backwards) and reports whether
// there is one; intersections and differences use it to skip.
type iterator interface {
	Next() bool
	SeekGE(id graphstore.ID) bool
	At() graphstore.ID
	Err() error
	Close() error
}

// sliceIter streams a sorted slice.
type sliceIter struct {
	ids []graphstore.ID
	i   int // index of the current id + 1
}

func newSliceIter(ids []graphstore.ID) *sliceIter { return &sliceIter{ids: ids} }

func (s *sliceIter) Next() bool {
	if s.i >= len(s.ids) {
		return false
	}
	s.i++
	return true
}

func (s *sliceIter) SeekGE(id graphstore.ID) bool {
	if s.i > 0 && s.ids[s.i-1] >= id {
		return true
	}
	j := sort.Search(len(s.ids)-s.i, func(j int) bool { return s.ids[s.i+j] >= id })
	s.i += j + 1
	return s.i <= len(s.ids)
}

func (s *sliceIter) At() graphstore.ID { return s.ids[s.i-1] }
func (s *sliceIter) Err() error        { return nil }
func (s *sliceIter) Close() error      { return nil }

// setSource is an iterator whose ids can be had as a bitmap in memory
// before it is first advanced: a scan of terms the snapshot holds as
// bitmaps, and set operations and filters over such scans. Intersections,
// unions, differences and filters over set sources do set algebra on the
// bitmaps instead of leapfrogging iterators (a conjunction of three terms
// at 100k components sought through two thousand ids of each, where
// intersecting their containers costs a few microseconds).
type setSource interface {
	iterator
	// bitmap returns the ids as a set in memory the caller must not
	// modify; ok is false when they are not in memory (then iterate). Only
	// before the first Next or SeekGE; calling it again returns the same
	// answer.
	bitmap() (memSet, bool, error)
}

// bitmapOf asks an iterator for its ids as a set in memory (see
// setSource).
func bitmapOf(it iterator) (memSet, bool, error) {
	if s, ok := it.(setSource); ok {
		return s.bitmap()
	}
	return memSet{}, false, nil
}

// lazyIter opens its input on first use, so that building an operator tree
// does no work and a failed sibling stops the query before any scan.
type lazyIter struct {
	open func() (iterator, error) // the input when set is nil or has no answer
	// set, when not nil, returns the ids as a bitmap the caller must not
	// modify, without opening the iterator (ok false when the snapshot
	// cannot answer from memory): a filter over it filters the bitmap.
	set func() (memSet, bool, error)
	// sorted, when not nil, is the snapshot's reader of the postings of
	// term in ix as a sorted slice (a scan of one term): drainInto copies
	// them out from it before asking for the bitmap. Fields, not a
	// closure: a scan whose set algebra never drains it allocates nothing
	// for it.
	sorted graphstore.SortedSetReader
	ix     graphstore.Index
	term   string
	it     iterator
	err    error
	asked  bool   // whether set was called (for bitmap)
	bm     memSet // its answer, empty when not ok
}

// bitmap implements setSource; once asked, the iterator streams the same
// bitmap instead of reading the terms again.
func (l *lazyIter) bitmap() (memSet, bool, error) {
	if l.set == nil || l.it != nil || l.err != nil {
		return memSet{}, false, l.err
	}
	if !l.asked {
		l.asked = true
		bm, ok, err := l.set()
		switch {
		case err != nil:
			l.err = err
		case ok:
			l.bm = bm
		}
	}
	return l.bm, l.bm.bm != nil, l.err
}

// lazyIDs is a lazyIter over ids materialised on first use.
func lazyIDs(load func() ([]graphstore.ID, error)) *lazyIter {
	return &lazyIter{open: func() (iterator, error) {
		ids, err := load()
		return newSliceIter(ids), err
	}}
}

// ready opens the input on first use: the set in memory when there is one
// (asked once, whether by bitmap or here), else open.
func (l *lazyIter) ready() bool {
	if l.it == nil && l.err == nil {
		if l.set != nil && !l.asked {
			if _, _, err := l.bitmap(); err != nil {
				return false
			}
		}
		if l.bm.bm != nil {
			l.it = newSetIter(l.bm.bm)
		} else {
			l.it, l.err = l.open()
		}
	}
	return l.err == nil
}

func (l *lazyIter) Next() bool                   { return l.ready() && l.it.Next() }
func (l *lazyIter) SeekGE(id graphstore.ID) bool { return l.ready() && l.it.SeekGE(id) }
func (l *lazyIter) At() graphstore.ID            { return l.it.At() }

func (l *lazyIter) Err() error {
	if l.err != nil || l.it == nil {
		return l.err
	}
	return l.it.Err()
}

func (l *lazyIter) Close() error {
	if l.it == nil {
		return nil
	}
	return l.it.Close()
}

// unionIter merges sorted inputs, dropping duplicates (a heap of inputs by
// current id).
type unionIter struct {
	h       iterHeap
	started bool
	cur     graphstore.ID
	err     error
	all     []iterator
	set     setIter // the inputs' bitmaps united, when bm is set
	bm      *roaring.Bitmap
	asked   bool
}

// bitmap implements setSource: the union of the inputs' bitmaps, when
// every input has one.
func (u *unionIter) bitmap() (memSet, bool, error) {
	if u.started {
		return memSet{}, false, nil
	}
	if !u.asked {
		u.asked = true
		bms := make([]*roaring.Bitmap, 0, len(u.all))
		for _, it := range u.all {
			s, ok, err := bitmapOf(it)
			if err != nil {
				u.err = err
				return memSet{}, false, err
			}
			if !ok {
				bms = nil
				break
			}
			bms = append(bms, s.bm)
		}
		if bms != nil {
			u.bm = roaring.FastOr(bms...)
			u.set = *newSetIter(u.bm)
		}
	}
	return memSet{bm: u.bm}, u.bm != nil, u.err
}

func newUnion(ins []iterator) *unionIter { return &unionIter{all: ins} }

func (u *unionIter) start(seek func(iterator) bool) bool {
	u.started = true
	for _, it := range u.all {
		if seek(it) {
			u.h = append(u.h, it)
		} else if err := it.Err(); err != nil {
			u.err = err
			return false
		}
	}
	heap.Init(&u.h)
	return u.pop()
}

// pop makes the smallest current id the union's and advances every input
// positioned on it.
func (u *unionIter) pop() bool {
	if len(u.h) == 0 {
		return false
	}
	u.cur = u.h[0].At()
	for len(u.h) > 0 && u.h[0].At() == u.cur {
		if !u.advance(func(it iterator) bool { return it.Next() }) {
			return false
		}
	}
	return true
}

// advance moves the heap's top input with step, dropping it when exhausted.
func (u *unionIter) advance(step func(iterator) bool) bool {
	top := u.h[0]
	if step(top) {
		heap.Fix(&u.h, 0)
		return true
	}
	if err := top.Err(); err != nil {
		u.err = err
		return false
	}
	heap.Pop(&u.h)
	return true
}

func (u *unionIter) Next() bool {
	if u.bitmap(); u.bm != nil {
		return u.set.Next()
	}
	if !u.started {
		return u.err == nil && u.start(func(it iterator) bool { return it.Next() })
	}
	return u.err == nil && u.pop()
}

func (u *unionIter) SeekGE(id graphstore.ID) bool {
	if u.bitmap(); u.bm != nil {
		return u.set.SeekGE(id)
	}
	if !u.started {
		return u.err == nil && u.start(func(it iterator) bool { return it.SeekGE(id) })
	}
	if u.err != nil {
		return false
	}
	if u.cur >= id {
		return true
	}
	for len(u.h) > 0 && u.h[0].At() < id {
		if !u.advance(func(it iterator) bool { return it.SeekGE(id) }) {
			return false
		}
	}
	return u.pop()
}

func (u *unionIter) At() graphstore.ID {
	if u.bm != nil {
		return u.set.At()
	}
	return u.cur
}
func (u *unionIter) Err() error   { return u.err }
func (u *unionIter) Close() error { return closeAll(u.all) }

type iterHeap []iterator

func (h iterHeap) Len() int           { return len(h) }
func (h iterHeap) Less(i, j int) bool { return h[i].At() < h[j].At() }
func (h iterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)        { *h = append(*h, x.(iterator)) }
func (h *iterHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// intersectIter yields the ids every input has: the inputs whose ids are
// bitmaps in memory (see setSource) are intersected as bitmaps, smallest
// first, and the rest leapfrog that intersection: each input seeks to the
// largest current id until all agree.
type intersectIter struct {
	ins      []iterator
	cur      graphstore.ID
	err      error
	prepared bool
	bm       memSet     // every input's ids intersected, when all were in memory
	all      []iterator // the inputs as built, for Close
}

// prepare intersects the inputs' bitmaps on first use.
func (x *intersectIter) prepare() bool {
	if x.prepared {
		return x.err == nil
	}
	x.prepared, x.all = true, x.ins
	var sets []memSet
	var rest []iterator
	for _, it := range x.ins {
		bm, ok, err := bitmapOf(it)
		if err != nil {
			x.err = err
			return false
		}
		if ok {
			sets = append(sets, bm)
		} else {
			rest = append(rest, it)
		}
	}
	if len(sets) == 0 || len(sets) == 1 && len(rest) > 0 {
		return true
	}
	set := intersectAll(sets)
	if len(rest) == 0 {
		x.bm = set
	}
	x.ins = append([]iterator{newSetIter(set.bm)}, rest...)
	return true
}

// bitmap implements setSource.
func (x *intersectIter) bitmap() (memSet, bool, error) {
	if !x.prepare() {
		return memSet{}, false, x.err
	}
	return x.bm, x.bm.bm != nil, nil
}

func (x *intersectIter) Next() bool {
	if !x.prepare() {
		return false
	}
	if !x.ins[0].Next() {
		return x.fail(x.ins[0])
	}
	return x.align(x.ins[0].At())
}

func (x *intersectIter) SeekGE(id graphstore.ID) bool {
	if !x.prepare() {
		return false
	}
	if !x.ins[0].SeekGE(id) {
		return x.fail(x.ins[0])
	}
	return x.align(x.ins[0].At())
}

// align seeks every input to target, raising target to whatever an input
// lands on, until a whole pass moves nothing: then all stand on target.
func (x *intersectIter) align(target graphstore.ID) bool {
	for {
		moved := false
		for _, it := range x.ins {
			if !it.SeekGE(target) {
				return x.fail(it)
			}
			if at := it.At(); at > target {
				target, moved = at, true
			}
		}
		if !moved {
			x.cur = target
			return true
		}
	}
}

func (x *intersectIter) fail(it iterator) bool {
	x.err = it.Err()
	return false
}

func (x *intersectIter) At() graphstore.ID { return x.cur }
func (x *intersectIter) Err() error        { return x.err }
func (x *intersectIter) Close() error {
	if x.all != nil {
		return closeAll(x.all)
	}
	return closeAll(x.ins)
}

// exceptIter yields the ids of left that right does not have: by set
// algebra when both are bitmaps in memory (see setSource), else by
// seeking right to each id of left.
type exceptIter struct {
	left, right iterator
	rightDone   bool
	err         error
	prepared    bool
	bm          *roaring.Bitmap // left minus right, when both had a bitmap
	all         [2]iterator     // the inputs as built, for Close
}

// prepare subtracts the bitmaps on first use.
func (x *exceptIter) prepare() bool {
	if x.prepared {
		return x.err == nil
	}
	x.prepared, x.all = true, [2]iterator{x.left, x.right}
	l, ok, err := bitmapOf(x.left)
	if err != nil || !ok {
		x.err = err
		return err == nil
	}
	r, ok, err := bitmapOf(x.right)
	if err != nil || !ok {
		x.err = err
		return err == nil
	}
	x.bm = roaring.AndNot(l.bm, r.bm)
	x.left, x.rightDone = newSetIter(x.bm), true
	return true
}

// bitmap implements setSource.
func (x *exceptIter) bitmap() (memSet, bool, error) {
	if !x.prepare() {
		return memSet{}, false, x.err
	}
	return memSet{bm: x.bm}, x.bm != nil, nil
}

func (x *exceptIter) Next() bool        { return x.prepare() && x.left.Next() && x.skip() }
func (x *exceptIter) At() graphstore.ID { return x.left.At() }

func (x *exceptIter) SeekGE(id graphstore.ID) bool {
	return x.prepare() && x.left.SeekGE(id) && x.skip()
}

// skip moves left past ids right has.
func (x *exceptIter) skip() bool {
	for {
		id := x.left.At()
		if !x.rightDone {
			if !x.right.SeekGE(id) {
				if x.err = x.right.Err(); x.err != nil {
					return false
				}
				x.rightDone = true
			}
		}
		if x.rightDone || x.right.At() != id {
			return true
		}
		if !x.left.Next() {
			return false
		}
	}
}

func (x *exceptIter) Err() error {
	if x.err != nil {
		return x.err
	}
	return x.left.Err()
}

func (x *exceptIter) Close() error {
	if x.prepared {
		return closeAll(x.all[:])
	}
	return closeAll([]iterator{x.left, x.right})
}

func closeAll(its []iterator) error {
	var first error
	for _, it := range its {
		if err := it.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// drain reads an iterator to the end.
func drain(it iterator) ([]graphstore.ID, error) {
	return drainInto(nil, it)
}

// drainInto is drain, appending to out. A scan of one term that the
// snapshot holds as a sorted slice is copied from it (see lazyIter.sorted);
// another input that is a set in memory is copied out of its bitmap a
// block of ids at a time: a broad filter's hundred thousand ids cost two
// calls through interfaces each otherwise.
func drainInto(out []graphstore.ID, it iterator) ([]graphstore.ID, error) {
	if l, ok := it.(*lazyIter); ok && l.sorted != nil && l.it == nil && !l.asked {
		ids, ok, err := l.sorted.PostingSorted(l.ix, l.term)
		if err != nil {
			return out, err
		}
		if ok {
			for _, id := range ids {
				out = append(out, graphstore.ID(id))
			}
			return out, nil
		}
	}
	set, ok, err := bitmapOf(it)
	if err != nil {
		return out, err
	}
	if ok {
		return appendSet(out, set.bm), nil
	}
	for it.Next() {
		out = append(out, it.At())
	}
	return out, it.Err()
}

// appendSet appends a bitmap's ids to out, ascending. Roaring writes them
// straight into out's spare room (an ID is a uint64), so nothing is
// allocated when out has room.
func appendSet(out []graphstore.ID, bm *roaring.Bitmap) []graphstore.ID {
	n, card := len(out), int(bm.GetCardinality())
	out = slices.Grow(out, card)[:n+card]
	dst := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(out[n:]))), card)
	it := bm.ManyIterator()
	for k := 0; k < card; {
		m := it.NextMany64(0, dst[k:])
		if m == 0 {
			return out[:n+k] // fewer than counted: cannot happen for an immutable bitmap
		}
		k += m
	}
	return out
}

// mergeSorted unites sorted id lists.
func mergeSorted(lists [][]graphstore.ID) []graphstore.ID {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	var out []graphstore.ID
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
