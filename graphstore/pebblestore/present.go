package pebblestore

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// present is the graph at the last commit, held in memory so that reads at
// the current time (most reads: every query without AT, every live
// subscription) need neither Pebble nor the per-element caches to select
// components:
//
//   - the postings of every term of the component indexes (kind, name,
//     type, layer, domain, environment, label, health state, source) as
//     sets of element ids: a sorted slice while small, a compressed bitmap
//     (roaring) beyond that (with the sorted slice beside it up to
//     sortedMax ids), so that intersections and membership tests cost
//     next to nothing;
//   - every component's open adjacency, both sides, in arrays indexed by
//     the component id;
//   - the current version of the elements reads have needed (and of every
//     element the writer wrote since), decoded, in arrays indexed by the
//     element id, so that loading a result row is one array lookup instead
//     of a map lookup, a version directory and a binary search (see elems).
//
// Pebble stays the durable truth and serves every read in the past; the
// index is built from its current postings when the store opens and kept
// current by the writer, which applies each commit's posting changes to it
// before publishing the commit. Identifier and relation-only terms (unique
// per element, asked for one at a time) are left to Pebble and the posting
// cache.
//
// Consistency. Everything the index hands out (a set, an adjacency entry)
// is immutable: the writer replaces it with an updated copy. ver is the
// commit the index reflects; the writer sets it to 0 before it changes
// anything and to the new commit's time after. A reader at time ts uses
// the index only if ver equals ts both before and after its lookup, so it
// never sees a half-applied commit nor a later one; otherwise it reads
// through Pebble as of ts, which is always right.
type present struct {
	ver    atomic.Int64
	shards [presentShards]presentShard
	adj    atomic.Pointer[[]*adjPack] // by id >> adjChunkBits (presentadj.go)
	elems  atomic.Pointer[elemSlots]
	grow   sync.Mutex // serialises growth of adj and elems
	broken bool       // an id does not fit the sets (beyond 2^32): the index stays off; writer-owned
	budget int64      // how many bytes of decoded elements elems may hold
}

const presentShards = 256

type presentShard struct {
	mu   sync.RWMutex
	sets map[termKey]pset
}

// pset is the immutable set of elements holding a term.
type pset struct {
	// small is the ids, ascending: the whole set while it has at most
	// smallSet (bm nil); beside bm, the same ids again while it has at
	// most sortedMax (graphstore.SortedSetReader), else nil. A term's
	// hundred ids at a million components lie in some sixty of the
	// bitmap's containers, each an allocation of its own: a scan walking
	// them (twice, to count and to copy) took a tenth of a selective
	// query, where this slice is a few cache lines read in order. (One
	// field for both: a million name terms would carry another slice
	// header each.)
	small []uint32
	bm    *roaring.Bitmap // beyond smallSet
	// dense holds the same ids again as plain bit words in the blocks of
	// 65,536 ids where the set has at least denseMin of them (nil
	// elsewhere; see graphstore.DenseBlocks). Immutable like the rest: a
	// change copies the blocks it touches.
	dense graphstore.DenseBlocks
}

const (
	smallSet  = 32
	sortedMax = 1024 // 4 KiB a term at most; at a million components about 4 MB in all
)

// denseMin is how many ids of a set a block of 65,536 ids must hold for
// the set to keep them there as bit words too (8 KiB a block, so at most
// 8 bytes per id): roaring holds fewer than 4,096 ids of a block as a
// sorted array, and intersects two arrays a comparison at a time (a
// conjunction of a type, a domain and a team at a million components,
// sets of 50,000, 50,000 and 20,000, took 100 µs), where the words of
// three blocks intersect in a loop of ANDs (5 µs for the whole graph).
const denseMin = 1024

func (p pset) card() int {
	if p.bm != nil {
		return int(p.bm.GetCardinality())
	}
	return len(p.small)
}

// bitmap returns the set as a bitmap the caller must not modify.
func (p pset) bitmap() *roaring.Bitmap {
	if p.bm != nil {
		return p.bm
	}
	return roaring.BitmapOf(p.small...)
}

func (p pset) ids() []graphstore.ID {
	if p.bm == nil {
		out := make([]graphstore.ID, len(p.small))
		for i, v := range p.small {
			out[i] = graphstore.ID(v)
		}
		return out
	}
	out := make([]graphstore.ID, 0, p.bm.GetCardinality())
	it := p.bm.Iterator()
	for it.HasNext() {
		out = append(out, graphstore.ID(it.Next()))
	}
	return out
}

// withChanges returns a copy of the set with a commit's changes applied.
func (p pset) withChanges(chs []postingChange) pset {
	if p.bm != nil {
		bm := p.bm.Clone()
		for _, ch := range chs {
			if ch.close {
				bm.Remove(uint32(ch.id))
			} else {
				bm.Add(uint32(ch.id))
			}
		}
		if bm.GetCardinality() <= smallSet/2 {
			return pset{small: bm.ToArray()}
		}
		return bitmapSet(bm, denseAfter(bm, p.dense, chs))
	}
	s := slices.Clone(p.small)
	for _, ch := range chs {
		i, found := slices.BinarySearch(s, uint32(ch.id))
		switch {
		case ch.close && found:
			s = slices.Delete(s, i, i+1)
		case !ch.close && !found:
			s = slices.Insert(s, i, uint32(ch.id))
		}
	}
	if len(s) > smallSet {
		return newPset(s)
	}
	return pset{small: s}
}

func newPset(ids []uint32) pset {
	if len(ids) > smallSet {
		bm := roaring.BitmapOf(ids...)
		bm.RunOptimize()
		return bitmapSet(bm, denseOf(bm))
	}
	return pset{small: ids}
}

// bitmapSet returns the set held as bm with its dense blocks, and its ids
// as a sorted slice too when they are few (see pset.small).
func bitmapSet(bm *roaring.Bitmap, dense graphstore.DenseBlocks) pset {
	set := pset{bm: bm, dense: dense}
	if bm.GetCardinality() <= sortedMax {
		set.small = bm.ToArray()
	}
	return set
}

// sortedIDs returns the set's ids ascending when it holds them so (a
// small set, or a bitmap with its sorted copy); ok false otherwise.
func (p pset) sortedIDs() ([]uint32, bool) {
	return p.small, p.bm == nil || p.small != nil
}

// denseOf returns the dense blocks of a set (see pset.dense), nil when it
// has none.
func denseOf(bm *roaring.Bitmap) graphstore.DenseBlocks {
	if bm.GetCardinality() < denseMin {
		return nil
	}
	var out graphstore.DenseBlocks
	for b := uint64(0); b <= uint64(bm.Maximum())>>16; b++ {
		if blockCard(bm, b) >= denseMin {
			out = setBlock(out, b, blockOf(bm, b))
		}
	}
	return out
}

// denseAfter returns the dense blocks of bm, the set prev described
// before chs: the dense blocks chs touch are copied from prev and
// changed, blocks that become dense are built from bm, blocks that no
// longer are are dropped; the others are prev's, shared.
func denseAfter(bm *roaring.Bitmap, prev graphstore.DenseBlocks, chs []postingChange) graphstore.DenseBlocks {
	out := slices.Clone(prev)
	var touched []uint64 // distinct blocks
	for _, ch := range chs {
		b := uint64(ch.id) >> 16
		if !slices.Contains(touched, b) {
			touched = append(touched, b)
			if b < uint64(len(prev)) && prev[b] != nil {
				c := *prev[b]
				out[b] = &c
			}
		}
		if b < uint64(len(out)) && out[b] != nil {
			w, bit := &out[b][ch.id>>6&1023], uint64(1)<<(ch.id&63)
			if ch.close {
				*w &^= bit
			} else {
				*w |= bit
			}
		}
	}
	for _, b := range touched {
		switch dense := blockCard(bm, b) >= denseMin; {
		case !dense && b < uint64(len(out)):
			out[b] = nil
		case dense && (b >= uint64(len(out)) || out[b] == nil):
			out = setBlock(out, b, blockOf(bm, b))
		}
	}
	for len(out) > 0 && out[len(out)-1] == nil {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// setBlock sets block b of blocks (growing them as needed).
func setBlock(blocks graphstore.DenseBlocks, b uint64, blk *[1024]uint64) graphstore.DenseBlocks {
	for uint64(len(blocks)) <= b {
		blocks = append(blocks, nil)
	}
	blocks[b] = blk
	return blocks
}

// blockCard counts the ids of bm in block b.
func blockCard(bm *roaring.Bitmap, b uint64) uint64 {
	n := bm.Rank(uint32(b<<16 | 0xffff))
	if b > 0 {
		n -= bm.Rank(uint32(b<<16 - 1))
	}
	return n
}

// blockOf returns the ids of bm in block b as bit words.
func blockOf(bm *roaring.Bitmap, b uint64) *[1024]uint64 {
	blk := new([1024]uint64)
	it := bm.Iterator()
	it.AdvanceIfNeeded(uint32(b << 16))
	for it.HasNext() && uint64(it.PeekNext())>>16 == b {
		id := it.Next()
		blk[id>>6&1023] |= 1 << (id & 63)
	}
	return blk
}

// elemSlots holds the current version of elements, decoded, by id. A
// slot is
//
//   - nil: not held. A reader at the commit the index reflects may fill it
//     (compare-and-swap from nil) with the version it loaded, which is then
//     the current one: a later commit that changes the element writes its
//     slot before it is published, so a fill either lands before that write
//     (which replaces it) or fails;
//   - notHeld: the writer changed the element while the slots were over
//     their budget; reads go to the element cache and nobody fills it;
//   - gone: the element is not live;
//   - the element's current version.
//
// A rebuild replaces the whole structure; a reader fills only the one it
// took while the index reflected its read time.
type elemSlots struct {
	chunks atomic.Pointer[[]*elemChunk]
	bytes  atomic.Int64 // estimated memory of the held elements
}

type elemChunk [1 << adjChunkBits]atomic.Pointer[graphstore.Element]

// The sentinels of elemSlots.
var (
	notHeld = &graphstore.Element{}
	gone    = &graphstore.Element{}
)

func newElemSlots() *elemSlots {
	s := &elemSlots{}
	empty := []*elemChunk{}
	s.chunks.Store(&empty)
	return s
}

// cell returns the slot of id, nil beyond the ids the slots cover.
func (s *elemSlots) cell(id graphstore.ID) *atomic.Pointer[graphstore.Element] {
	return chunkCell(*s.chunks.Load(), id)
}

// chunkCell returns the cell of id in chunks of 1<<adjChunkBits cells (the
// element slots' or the adjacency's), nil beyond the ids they cover.
func chunkCell[C ~[1 << adjChunkBits]atomic.Pointer[T], T any](chunks []*C, id graphstore.ID) *atomic.Pointer[T] {
	c := uint64(id) >> adjChunkBits
	if c >= uint64(len(chunks)) {
		return nil
	}
	return &(*chunks[c])[uint64(id)&(1<<adjChunkBits-1)]
}

// grow makes the slots cover every id below n. Only the writer (or the
// builder) calls it, under p.grow.
func (s *elemSlots) grow(n graphstore.ID) {
	chunks := *s.chunks.Load()
	need := (uint64(n) + 1<<adjChunkBits - 1) >> adjChunkBits
	if need <= uint64(len(chunks)) {
		return
	}
	grown := slices.Clone(chunks)
	for uint64(len(grown)) < need {
		grown = append(grown, new(elemChunk))
	}
	s.chunks.Store(&grown)
}

// get returns the held version of an element (nil when it is not live);
// ok is false when the slot holds nothing.
func (s *elemSlots) get(id graphstore.ID) (e *graphstore.Element, ok bool) {
	c := s.cell(id)
	if c == nil {
		return nil, false
	}
	switch e = c.Load(); e {
	case nil, notHeld:
		return nil, false
	case gone:
		return nil, true
	}
	return e, true
}

// fill holds the version a reader loaded at the index's commit (nil: the
// element was not live), if the slot is empty and the budget allows.
func (s *elemSlots) fill(id graphstore.ID, e *graphstore.Element, budget int64) {
	c := s.cell(id)
	if c == nil {
		return
	}
	if e == nil {
		c.CompareAndSwap(nil, gone)
		return
	}
	n := elementBytes(e)
	if s.bytes.Load()+n > budget {
		return
	}
	if c.CompareAndSwap(nil, e) {
		s.bytes.Add(n)
	}
}

// put records the writer's new version of an element (nil: deleted). A
// slot that held an element keeps holding the element's versions; an
// empty one takes it while the budget allows.
func (s *elemSlots) put(id graphstore.ID, e *graphstore.Element, budget int64) {
	c := s.cell(id)
	if c == nil {
		return
	}
	held := func(x *graphstore.Element) bool { return x != nil && x != notHeld && x != gone }
	next := gone
	if e != nil {
		next = notHeld
		if old := c.Load(); held(old) || s.bytes.Load()+elementBytes(e) <= budget {
			next = e
		}
	}
	delta := int64(0)
	if held(next) {
		delta += elementBytes(next)
	}
	if old := c.Swap(next); held(old) {
		delta -= elementBytes(old)
	}
	s.bytes.Add(delta)
}

// presentIndex reports whether an index is held in the present graph: the
// indexes of the topology keys that filter components, and kind. (Sources
// and identifiers are asked for one term at a time; adjacency is held
// apart.)
func presentIndex(ix graphstore.Index) bool {
	switch ix {
	case graphstore.IdxKind, graphstore.IdxName, graphstore.IdxType, graphstore.IdxLayer, graphstore.IdxDomain,
		graphstore.IdxEnvironment, graphstore.IdxLabel, graphstore.IdxHealth:
		return true
	}
	return false
}

// presentTerm reports whether a term of a held index is held: of kind,
// only the components (a query never asks for every relation).
func presentTerm(k termKey) bool {
	return presentIndex(k.ix) && (k.ix != graphstore.IdxKind || k.term == graphstore.TermComponent)
}

func newPresent(budget int64) *present {
	p := &present{budget: budget}
	p.elems.Store(newElemSlots())
	for i := range p.shards {
		p.shards[i].sets = map[termKey]pset{}
	}
	p.adj.Store(&[]*adjPack{})
	return p
}

func (p *present) shard(k termKey) *presentShard { return &p.shards[k.shard()%presentShards] }

// usable reports whether the index reflects exactly the commit at ts.
func (p *present) usable(ts int64) bool { return ts != 0 && p.ver.Load() == ts }

// set returns the set of a term as of ts, ok false when the index cannot
// answer for ts (or does not hold the index).
func (p *present) set(ts int64, ix graphstore.Index, term string) (pset, bool) {
	k := termKey{ix, term}
	if !presentTerm(k) || !p.usable(ts) {
		return pset{}, false
	}
	sh := p.shard(k)
	sh.mu.RLock()
	s := sh.sets[k]
	sh.mu.RUnlock()
	return s, p.usable(ts)
}

// slots returns the element slots if the index reflects exactly the
// commit at ts: a reader reads them and fills them for that commit only.
func (p *present) slots(ts int64) *elemSlots {
	if !p.usable(ts) {
		return nil
	}
	s := p.elems.Load()
	if !p.usable(ts) {
		return nil
	}
	return s
}

// element returns the current version of an element as of ts from the
// slots, ok false when the index cannot answer.
func (p *present) element(ts int64, id graphstore.ID) (*graphstore.Element, bool) {
	s := p.slots(ts)
	if s == nil {
		return nil, false
	}
	e, ok := s.get(id)
	return e, ok && p.usable(ts)
}

// apply brings the index from the commit it reflects to the commit at ts,
// given the commit's writes and posting changes. The writer calls it
// before it publishes the commit.
func (p *present) apply(writes []base.Write, changes termChanges, ts int64, prev int64) {
	if p.broken || p.ver.Load() != prev {
		p.ver.Store(0) // not built, or out of step (a bulk load): stays off until rebuilt
		return
	}
	p.ver.Store(0)
	if len(writes) > 0 {
		slots := p.elems.Load()
		p.grow.Lock()
		slots.grow(slices.MaxFunc(writes, func(a, b base.Write) int { return cmp.Compare(a.ID, b.ID) }).ID + 1)
		p.grow.Unlock()
		for i := range writes {
			slots.put(writes[i].ID, writes[i].After, p.budget)
		}
	}
	for k, chs := range changes {
		if !p.fits(k, chs) {
			p.broken = true
			return
		}
		switch {
		case k.isAdjacency():
			p.applyAdjacency(k, chs)
		case presentTerm(k):
			sh := p.shard(k)
			sh.mu.Lock()
			if s := sh.sets[k].withChanges(chs); s.card() > 0 {
				sh.sets[k] = s
			} else {
				delete(sh.sets, k)
			}
			sh.mu.Unlock()
		}
	}
	p.ver.Store(ts)
}

// fits reports whether the ids of a term's changes fit the sets.
func (p *present) fits(k termKey, chs []postingChange) bool {
	if k.isAdjacency() && k.component() > math.MaxUint32 {
		return false
	}
	for _, ch := range chs {
		if ch.id > math.MaxUint32 || k.isAdjacency() && ch.aux > math.MaxUint32 {
			return false
		}
	}
	return true
}

// build fills the index from Pebble's current postings as of the commit at
// ts: the view must reflect exactly that commit (the store is opening, or
// the writer lock is held). next is the next element id to allocate. The
// element slots start empty: reads fill them.
//
// The sets (indexes kind to health state) and the adjacency (out, in) lie
// in separate key ranges and are read side by side, each by its own
// iterator: at a million components they are some ten and six million
// keys. Neither keeps a map per key: set postings come grouped by term,
// adjacency grouped by component, so both append to large arrays.
func (p *present) build(r pebble.Reader, ts int64, next graphstore.ID) error {
	p.ver.Store(0)
	fresh := newPresent(p.budget)
	var adj adjBuild
	var setErr, adjErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		adjErr = adj.scan(r)
	}()
	sb := &setBuilder{p: fresh}
	setErr = sb.scan(r)
	wg.Wait()
	if err := cmp.Or(setErr, adjErr); err != nil {
		return err
	}
	if sb.broken || adj.broken {
		p.broken = true
		return nil
	}
	packs := adj.packs()
	fresh.adj.Store(&packs)
	p.install(fresh, ts, next)
	return nil
}

// install takes the sets and adjacency of a freshly built index, with empty
// element slots, and marks the index as reflecting the commit at ts.
func (p *present) install(fresh *present, ts int64, next graphstore.ID) {
	for i := range p.shards {
		p.shards[i].mu.Lock()
		p.shards[i].sets = fresh.shards[i].sets
		p.shards[i].mu.Unlock()
	}
	p.adj.Store(fresh.adj.Load())
	slots := newElemSlots()
	slots.grow(next)
	p.elems.Store(slots)
	p.broken = false
	p.ver.Store(ts)
}

// setBuilder gathers the postings of one term at a time (they come in key
// order) into the sets of the present graph.
type setBuilder struct {
	p      *present
	raw    []byte // the escaped term of the key being gathered, with its table and index
	key    termKey
	ids    []uint32
	broken bool // an id beyond 2^32
}

// scan reads the set postings: the indexes from kind to health state,
// passing over the terms and indexes the present graph does not hold.
func (b *setBuilder) scan(r pebble.Reader) error {
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{tagPosting, byte(graphstore.IdxKind)},
		UpperBound: []byte{tagPosting, byte(graphstore.IdxHealth) + 1},
	})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; {
		k := it.Key()
		if skip := skipTo(k); skip != nil {
			valid = it.SeekGE(skip) // a whole term or index the index does not hold
			continue
		}
		if err := b.add(k); err != nil {
			return err
		}
		if b.broken {
			return nil
		}
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return err
	}
	b.flushTerm()
	return nil
}

func (b *setBuilder) add(k []byte) error {
	n := termEnd(k)
	if n == 0 || len(k) != n+8 {
		return errCorrupt
	}
	id := u64(k[n:])
	if id > math.MaxUint32 {
		b.broken = true
		return nil
	}
	if string(k[:n]) != string(b.raw) {
		b.flushTerm()
		term, _, err := readEscaped(k[2:])
		if err != nil {
			return err
		}
		b.raw = append(b.raw[:0], k[:n]...)
		b.key = termKey{graphstore.Index(k[1]), term}
	}
	b.ids = append(b.ids, uint32(id))
	return nil
}

func (b *setBuilder) flushTerm() {
	if len(b.ids) == 0 {
		return
	}
	sh := b.p.shard(b.key)
	sh.sets[b.key] = newPset(slices.Clone(b.ids))
	b.ids = b.ids[:0]
}

// skipTo returns where the build should seek to pass over the key's term
// or index when the present graph does not hold it, nil when it does.
func skipTo(k []byte) []byte {
	if len(k) < 2 {
		return nil
	}
	ix := graphstore.Index(k[1])
	switch {
	case !presentIndex(ix):
		return []byte{tagPosting, byte(ix) + 1}
	case ix == graphstore.IdxKind:
		if n := termEnd(k); n > 0 && string(k[2:n]) != string(appendEscaped(nil, graphstore.TermComponent)) {
			end := append([]byte(nil), k[:n]...)
			end[n-1]++ // past every posting of this term
			return end
		}
	}
	return nil
}

// scan reads the out and in postings.
func (b *adjBuild) scan(r pebble.Reader) error {
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{tagPosting, byte(graphstore.IdxOut)},
		UpperBound: []byte{tagPosting, byte(graphstore.IdxIn) + 1},
	})
	if err != nil {
		return err
	}
	defer it.Close()
	var raw []byte // the escaped term of the current run, with its table and index
	var c graphstore.ID
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		n := termEnd(k)
		if n == 0 || len(k) != n+8 {
			return errCorrupt
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if len(v) < 16 {
			return errCorrupt
		}
		if string(k[:n]) != string(raw) {
			term, _, err := readEscaped(k[2:])
			if err != nil {
				return err
			}
			c = termKey{graphstore.Index(k[1]), term}.component()
			raw = append(raw[:0], k[:n]...)
		}
		rel, other := u64(k[n:]), u64(v[8:])
		if c > math.MaxUint32 || rel > math.MaxUint32 || other > math.MaxUint32 {
			b.broken = true
			return nil
		}
		b.add(side(graphstore.Index(k[1])), c, adjPair{rel: uint32(rel), other: uint32(other)})
	}
	return it.Error()
}
