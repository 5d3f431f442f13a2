package pebblestore

import (
	"sync"

	"github.com/tetrahq/tetra/graphstore"
)

// Batch reads from the element cache, for snapshots the present graph
// cannot answer (a past time, or a store without the present graph).
//
// A past query's row is a chain of dependent loads, each a likely miss of
// the processor's caches: the chain's cell in the element cache's index,
// the chain, the version it remembers for the last past time read, the
// version's slot, the element, its merged view; a side of a component's
// adjacency adds the live part remembered for it and its list. Read one id
// at a time, every load waits for the one before it and the next id waits
// for all of them: at 100k components with a month of churn that was most
// of a past withNeighborsOf. These loops go a level at a time over a
// whole batch instead, each loop's loads independent of one another, so
// that their misses overlap as the present graph's batch reads' do.

// batchScratch holds a snapshot's per-batch arrays between calls (a batch
// of 256 ids is 2 KiB per array).
type batchScratch struct {
	chains []*chain
	pasts  []*pastSlot
	slots  []*slot
}

var scratchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// scratch returns the snapshot's arrays, room for n ids in each.
func (sn *snapshot) scratch(n int) *batchScratch {
	if sn.batch == nil {
		sn.batch = scratchPool.Get().(*batchScratch)
	}
	b := sn.batch
	if cap(b.chains) < n {
		b.chains = make([]*chain, n)
		b.pasts = make([]*pastSlot, n)
		b.slots = make([]*slot, n)
	}
	b.chains, b.pasts, b.slots = b.chains[:n], b.pasts[:n], b.slots[:n]
	return b
}

// releaseScratch gives the arrays back, dropping their pointers so that
// the pool keeps no evicted chain alive.
func (sn *snapshot) releaseScratch() {
	if b := sn.batch; b != nil {
		clear(b.chains[:cap(b.chains)])
		clear(b.pasts[:cap(b.pasts)])
		clear(b.slots[:cap(b.slots)])
		scratchPool.Put(b)
		sn.batch = nil
	}
}

// chainsOf sets chains[i] to the version directory of ids[i]: from the
// element cache's index in one loop of independent loads, then, one by
// one, the ids it does not hold (not cached, or without versions) as
// sn.chain finds them: in the snapshot's memo, the cache's maps, or Pebble.
func (sn *snapshot) chainsOf(ids []graphstore.ID, chains []*chain) error {
	chunks := *sn.s.elems.index.Load()
	for i, id := range ids {
		chains[i] = nil
		if cell := chainCell(chunks, id); cell != nil {
			chains[i] = cell.Load()
		}
	}
	for i, ch := range chains {
		if ch != nil {
			continue
		}
		var err error
		if chains[i], err = sn.chain(ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// chainElements is ElementsView from the element cache: dst[i] is the
// version of ids[i] live at the snapshot's time when the cache holds it
// decoded, else nil (not live, or to be read with Element). Each loop
// takes one step of every id's chain of loads (the chain, the version it
// remembers for the last past time, the slot, the element).
func (sn *snapshot) chainElements(ids []graphstore.ID, dst []*graphstore.Element) (err error) {
	defer markCorrupt(&err)
	b := sn.scratch(len(ids))
	if err := sn.chainsOf(ids, b.chains); err != nil {
		return err
	}
	for i, ch := range b.chains {
		b.pasts[i] = ch.past.Load()
	}
	ts := sn.ts
	for i, p := range b.pasts {
		if p != nil && p.from <= ts && ts < p.to {
			b.slots[i] = p.sl
		} else {
			b.slots[i] = b.chains[i].at(ts)
		}
	}
	for i, sl := range b.slots {
		dst[i] = nil
		if sl != nil && !sl.tomb {
			dst[i] = sl.e.Load()
		}
	}
	warmRows(dst)
	return nil
}

// chainAdjacents is AdjacentViews from the element cache, reading from
// Pebble the sides it does not hold.
func (sn *snapshot) chainAdjacents(ids []graphstore.ID, ix graphstore.Index, dst [][]graphstore.Adjacency) (err error) {
	defer markCorrupt(&err)
	b := sn.scratch(len(ids))
	if err := sn.chainsOf(ids, b.chains); err != nil {
		return err
	}
	warmSides(b.chains, side(ix))
	for i, ch := range b.chains {
		l, err := sn.sideAt(ch, ids[i], ix)
		if err != nil {
			return err
		}
		dst[i] = l
	}
	warmLists(dst)
	return nil
}

// warmSides reads what sideAt reads of a side of every chain (its header
// in the chain, the cell and the first line of the live part remembered
// for the last past time) in one loop of independent loads, as warmRows
// does for rows, so that sideAt then finds them in the processor's cache.
// It returns a value only so that the loads are not optimised away.
//
//go:noinline
func warmSides(chains []*chain, sd int) int64 {
	var sum int64
	for _, ch := range chains {
		if a := &ch.adj[sd]; a.loaded {
			if p := a.past.Load(); p != nil {
				sum += p.from
			}
		}
	}
	return sum
}
