package pebblestore

import (
	"slices"
	"sync/atomic"

	"github.com/tetrahq/tetra/graphstore"
)

// The present graph's adjacency, packed. Every component's open
// relations, both sides, ascending by relation id, for the ids of one
// chunk of 65,536 in two arrays per side: the entries of all its
// components one after another (8 bytes each: the present graph holds
// only ids below 2^32) and where each component's run begins. Reading a
// side is two loads from arrays laid out in id order (the offsets, then
// the entries), where a pointer per component to an entry of its own and
// two slices per entry were three dependent misses; relating a broad
// result (RelationsAmong) reads them in one loop.
//
// The packed arrays are built when the index is (at open, from Pebble or
// the file) and are never changed. A commit does not copy them (a batch of
// writes touches components all over the graph, and each chunk's arrays
// are half a megabyte): the writer puts a changed component's new lists
// in the chunk's overlay, an entry per id marked in a bitmap that a read
// tests first. When a chunk's overlay holds overlayMax ids the writer
// packs the chunk anew, overlay included, and replaces it. Readers see
// only immutable lists and follow the present graph's consistency rule
// (ver before and after); a chunk they took before a compaction stays
// as it was.

// adjPair is one entry of a packed adjacency list: a relation and the
// component at its other end.
type adjPair struct{ rel, other uint32 }

func (a adjPair) adjacency() graphstore.Adjacency {
	return graphstore.Adjacency{Relation: graphstore.ID(a.rel), Other: graphstore.ID(a.other)}
}

// appendAdjacency appends l to dst in the store's interface form.
func appendAdjacency(dst []graphstore.Adjacency, l []adjPair) []graphstore.Adjacency {
	dst = slices.Grow(dst, len(l))
	for _, a := range l {
		dst = append(dst, a.adjacency())
	}
	return dst
}

// adjEntry is one component's adjacency in a chunk's overlay (both sides;
// a side the commit did not change shares the list it had).
type adjEntry struct {
	side [2][]adjPair // 0 outgoing, 1 incoming
}

const (
	adjChunkBits = 16
	chunkIDs     = 1 << adjChunkBits
	// overlayMax is how many changed ids a chunk's overlay holds before
	// the writer packs the chunk anew: packing reads the chunk's 65,536
	// offsets and copies its entries (about a millisecond), so at most
	// once per 4,096 changed components of the chunk; the overlay's
	// entries are then at most 6% of its ids.
	overlayMax = 4096
)

// adjPack is the adjacency of the ids of one chunk.
type adjPack struct {
	// off[sd] has chunkIDs+1 offsets (nil when no id of the chunk has a
	// list on that side): side sd of the chunk's id i is
	// pairs[sd][off[sd][i]:off[sd][i+1]].
	off   [2][]uint32
	pairs [2][]adjPair
	over  atomic.Pointer[adjOverlay] // nil until the writer changes an id of the chunk
	n     int                        // ids in the overlay; writer-owned
}

// adjOverlay holds the lists of the ids a chunk's writer changed since it
// was packed: id i's entry is entry[i] when bit i of dirty is set.
type adjOverlay struct {
	dirty [chunkIDs / 64]atomic.Uint64
	entry [chunkIDs]atomic.Pointer[adjEntry]
}

// list returns side sd of the chunk's id i.
func (pk *adjPack) list(i uint32, sd int) []adjPair {
	if o := pk.over.Load(); o != nil && o.dirty[i/64].Load()&(1<<(i%64)) != 0 {
		return o.entry[i].Load().side[sd]
	}
	if off := pk.off[sd]; off != nil {
		return pk.pairs[sd][off[i]:off[i+1]:off[i+1]]
	}
	return nil
}

// adjList returns side sd of a component's adjacency from packs.
func adjList(packs []*adjPack, id graphstore.ID, sd int) []adjPair {
	c := uint64(id) >> adjChunkBits
	if c >= uint64(len(packs)) || packs[c] == nil {
		return nil
	}
	return packs[c].list(uint32(id)&(chunkIDs-1), sd)
}

// set records a component's new lists in the overlay. Only the writer
// calls it, while the index reflects no commit (ver 0).
func (pk *adjPack) set(i uint32, e *adjEntry) {
	o := pk.over.Load()
	if o == nil {
		o = new(adjOverlay)
		pk.over.Store(o)
	}
	o.entry[i].Store(e)
	w := &o.dirty[i/64]
	if bit := uint64(1) << (i % 64); w.Load()&bit == 0 {
		w.Store(w.Load() | bit)
		pk.n++
	}
}

// packed returns the chunk packed anew, its overlay folded in.
func (pk *adjPack) packed() *adjPack {
	out := &adjPack{}
	for sd := range out.off {
		n := 0
		for i := range uint32(chunkIDs) {
			n += len(pk.list(i, sd))
		}
		if n == 0 {
			continue
		}
		off, pairs := make([]uint32, chunkIDs+1), make([]adjPair, 0, n)
		for i := range uint32(chunkIDs) {
			pairs = append(pairs, pk.list(i, sd)...)
			off[i+1] = uint32(len(pairs))
		}
		out.off[sd], out.pairs[sd] = off, pairs
	}
	return out
}

// adjacent returns one side of a component's adjacency as of ts.
func (p *present) adjacent(ts int64, id graphstore.ID, sd int) ([]adjPair, bool) {
	if !p.usable(ts) {
		return nil, false
	}
	l := adjList(*p.adj.Load(), id, sd)
	return l, p.usable(ts)
}

// pack returns the chunk that holds id, growing the chunks as needed.
// Only the writer (or the builder) calls it.
func (p *present) pack(id graphstore.ID) *adjPack {
	c := uint64(id) >> adjChunkBits
	packs := *p.adj.Load()
	if c >= uint64(len(packs)) {
		p.grow.Lock()
		grown := slices.Clone(packs)
		for uint64(len(grown)) <= c {
			grown = append(grown, &adjPack{})
		}
		p.adj.Store(&grown)
		p.grow.Unlock()
		packs = grown
	}
	return packs[c]
}

// repack replaces the chunk that holds id with pk packed anew. Only the
// writer calls it, while the index reflects no commit.
func (p *present) repack(id graphstore.ID, pk *adjPack) {
	p.grow.Lock()
	packs := slices.Clone(*p.adj.Load())
	packs[uint64(id)>>adjChunkBits] = pk.packed()
	p.adj.Store(&packs)
	p.grow.Unlock()
}

func (p *present) applyAdjacency(k termKey, chs []postingChange) {
	id := k.component()
	pk := p.pack(id)
	i, sd := uint32(id)&(chunkIDs-1), side(k.ix)
	e := &adjEntry{side: [2][]adjPair{pk.list(i, 0), pk.list(i, 1)}}
	l := slices.Clone(e.side[sd])
	for _, ch := range chs {
		j, found := slices.BinarySearchFunc(l, uint32(ch.id), func(a adjPair, rel uint32) int {
			return int(int64(a.rel) - int64(rel))
		})
		switch {
		case ch.close && found:
			l = slices.Delete(l, j, j+1)
		case !ch.close && !found:
			l = slices.Insert(l, j, adjPair{rel: uint32(ch.id), other: uint32(ch.aux)})
		}
	}
	e.side[sd] = l
	pk.set(i, e)
	if pk.n >= overlayMax {
		p.repack(id, pk)
	}
}

// adjBuild gathers both sides of every component's adjacency: each side's
// entries in one array, in key order (by component, then relation), and
// where each component's run begins.
type adjBuild struct {
	side   [2][]adjPair
	runs   [2][]adjRun
	broken bool
}

type adjRun struct {
	id         graphstore.ID
	start, end int
}

// add appends one entry of side sd of component id, which is at or after
// the last component added to that side.
func (b *adjBuild) add(sd int, id graphstore.ID, a adjPair) {
	if n := len(b.runs[sd]); n == 0 || b.runs[sd][n-1].id != id {
		b.runs[sd] = append(b.runs[sd], adjRun{id: id, start: len(b.side[sd])})
	}
	b.side[sd] = append(b.side[sd], a)
	b.runs[sd][len(b.runs[sd])-1].end = len(b.side[sd])
}

// packs returns the gathered adjacency packed by chunk. Each chunk's
// entries are a window of the gathered arrays (one allocation per side
// for the whole graph).
func (b *adjBuild) packs() []*adjPack {
	var packs []*adjPack
	for sd, runs := range b.runs {
		for len(runs) > 0 {
			c := uint64(runs[0].id) >> adjChunkBits
			n := 0
			for n < len(runs) && uint64(runs[n].id)>>adjChunkBits == c {
				n++
			}
			chunk := runs[:n]
			runs = runs[n:]
			for uint64(len(packs)) <= c {
				packs = append(packs, &adjPack{})
			}
			base := chunk[0].start
			off := make([]uint32, chunkIDs+1)
			next := 0 // the next id of the chunk whose offset is not set
			for _, r := range chunk {
				i := int(uint64(r.id) & (chunkIDs - 1))
				for ; next <= i; next++ {
					off[next] = uint32(r.start - base)
				}
				off[i+1] = uint32(r.end - base)
				next = i + 1
			}
			end := uint32(chunk[n-1].end - base)
			for ; next <= chunkIDs; next++ {
				off[next] = end
			}
			packs[c].off[sd], packs[c].pairs[sd] = off, b.side[sd][base:chunk[n-1].end:chunk[n-1].end]
		}
	}
	return packs
}

// eachAdjacency calls fn for every component with a list on either side,
// ascending by id. The caller holds the index still (the writer lock).
func (p *present) eachAdjacency(fn func(id graphstore.ID, out, in []adjPair)) {
	for c, pk := range *p.adj.Load() {
		if pk.off[0] == nil && pk.off[1] == nil && pk.over.Load() == nil {
			continue
		}
		for i := range uint32(chunkIDs) {
			out, in := pk.list(i, 0), pk.list(i, 1)
			if len(out)+len(in) > 0 {
				fn(graphstore.ID(c)<<adjChunkBits|graphstore.ID(i), out, in)
			}
		}
	}
}
