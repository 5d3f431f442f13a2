package exec

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/tetrahq/tetra/graphstore"
)

// sortIDs sorts ids ascending. A long list whose ids lie within 2^33 of
// each other (every id of a store below eight billion elements) is sorted
// by radix, two or three passes of 11 bits over the distance from the
// smallest id; a short or wider one by slices.Sort. A broad result's
// relations (thirty thousand ids at a million components, in the order
// their sources' adjacency lists gave them) took a comparison sort a
// tenth of the query; the passes over them cost a fraction of that.
func sortIDs(ids []graphstore.ID) {
	if len(ids) < radixMin {
		slices.Sort(ids)
		return
	}
	lo, hi := slices.Min(ids), slices.Max(ids)
	passes := (bits.Len64(uint64(hi-lo)) + radixBits - 1) / radixBits
	if passes > 3 {
		slices.Sort(ids)
		return
	}
	s := radixPool.Get().(*radixScratch)
	defer radixPool.Put(s)
	if cap(s.buf) < len(ids) {
		s.buf = make([]graphstore.ID, len(ids))
	}
	src, dst := ids, s.buf[:len(ids)]
	for p := range passes {
		s.pass(src, dst, lo, uint(p*radixBits))
		src, dst = dst, src
	}
	if passes%2 == 1 {
		copy(ids, src)
	}
}

const (
	radixBits = 11
	radixMin  = 512 // below it the counts' 2,048 buckets cost more than comparing
)

// radixScratch is a sort's buffer and counts, pooled: the buffer is as
// long as the list, fresh memory per query otherwise.
type radixScratch struct {
	buf   []graphstore.ID
	count [1 << radixBits]uint32
}

var radixPool = sync.Pool{New: func() any { return new(radixScratch) }}

// pass moves src into dst ordered (stably) by the digit of id-lo at shift.
func (s *radixScratch) pass(src, dst []graphstore.ID, lo graphstore.ID, shift uint) {
	const mask = 1<<radixBits - 1
	clear(s.count[:])
	for _, id := range src {
		s.count[uint64(id-lo)>>shift&mask]++
	}
	sum := uint32(0)
	for d, n := range s.count {
		s.count[d] = sum
		sum += n
	}
	for _, id := range src {
		d := uint64(id-lo) >> shift & mask
		dst[s.count[d]] = id
		s.count[d]++
	}
}
