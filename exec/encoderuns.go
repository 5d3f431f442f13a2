package exec

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/tetrahq/tetra/graphstore"
)

// The JSON of whole lists. A topology answer's list of components (or of
// relations) is most often one the server wrote before: dashboards and
// scripts repeat their queries, and between commits their answers are the
// same stored elements. Beside each element's JSON, the encode cache keeps
// the JSON of lists that RunJSON wrote twice: the elements' JSON joined by
// commas, as the list holds them, with the store's elements it was written
// from. A list whose elements are, one for one and in order, those very
// elements (compared by address, as EncodeCache's entries are: the same
// stored element is the same JSON) is written as that one block; from the
// first element that differs on, it is written element by element after
// the block's bytes of the elements before it. The document is the same,
// byte for byte, and every element of the answer is still read and
// compared: the query runs as always. What a kept list saves is looking up
// and copying each element's JSON apart, a cache miss or two and a short
// scattered copy per element, which was most of a selective answer's
// encoding.
//
// A list is kept when the same list (the same element ids in the same
// order, as a hash of them says) is written twice in a row at its place in
// the table, so that answers seen once cost a small note and no copy. Lists
// are found by their first element and length, in a fixed table of
// runSlots places with two ways each; a list that meets another there
// replaces it. The kept lists' bytes are bounded (runBudget); past the
// bound, lists are dropped in the order of the table, from where the last
// drop stopped.

const (
	runSlots    = 1 << 13 // per kind
	runMinElems = 2       // shorter lists are written element by element
	runMaxElems = 1 << 12 // so are longer ones
	runMaxBytes = 1 << 20 // and lists of more JSON than this
	runBudget   = 32 << 20
	runOverhead = 128 // a kept list's entry, beyond its JSON and runElemBytes an element
	// runElemBytes counts an element's pointer and end, and the stored
	// element the list may keep alive after the graph has moved on.
	runElemBytes = 240
)

// runEntry is a kept list, or the note that a list was seen once (src nil).
// Entries are immutable once in the table.
type runEntry[E any] struct {
	n    int
	hash uint64  // of the list's element ids, in order
	src  []*E    // the store's elements the list was written from
	ends []int32 // ends[i]: where element i's JSON ends in json
	json []byte
}

func (e *runEntry[E]) size() int64 {
	if e == nil || e.src == nil {
		return 0
	}
	return int64(len(e.json) + runElemBytes*len(e.src) + runOverhead)
}

// runTable holds one kind's lists. Safe for concurrent use.
type runTable[E any] struct {
	slots [runSlots]atomic.Pointer[runEntry[E]]
	bytes atomic.Int64  // of the kept lists (runEntry.size)
	hand  atomic.Uint32 // where the next drop looks
}

// place is the first of the two slots of a list that starts with element
// first and has n elements.
func place(first graphstore.ID, n int) int {
	h := (uint64(first) ^ uint64(n)<<40) * 0x9e3779b97f4a7c15
	return int(h>>(64-13)) &^ 1 // runSlots = 1<<13
}

// find returns the kept list of n elements that starts with el, if any.
func (t *runTable[E]) find(el *E, first graphstore.ID, n int) *runEntry[E] {
	p := place(first, n)
	for i := p; i < p+2; i++ {
		if e := t.slots[i].Load(); e != nil && e.src != nil && e.n == n && e.src[0] == el {
			return e
		}
	}
	return nil
}

// offer puts a list the encoder has just written in the table: kept, when
// the table saw it before (noted, or kept with other versions of its
// elements), else noted.
func (t *runTable[E]) offer(first graphstore.ID, hash uint64, src []*E, ends []int32, json []byte) {
	n := len(src)
	p := place(first, n)
	// The way holding this list, else a free way, else a noted one, else
	// the first.
	var slot *atomic.Pointer[runEntry[E]]
	var old *runEntry[E]
	best := 4
	for i := p; i < p+2; i++ {
		e, rank := t.slots[i].Load(), 3
		switch {
		case e == nil:
			rank = 1
		case e.n == n && e.hash == hash:
			rank = 0
		case e.src == nil:
			rank = 2
		}
		if rank < best {
			slot, old, best = &t.slots[i], e, rank
		}
	}
	if best != 0 {
		t.swap(slot, old, &runEntry[E]{n: n, hash: hash})
		return
	}
	t.swap(slot, old, &runEntry[E]{n: n, hash: hash, src: slices.Clone(src), ends: slices.Clone(ends), json: bytes.Clone(json)})
	for t.bytes.Load() > runBudget && t.drop() {
	}
}

// swap replaces old by e in slot, unless another writer came first.
func (t *runTable[E]) swap(slot *atomic.Pointer[runEntry[E]], old, e *runEntry[E]) {
	if slot.CompareAndSwap(old, e) {
		t.bytes.Add(e.size() - old.size())
	}
}

// drop drops the next kept list in the table's order; false when it found
// none in a whole turn.
func (t *runTable[E]) drop() bool {
	for range runSlots {
		slot := &t.slots[t.hand.Add(1)%runSlots]
		if e := slot.Load(); e.size() > 0 && slot.CompareAndSwap(e, nil) {
			t.bytes.Add(-e.size())
			return true
		}
	}
	return false
}

// runList follows one list while RunJSON writes it: it matches the list's
// elements against a kept list and writes its block, or notes what is
// written element by element, to offer it to the table at the end. It is
// part of a pooled topologyWriter: its scratch lists are reused.
type runList[E any] struct {
	table *runTable[E] // nil: this list is written element by element, untracked
	id    func(*E) graphstore.ID
	n     int          // elements announced
	i     int          // elements seen
	start int          // where the list's first element starts in the encoder's buffer
	hit   *runEntry[E] // the kept list the elements seen so far match
	src   []*E         // the elements written so far (with the block's before them)
	ends  []int32
}

// begin starts a list of n elements at start in the encoder's buffer.
func (l *runList[E]) begin(table *runTable[E], id func(*E) graphstore.ID, n, start int) {
	if n < runMinElems || n > runMaxElems {
		table = nil
	}
	*l = runList[E]{table: table, id: id, n: n, start: start, src: l.src[:0], ends: l.ends[:0]}
}

// skip reports whether the next element, el, is written by a kept list's
// block (nothing to write now). When el is the first to differ from the
// kept list, it appends the block's bytes of the elements before it to b
// first; el is then to be written to b, and passed to wrote.
func (l *runList[E]) skip(el *E, b []byte) ([]byte, bool) {
	if l.table == nil {
		return b, false
	}
	i := l.i
	l.i++
	if i == 0 {
		l.hit = l.table.find(el, l.id(el), l.n)
		return b, l.hit != nil
	}
	h := l.hit
	if h == nil {
		return b, false
	}
	if i < len(h.src) && h.src[i] == el {
		return b, true
	}
	b = append(b, h.json[:h.ends[i-1]]...)
	l.src = append(l.src, h.src[:i]...)
	l.ends = append(l.ends, h.ends[:i]...)
	l.hit = nil
	return b, false
}

// wrote notes that el was written element by element, ending at end in the
// encoder's buffer.
func (l *runList[E]) wrote(el *E, end int) {
	if l.table != nil {
		l.src = append(l.src, el)
		l.ends = append(l.ends, int32(end-l.start))
	}
}

// end closes the list: it appends the kept list's block when every element
// matched it, or offers the list written to the table. b is the encoder's
// buffer, the list's last element last in it.
func (l *runList[E]) end(b []byte) []byte {
	switch h := l.hit; {
	case l.table == nil:
	case h != nil: // every element seen matched (all of h's, unless fewer came than announced)
		b = append(b, h.json[:h.ends[l.i-1]]...)
	case len(l.src) == l.n && len(b)-l.start <= runMaxBytes:
		hash := uint64(len(l.src))
		for _, el := range l.src {
			hash = (hash ^ uint64(l.id(el))) * 0x100000001b3
		}
		l.table.offer(l.id(l.src[0]), hash, l.src, l.ends, b[l.start:])
	}
	l.release()
	return b
}

// release drops l's references to elements, keeping its scratch lists.
func (l *runList[E]) release() {
	clear(l.src)
	*l = runList[E]{src: l.src[:0], ends: l.ends[:0]}
}
