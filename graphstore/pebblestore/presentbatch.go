package pebblestore

import (
	"fmt"
	"unsafe"

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

// ElementsView implements graphstore.BatchViewer from the element slots.
func (sn *snapshot) ElementsView(ids []graphstore.ID, dst []*graphstore.Element) (bool, error) {
	if sn.closed {
		return false, graphstore.ErrClosed
	}
	if len(dst) != len(ids) {
		return false, fmt.Errorf("pebblestore: ElementsView needs as many places as ids (%d, %d)", len(dst), len(ids))
	}
	if !sn.isNow || sn.s.now == nil {
		return false, nil
	}
	slots := sn.s.now.slots(sn.ts)
	if slots == nil {
		return false, nil
	}
	slots.gather(ids, dst)
	warmRows(dst)
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

// warmRows reads every cache line of every element's merged view (a
// component's or a relation's, which share the element's allocation) in
// one loop of independent loads, so that their misses overlap; the caller
// then copies or encodes the rows from the processor's cache instead of
// waiting for each in turn. A component's view spans four or five lines:
// reading a few of its fields left one line (its type, layer and domain)
// to miss in the copy, row after row, which was most of the copy's time
// in a profile of a selective filter at a million components. It returns
// a value only so that the loads are not optimised away.
//
//go:noinline
func warmRows(elems []*graphstore.Element) byte {
	var sum byte
	for _, e := range elems {
		if e == nil {
			continue
		}
		if c := e.Component(); c != nil {
			sum += touchLines(unsafe.Pointer(c), unsafe.Sizeof(*c))
		} else if r := e.Relation(); r != nil {
			sum += touchLines(unsafe.Pointer(r), unsafe.Sizeof(*r))
		}
	}
	return sum
}

// touchLines reads one byte of every cache line that the n bytes at p
// (n > 0) lie in: a byte every cacheLine bytes from p lands in each
// following line in turn, and the last byte in the last line.
func touchLines(p unsafe.Pointer, n uintptr) byte {
	var sum byte
	for off := uintptr(0); off < n; off += cacheLine {
		sum += *(*byte)(unsafe.Add(p, off))
	}
	return sum + *(*byte)(unsafe.Add(p, n-1))
}

// cacheLine is the processor's cache line on amd64 and most arm64 (on a
// machine with larger lines, touchLines reads some lines twice).
const cacheLine = 64

// warmLists reads the first and the last entry of every adjacency list,
// as warmRows reads rows (a list of three or more entries may span two
// lines).
//
//go:noinline
func warmLists(lists [][]graphstore.Adjacency) graphstore.ID {
	var sum graphstore.ID
	for _, l := range lists {
		if len(l) > 0 {
			sum += l[0].Other + l[len(l)-1].Relation
		}
	}
	return sum
}

// AdjacentViews implements graphstore.BatchViewer from the present graph's
// adjacency.
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
	if !sn.isNow || p == nil || !p.usable(sn.ts) {
		return false, nil
	}
	sd := side(ix)
	chunks := *p.adj.Load()
	for i, id := range ids {
		dst[i] = nil
		if c := chunkCell(chunks, id); c != nil {
			if e := c.Load(); e != nil {
				dst[i] = e.side[sd]
			}
		}
	}
	warmLists(dst)
	return p.usable(sn.ts), nil
}
