package pebblestore

import (
	"sync"

	"github.com/tetrahq/tetra/graphstore"
)

// chainMemo remembers the chains one snapshot has looked up, so that a
// query asks the element cache for each element once. A past query reads a
// component's version, both sides of its adjacency while it expands, and
// the outgoing side again while it relates the result: without the memo
// each is a lookup in the element cache's sharded map (a read lock and a
// probe of a large map, whose memory is rarely in the CPU's caches). The
// memo is a small open-addressing table private to the snapshot: no lock,
// and its few cache lines stay hot for the query.
//
// A chain it holds stays right for the snapshot's reads however the cache
// changes meanwhile (see the element cache's comment): commits after the
// snapshot opened are stamped after its time.
//
// Not safe for concurrent use, as the snapshot that owns it.
type chainMemo struct {
	entries []memoEntry // len a power of two, or 0 before the first put
	n       int
}

type memoEntry struct {
	id graphstore.ID // 0: free (no element has id 0)
	ch *chain
}

const (
	memoMinEntries = 128
	// memoMaxEntries bounds the memo of one snapshot (512 KiB): a broad
	// past query reads more elements than it would pay to remember, and
	// past this size each further element is read from the cache alone.
	memoMaxEntries = 1 << 15
)

// memoPool recycles tables between snapshots: a query's table is a few
// kilobytes that would otherwise be fresh, zeroed memory per query.
var memoPool = sync.Pool{New: func() any { return new(chainMemo) }}

// slot returns the index of id in the table, or of the free entry where it
// would go. The table is never full (put keeps it at most half full).
func (m *chainMemo) slot(id graphstore.ID) int {
	mask := len(m.entries) - 1
	i := int(uint64(id)*0x9E3779B97F4A7C15>>32) & mask // Fibonacci hashing: ids are dense
	for m.entries[i].id != id && m.entries[i].id != 0 {
		i = (i + 1) & mask
	}
	return i
}

// get returns the chain remembered for id, or nil.
func (m *chainMemo) get(id graphstore.ID) *chain {
	if len(m.entries) == 0 {
		return nil
	}
	return m.entries[m.slot(id)].ch
}

// put remembers (or replaces) the chain of id.
func (m *chainMemo) put(id graphstore.ID, ch *chain) {
	if len(m.entries) == 0 {
		m.entries = make([]memoEntry, memoMinEntries)
	}
	i := m.slot(id)
	if m.entries[i].id == id {
		m.entries[i].ch = ch
		return
	}
	if 2*(m.n+1) > len(m.entries) {
		if len(m.entries) >= memoMaxEntries {
			return
		}
		m.grow()
		i = m.slot(id)
	}
	m.entries[i] = memoEntry{id: id, ch: ch}
	m.n++
}

func (m *chainMemo) grow() {
	old := m.entries
	m.entries = make([]memoEntry, 2*len(old))
	for _, e := range old {
		if e.id != 0 {
			m.entries[m.slot(e.id)] = e
		}
	}
}

// reset forgets every entry, keeping a small table for reuse; the chains
// are dropped so that the pool keeps no evicted chain alive.
func (m *chainMemo) reset() {
	if len(m.entries) > 8*memoMinEntries {
		m.entries = nil
	} else {
		clear(m.entries)
	}
	m.n = 0
}
