package pebblestore

import (
	"cmp"
	"slices"
	"strings"
)

// openPostings writes a commit's new current postings (table 0x04 sets)
// in key order, from its posting changes. They are most of a commit's keys
// (an element's name, type, labels, identifiers…), and sorting each key
// among all the others compared the long prefixes their terms share
// again and again (the commit's sort was a sixth of the writer). Here
// each distinct term is sorted once, and a term's keys differ only in
// the element id that ends them: within a term they are in id order
// already, as the writes are (two runs at most, one per encoding buffer).
// The store keeps one, reused under wmu.
type openPostings struct {
	kv    sortedWrites
	terms []termChangeList
	ids   []postingChange
}

// termChangeList is one term's changes in a commit.
type termChangeList struct {
	k   termKey
	chs []postingChange
}

// build fills o.kv with the sets of the opened postings among changes, of
// a commit at ts, in key order. A term's changes keep their order among
// equal ids (stable), as the writes of one key kept their order before.
func (o *openPostings) build(changes termChanges, ts int64) {
	o.kv.reset()
	o.terms = o.terms[:0]
	for k, chs := range changes {
		if slices.ContainsFunc(chs, func(ch postingChange) bool { return !ch.close }) {
			o.terms = append(o.terms, termChangeList{k, chs})
		}
	}
	slices.SortFunc(o.terms, func(a, b termChangeList) int {
		return cmp.Or(cmp.Compare(a.k.ix, b.k.ix), strings.Compare(a.k.term, b.k.term))
	})
	byID := func(a, b postingChange) int { return cmp.Compare(a.id, b.id) }
	for _, t := range o.terms {
		o.ids = o.ids[:0]
		for _, ch := range t.chs {
			if !ch.close {
				o.ids = append(o.ids, ch)
			}
		}
		if !slices.IsSortedFunc(o.ids, byID) {
			slices.SortStableFunc(o.ids, byID)
		}
		for _, ch := range o.ids {
			o.set(t.k, ch, ts)
		}
	}
	clear(o.terms)            // the lists belong to changes
	if cap(o.terms) > 1<<16 { // as sortedWrites.reset: a bulk batch does not keep its size
		o.terms, o.ids = nil, nil
	}
}

// set appends the key and value of one opened posting.
func (o *openPostings) set(k termKey, ch postingChange, ts int64) {
	o.kv.set(func(b []byte) ([]byte, int) {
		b = appendPostingKey(b, k.ix, k.term, ch.id)
		n := len(b)
		b = appendU64(b, uint64(ts))
		if ch.aux != 0 {
			b = appendU64(b, uint64(ch.aux))
		}
		return b, n
	})
}
