package pebblestore

import (
	"fmt"

	"github.com/tetrahq/tetra/graphstore"
)

// Batch reads of the present graph (graphstore.BatchViewer). A broad
// result reads a row and an adjacency list for every one of its
// components, each a miss of the processor's caches at a million
// components; these loops do nothing but the lookups, so that the misses
// of neighbouring ids overlap instead of waiting one after another behind
// a call per id. The index is checked to reflect the snapshot's commit
// before and after each batch, as the single reads check it per id.

var _ graphstore.BatchViewer = (*snapshot)(nil)

// ElementsView implements graphstore.BatchViewer from the element slots
// or, for a snapshot the present graph does not serve (a past time, or a
// store without it), from the element cache (chainElements).
func (sn *snapshot) ElementsView(ids []graphstore.ID, dst []*graphstore.Element) (bool, error) {
	if sn.closed {
		return false, graphstore.ErrClosed
	}
	if len(dst) != len(ids) {
		return false, fmt.Errorf("pebblestore: ElementsView needs as many places as ids (%d, %d)", len(dst), len(ids))
	}
	if !sn.isNow || sn.s.now == nil {
		return true, sn.chainElements(ids, dst)
	}
	slots := sn.s.now.slots(sn.ts)
	if slots == nil {
		return false, nil
	}
	slots.gather(ids, dst)
	warmRows(dst)
	return sn.s.now.usable(sn.ts), nil
}

var _ graphstore.RefViewer = (*snapshot)(nil)

// ElementRefs implements graphstore.RefViewer: ElementsView without
// reading the elements. A slot only ever holds its own id's element (fill
// and put write the cell of the element's id), so gather's id check is
// not needed for correctness; it and warmRows are there to bring rows into
// the cache for a caller about to copy them. At a past time it is
// ElementsView (the element cache's lookups read the elements anyway).
func (sn *snapshot) ElementRefs(ids []graphstore.ID, dst []*graphstore.Element) (bool, error) {
	if sn.closed || !sn.isNow || sn.s.now == nil || len(dst) != len(ids) {
		return sn.ElementsView(ids, dst) // its errors, or the element cache
	}
	slots := sn.s.now.slots(sn.ts)
	if slots == nil {
		return false, nil
	}
	chunks := *slots.chunks.Load()
	for i, id := range ids {
		dst[i] = nil
		if c := chunkCell(chunks, id); c != nil {
			if e := c.Load(); e != notHeld && e != gone {
				dst[i] = e
			}
		}
	}
	return sn.s.now.usable(sn.ts), nil
}

// gather sets dst[i] to the held version of ids[i], nil when the slot
// holds none or the element is not live. It checks each element's id,
// which also sets the row's cache lines on their way before the caller
// copies it.
func (s *elemSlots) gather(ids []graphstore.ID, dst []*graphstore.Element) {
	chunks := *s.chunks.Load()
	for i, id := range ids {
		dst[i] = nil
		c := chunkCell(chunks, id)
		if c == nil {
			continue
		}
		switch e := c.Load(); e {
		case nil, notHeld, gone:
		default:
			if e.ID == id {
				dst[i] = e
			}
		}
	}
}

// warmRows reads the first word of every element's merged view (a
// component's or a relation's, each an allocation of its own, a cache
// miss apart from the element) in one loop of independent loads, so that
// their misses overlap; the caller then copies or encodes the rows from
// the processor's cache instead of waiting for each in turn. At a million
// components this was half the time of a selective filter's rows. It
// returns a value only so that the loads are not optimised away.
//
//go:noinline
func warmRows(elems []*graphstore.Element) graphstore.ID {
	var sum graphstore.ID
	for _, e := range elems {
		if e == nil {
			continue
		}
		if c := e.Component(); c != nil {
			sum += c.ID + graphstore.ID(len(c.Labels)) + graphstore.ID(len(c.Sources))
		} else if r := e.Relation(); r != nil {
			sum += r.ID + graphstore.ID(len(r.Labels)) + graphstore.ID(len(r.Sources))
		}
	}
	return sum
}

// warmLists reads the first entry of every adjacency list, as warmRows
// reads rows.
//
//go:noinline
func warmLists(lists [][]graphstore.Adjacency) graphstore.ID {
	var sum graphstore.ID
	for _, l := range lists {
		if len(l) > 0 {
			sum += l[0].Other
		}
	}
	return sum
}

// AdjacentViews implements graphstore.BatchViewer from the present graph's
// adjacency or, for a snapshot it does not serve, from the components'
// chains (chainAdjacents).
func (sn *snapshot) AdjacentViews(ids []graphstore.ID, ix graphstore.Index, dst [][]graphstore.Adjacency) (bool, error) {
	if sn.closed {
		return false, graphstore.ErrClosed
	}
	if ix != graphstore.IdxOut && ix != graphstore.IdxIn {
		return false, fmt.Errorf("pebblestore: AdjacentViews needs IdxOut or IdxIn, not %s", ix)
	}
	if len(dst) != len(ids) {
		return false, fmt.Errorf("pebblestore: AdjacentViews needs as many places as ids (%d, %d)", len(dst), len(ids))
	}
	p := sn.s.now
	if !sn.isNow || p == nil {
		return true, sn.chainAdjacents(ids, ix, dst)
	}
	if !p.usable(sn.ts) {
		return false, nil
	}
	sd := side(ix)
	packs := *p.adj.Load()
	n := 0
	for _, id := range ids {
		n += len(adjList(packs, id, sd))
	}
	all := make([]graphstore.Adjacency, 0, n) // the caller's lists, converted from the packed ones in one allocation
	for i, id := range ids {
		start := len(all)
		all = appendAdjacency(all, adjList(packs, id, sd))
		dst[i] = all[start:len(all):len(all)]
	}
	return p.usable(sn.ts), nil
}

var _ graphstore.AmongReader = (*snapshot)(nil)

// RelationsAmong implements graphstore.AmongReader from the present
// graph's packed adjacency. It finds a group of lists first and reads the
// first entry of each in a loop of independent loads (warmPairs), so that
// their cache misses overlap, then tests them: a test per entry in the
// same loop (a function call, a binary search's branches) kept the
// processor from reading ahead, and a selective filter's hundred rows
// waited for each list in turn.
func (sn *snapshot) RelationsAmong(ids []graphstore.ID, among graphstore.Members, dst []graphstore.ID) ([]graphstore.ID, bool, error) {
	if sn.closed {
		return dst, false, graphstore.ErrClosed
	}
	p := sn.s.now
	if !sn.isNow || p == nil || !p.usable(sn.ts) {
		return dst, false, nil
	}
	packs, n := *p.adj.Load(), len(dst)
	var lists [relateGroup][]adjPair
	for len(ids) > 0 {
		group := lists[:min(len(ids), relateGroup)]
		for i := range group {
			group[i] = adjList(packs, ids[i], 0)
		}
		ids = ids[len(group):]
		warmPairs(group)
		if among.Words != nil {
			dst = relateBits(group, among.Lo, among.Words, dst)
		} else {
			for _, l := range group {
				for _, a := range l {
					if among.Has(graphstore.ID(a.other)) {
						dst = append(dst, graphstore.ID(a.rel))
					}
				}
			}
		}
	}
	if !p.usable(sn.ts) {
		return dst[:n], false, nil
	}
	return dst, true, nil
}

// relateBits appends the relations of lists whose other end is in the bit
// words from lo (graphstore.Members).
func relateBits(lists [][]adjPair, lo graphstore.ID, words []uint64, dst []graphstore.ID) []graphstore.ID {
	for _, l := range lists {
		for _, a := range l {
			if d := uint64(a.other) - uint64(lo); d/64 < uint64(len(words)) && words[d/64]&(1<<(d%64)) != 0 {
				dst = append(dst, graphstore.ID(a.rel))
			}
		}
	}
	return dst
}

// relateGroup is how many lists RelationsAmong finds before it tests them.
const relateGroup = 64

// warmPairs reads the first entry of every list, as warmLists does.
//
//go:noinline
func warmPairs(lists [][]adjPair) uint32 {
	var sum uint32
	for _, l := range lists {
		if len(l) > 0 {
			sum += l[0].other
		}
	}
	return sum
}
