package pebblestore

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tetrahq/tetra/graphstore"
)

// The caches keep decoded data in memory so that reads are map lookups and
// binary searches instead of Pebble seeks and decodes:
//
//   - the element cache: per element, its version directory (a chain of
//     version timestamps, oldest first) and the versions reads have decoded;
//   - the posting cache: per (index, term), every posting interval the store
//     holds (current and history), sorted by element id;
//   - the count cache: per (index, term), the number of current postings,
//     for the planner's estimates.
//
// Correctness rests on timestamps, not on timing. Everything cached is
// history: a version or an interval, immutable except that an open interval
// gets its end. A read at time t filters by t, and every commit after the
// read opened is stamped later than t, so newer data in the cache is
// invisible to it. The one hazard is a reader caching data it loaded from an
// older Pebble snapshot after a writer has already updated the cache for a
// newer commit. Each shard therefore remembers the time of the last commit
// that touched it; a reader caches what it loaded only if that time is not
// after the commit its Pebble snapshot reflects. Writers update cached
// entries (or drop them) under the shard lock after their Pebble commit and
// before the commit is published to new readers.

// ---- element cache ----

// slot is one version of an element.
type slot struct {
	ts   int64
	tomb bool                               // the element was deleted at ts
	e    atomic.Pointer[graphstore.Element] // decoded version; nil until loaded
}

// chain is an element's version directory. A chain is never modified once
// published; a writer replaces it with a longer copy that shares the slots.
//
// A component's chain also holds its adjacency (the posting intervals of
// IdxOut and IdxIn for its id) once a read has needed it, so that a
// traversal step or a result row costs one lookup of an integer key.
type chain struct {
	slots []*slot
	adj   [2]adjacency // by side: 0 outgoing (IdxOut), 1 incoming (IdxIn)
	// past remembers the last lookup of at before the latest version, with
	// the times it answers for. Reads at a past time (AT "-7d") then find
	// their version with one comparison instead of a binary search that
	// follows a pointer to a slot at every step. The slots never change, so
	// what it remembers stays true.
	past atomic.Pointer[pastSlot]
}

// pastSlot is the answer of chain.at for every ts in [from, to).
type pastSlot struct {
	from, to int64
	sl       *slot
}

// adjacency is one side of a component's cached adjacency.
type adjacency struct {
	list    plist // every interval of the side, sorted by (relation, from)
	loaded  bool  // list is the whole history
	tooLong bool  // longer than the posting cache's cap: read from Pebble
	// current holds the open intervals of list, ascending by relation, and
	// changed the time of the latest change list reflects: a read at
	// ts ≥ changed sees exactly current, without filtering the history.
	current []graphstore.Adjacency
	changed int64
	// past remembers, for a loaded list, the entries live at the last past
	// time a read filtered it for and the times they answer for, as
	// chain.past does for versions. Copies of the side share it with the
	// list it was computed from.
	past *atomic.Pointer[pastAdjacency]
}

// pastAdjacency is the live part of an adjacency list for every ts in
// [from, to): no interval of the list starts or ends in between.
type pastAdjacency struct {
	from, to int64
	live     []graphstore.Adjacency
}

// newAdjacency wraps the whole interval list of one side.
func newAdjacency(l plist) adjacency {
	a := adjacency{list: l, loaded: true, past: new(atomic.Pointer[pastAdjacency])}
	for _, iv := range l {
		a.changed = max(a.changed, iv.from)
		if iv.to == openEnd {
			a.current = append(a.current, graphstore.Adjacency{Relation: iv.id, Other: iv.aux})
		} else {
			a.changed = max(a.changed, iv.to)
		}
	}
	return a
}

// bytes estimates the memory the side holds.
func (a *adjacency) bytes() int64 {
	return int64(len(a.list)*intervalBytes + len(a.current)*adjacencyBytes)
}

const adjacencyBytes = 16

// liveAt returns the entries of a loaded side live at ts, from what the
// last past read remembered when it answers for ts, else by filtering the
// list (and then remembering that).
func (a *adjacency) liveAt(ts int64) []graphstore.Adjacency {
	if p := a.past.Load(); p != nil && p.from <= ts && ts < p.to {
		return p.live
	}
	p := &pastAdjacency{from: math.MinInt64, to: math.MaxInt64}
	for _, iv := range a.list {
		if iv.from <= ts && ts < iv.to {
			p.live = append(p.live, graphstore.Adjacency{Relation: iv.id, Other: iv.aux})
		}
		for _, b := range [2]int64{iv.from, iv.to} {
			if b <= ts {
				p.from = max(p.from, b)
			} else {
				p.to = min(p.to, b)
			}
		}
	}
	a.past.Store(p)
	return p.live
}

// side maps an adjacency index to its slot in chain.adj.
func side(ix graphstore.Index) int {
	if ix == graphstore.IdxIn {
		return 1
	}
	return 0
}

// at returns the slot live at ts (the last one stamped ≤ ts), or nil.
func (c *chain) at(ts int64) *slot {
	if p := c.past.Load(); p != nil && p.from <= ts && ts < p.to {
		return p.sl
	}
	n := len(c.slots)
	switch {
	case n == 0:
		return nil
	case c.slots[n-1].ts <= ts:
		return c.slots[n-1] // reads at now: the latest version
	}
	lo, hi := 0, n // the first slot stamped after ts is in [lo, hi]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.slots[m].ts > ts {
			hi = m
		} else {
			lo = m + 1
		}
	}
	p := &pastSlot{from: math.MinInt64, to: c.slots[lo].ts} // lo < n: the latest is after ts
	if lo > 0 {
		p.from, p.sl = c.slots[lo-1].ts, c.slots[lo-1]
	}
	c.past.Store(p)
	return p.sl
}

func (c *chain) last() *slot {
	if len(c.slots) == 0 {
		return nil
	}
	return c.slots[len(c.slots)-1]
}

const cacheShards = 64

// shardOf spreads ids over the shards (Fibonacci hashing).
func shardOf(id graphstore.ID) int { return int(uint64(id) * 0x9E3779B97F4A7C15 >> 58) }

type elemShard struct {
	mu      sync.RWMutex
	chains  map[graphstore.ID]*chain
	touched int64 // time of the last commit that changed an element of this shard
	bytes   atomic.Int64
}

// elementCache maps element ids to chains under a memory budget; over
// budget, a shard evicts chains at random (Go's map order), which costs
// nothing on the read path.
//
// Reads find a chain through index, an array by id that mirrors the
// shards' maps without a lock: a past read of a component and its
// relations looks up some sixty chains, and a lookup in a shard's map (a
// read lock, whose atomic instruction waits for the previous lookup's
// cache misses, then a probe of a large map) was a fifth of its time. The
// maps stay the owners (eviction and the memory count walk them); every
// change of a map entry under the shard lock also stores the index cell.
// Only chains with a version are indexed: their ids were handed out by the
// store, so the array covers the dense range of real ids and an id from a
// hostile query, which has no version, never grows it.
type elementCache struct {
	shards      [cacheShards]elemShard
	shardBudget int64
	index       atomic.Pointer[[]*chainChunk] // published copies; a chunk is nil until a chain of its range is cached
	grow        sync.Mutex                    // serialises the index's growth; taken under a shard lock
}

const chainChunkBits = 12

type chainChunk [1 << chainChunkBits]atomic.Pointer[chain]

func newElementCache(budget int64) *elementCache {
	c := &elementCache{shardBudget: max(budget/cacheShards, 1<<10)}
	for i := range c.shards {
		c.shards[i].chains = map[graphstore.ID]*chain{}
	}
	c.index.Store(new([]*chainChunk))
	return c
}

func (c *elementCache) get(id graphstore.ID) *chain {
	if cell := c.cell(id); cell != nil {
		if ch := cell.Load(); ch != nil {
			return ch
		}
	}
	sh := &c.shards[shardOf(id)] // an element without versions, or not cached
	sh.mu.RLock()
	ch := sh.chains[id]
	sh.mu.RUnlock()
	return ch
}

// cell returns the index cell of id, nil when no chunk covers it yet.
func (c *elementCache) cell(id graphstore.ID) *atomic.Pointer[chain] {
	return chainCell(*c.index.Load(), id)
}

// chainCell returns the cell of id in a published copy of the index, nil
// when no chunk covers it.
func chainCell(chunks []*chainChunk, id graphstore.ID) *atomic.Pointer[chain] {
	k := uint64(id) >> chainChunkBits
	if k >= uint64(len(chunks)) || chunks[k] == nil {
		return nil
	}
	return &chunks[k][uint64(id)&(1<<chainChunkBits-1)]
}

// setIndex mirrors a map entry of id (ch nil: deleted) into the index. The
// caller holds the shard lock of id.
func (c *elementCache) setIndex(id graphstore.ID, ch *chain) {
	if cell := c.cell(id); cell != nil {
		cell.Store(ch)
		return
	}
	if ch == nil || len(ch.slots) == 0 {
		return // not indexed
	}
	c.grow.Lock()
	defer c.grow.Unlock()
	old := *c.index.Load()
	k := int(uint64(id) >> chainChunkBits)
	chunks := make([]*chainChunk, max(len(old), k+1))
	copy(chunks, old)
	if chunks[k] == nil {
		chunks[k] = new(chainChunk)
	}
	chunks[k][uint64(id)&(1<<chainChunkBits-1)].Store(ch)
	c.index.Store(&chunks)
}

// put caches a chain loaded from a Pebble view that reflects commits up to
// seen, unless a later commit touched the shard since.
func (c *elementCache) put(id graphstore.ID, ch *chain, seen int64) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.touched > seen {
		return
	}
	if _, ok := sh.chains[id]; !ok {
		sh.chains[id] = ch
		sh.bytes.Add(chainBytes(ch))
		c.setIndex(id, ch)
	}
	c.evict(sh, id)
}

// evict drops random chains (never keep) until the shard is within budget.
// The caller holds sh.mu.
func (c *elementCache) evict(sh *elemShard, keep graphstore.ID) {
	for id, ch := range sh.chains {
		if sh.bytes.Load() <= c.shardBudget {
			return
		}
		if id != keep {
			delete(sh.chains, id)
			sh.bytes.Add(-chainBytes(ch))
			c.setIndex(id, nil)
		}
	}
}

// appendVersion records a version committed at ts. A cached chain gets a
// new slot, unless it already has it (a reader cached it from a view that
// included this commit).
func (c *elementCache) appendVersion(id graphstore.ID, ts int64, e *graphstore.Element) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.touched = max(sh.touched, ts)
	old, ok := sh.chains[id]
	if !ok || (len(old.slots) > 0 && old.last().ts >= ts) {
		return
	}
	s := &slot{ts: ts, tomb: e == nil}
	if e != nil {
		s.e.Store(e)
		sh.bytes.Add(elementBytes(e))
	}
	slots := make([]*slot, len(old.slots)+1)
	copy(slots, old.slots)
	slots[len(old.slots)] = s
	nc := &chain{slots: slots, adj: old.adj}
	sh.chains[id] = nc
	c.setIndex(id, nc)
	sh.bytes.Add(slotBytes)
	c.evict(sh, id)
}

// setAdjacency caches one side of a component's adjacency, loaded from a
// Pebble view reflecting commits up to seen, on the chain cached for it.
func (c *elementCache) setAdjacency(id graphstore.ID, sd int, a adjacency, seen int64) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, ok := sh.chains[id]
	if !ok || sh.touched > seen || old.adj[sd].loaded || old.adj[sd].tooLong {
		return
	}
	nc := &chain{slots: old.slots, adj: old.adj}
	nc.adj[sd] = a
	sh.chains[id] = nc
	c.setIndex(id, nc)
	sh.bytes.Add(a.bytes())
	c.evict(sh, id)
}

// applyAdjacency updates a cached side of a component's adjacency with a
// commit's changes at ts (idempotently, as postingCache.apply does).
func (c *elementCache) applyAdjacency(id graphstore.ID, sd int, changes []postingChange, ts int64, maxLen int) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.touched = max(sh.touched, ts)
	old, ok := sh.chains[id]
	if !ok || !old.adj[sd].loaded || reflects(old.adj[sd].list, changes, ts) {
		return
	}
	nc := &chain{slots: old.slots, adj: old.adj}
	if nl := applyChanges(old.adj[sd].list, changes, ts); len(nl) > maxLen {
		nc.adj[sd] = adjacency{tooLong: true}
	} else {
		nc.adj[sd] = newAdjacency(nl)
	}
	sh.chains[id] = nc
	c.setIndex(id, nc)
	sh.bytes.Add(nc.adj[sd].bytes() - old.adj[sd].bytes())
}

// clear empties the cache (after compaction dropped versions). It holds
// every shard lock while it drops the index, so that no writer mirrors an
// entry into the index it drops.
func (c *elementCache) clear(ts int64) {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	c.grow.Lock()
	c.index.Store(new([]*chainChunk))
	c.grow.Unlock()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.touched = max(sh.touched, ts)
		sh.chains = map[graphstore.ID]*chain{}
		sh.bytes.Store(0)
		sh.mu.Unlock()
	}
}

// storeDecoded fills a slot with its decoded element (unless another reader
// did first) and charges it to the shard only when the slot belongs to the
// chain the shard holds: a slot of a chain that was never cached, or was
// evicted or replaced, is not the cache's memory. Under the shard lock, so
// that put and evict, which count a chain's decoded slots, see either both
// the element and its charge or neither.
func (c *elementCache) storeDecoded(id graphstore.ID, sl *slot, e *graphstore.Element) {
	sh := &c.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sl.e.CompareAndSwap(nil, e) {
		return
	}
	if ch := sh.chains[id]; ch != nil && ch.at(sl.ts) == sl {
		sh.bytes.Add(elementBytes(e))
	}
}

const slotBytes = 48

func chainBytes(ch *chain) int64 {
	n := int64(64+len(ch.slots)*slotBytes) + ch.adj[0].bytes() + ch.adj[1].bytes()
	for _, s := range ch.slots {
		if e := s.e.Load(); e != nil {
			n += elementBytes(e)
		}
	}
	return n
}

// elementBytes estimates the memory a decoded element holds.
func elementBytes(e *graphstore.Element) int64 {
	n := int64(256)
	for i := range e.Contribs {
		c := &e.Contribs[i]
		n += 96 + int64(len(c.Source)+len(c.ExternalID))
		if d := c.Component; d != nil {
			n += int64(len(d.Name)+len(d.Type)+len(d.Layer)+len(d.Domain)+len(d.Properties)) +
				listBytes(d.Identifiers) + listBytes(d.Environments) + listBytes(d.Labels)
		}
		if d := c.Relation; d != nil {
			n += int64(len(d.Type)+len(d.SourceRef)+len(d.TargetRef)+len(d.Properties)) +
				listBytes(d.Identifiers) + listBytes(d.Labels)
		}
		if d := c.Check; d != nil {
			n += int64(len(d.Name) + len(d.Message) + len(d.Identifier))
		}
	}
	return n * 2 // the merged view holds about as much again
}

func listBytes(l []string) int64 {
	n := int64(24 + 16*len(l))
	for _, s := range l {
		n += int64(len(s))
	}
	return n
}

// ---- posting cache ----

// openEnd is the end of an interval that has not ended.
const openEnd = math.MaxInt64

// interval is one posting: element id carried the term during [from, to).
type interval struct {
	id       graphstore.ID
	from, to int64
	aux      graphstore.ID
}

// plist is every interval of a term, sorted by (id, from). Immutable once
// published.
type plist []interval

// termKey names a term of an index.
type termKey struct {
	ix   graphstore.Index
	term string
}

// isAdjacency reports whether the term is one side of a component's
// adjacency, which is cached on the component's chain, never in the
// posting cache.
func (k termKey) isAdjacency() bool { return k.ix == graphstore.IdxOut || k.ix == graphstore.IdxIn }

// component returns the component an adjacency term belongs to, or 0 (no
// element's id) for a term that is not an id.
func (k termKey) component() graphstore.ID {
	if len(k.term) != 8 {
		return 0
	}
	return graphstore.ID(u64([]byte(k.term)))
}

func (k termKey) shard() int {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(k.term); i++ {
		h = (h ^ uint64(k.term[i])) * 1099511628211
	}
	h = (h ^ uint64(k.ix)) * 1099511628211
	return int(h % cacheShards)
}

// pentry is a posting cache entry: a term's whole interval list, or the
// knowledge that it is too long to cache.
type pentry struct {
	list    plist
	tooLong bool
}

type postingShard struct {
	mu      sync.RWMutex
	lists   map[termKey]pentry
	touched int64
	bytes   int64
}

// postingCache maps terms to their interval lists under a memory budget.
// Lists longer than maxLen are never cached: their terms are read from
// Pebble, which for past reads touches only the history that ended after
// the read time.
type postingCache struct {
	shards      [cacheShards]postingShard
	shardBudget int64
	maxLen      int
}

const intervalBytes = 40

func newPostingCache(budget int64, maxLen int) *postingCache {
	c := &postingCache{shardBudget: max(budget/cacheShards, 1<<10), maxLen: maxLen}
	for i := range c.shards {
		c.shards[i].lists = map[termKey]pentry{}
	}
	return c
}

func (c *postingCache) get(k termKey) (pentry, bool) {
	sh := &c.shards[k.shard()]
	sh.mu.RLock()
	e, ok := sh.lists[k]
	sh.mu.RUnlock()
	return e, ok
}

// put caches a term's list (or that it is too long to cache), loaded from a
// Pebble view reflecting commits up to seen.
func (c *postingCache) put(k termKey, l plist, tooLong bool, seen int64) {
	sh := &c.shards[k.shard()]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.touched > seen {
		return
	}
	if _, ok := sh.lists[k]; ok {
		return
	}
	sh.lists[k] = pentry{list: l, tooLong: tooLong}
	sh.bytes += listSize(k, l)
	for other, oe := range sh.lists { // random eviction, as in elementCache
		if sh.bytes <= c.shardBudget {
			break
		}
		if other != k {
			delete(sh.lists, other)
			sh.bytes -= listSize(other, oe.list)
		}
	}
}

func listSize(k termKey, l plist) int64 { return int64(64 + len(k.term) + len(l)*intervalBytes) }

// postingChange is a writer's change to one posting.
type postingChange struct {
	id    graphstore.ID
	aux   graphstore.ID
	close bool // true: the open interval of id ends; false: a new one opens
}

// apply updates a cached list with a commit's changes to its term at ts. A
// list the commit already reflects (cached by a reader from a newer view) is
// left alone; one that would grow past maxLen is dropped.
func (c *postingCache) apply(k termKey, changes []postingChange, ts int64) {
	sh := &c.shards[k.shard()]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.touched = max(sh.touched, ts)
	old, ok := sh.lists[k]
	if !ok || old.tooLong || reflects(old.list, changes, ts) {
		return // a too-long term only grows until compaction clears the cache
	}
	ne := pentry{list: applyChanges(old.list, changes, ts)}
	if len(ne.list) > c.maxLen {
		ne = pentry{tooLong: true} // the marker stays, charged as an empty list
	}
	sh.bytes += listSize(k, ne.list) - listSize(k, old.list)
	sh.lists[k] = ne
}

// reflects reports whether a list already holds a commit's changes: a change
// at ts leaves an interval that starts or ends at ts.
func reflects(l plist, changes []postingChange, ts int64) bool {
	for _, ch := range changes {
		for _, iv := range l.of(ch.id) {
			if iv.from == ts || iv.to == ts {
				return true
			}
		}
	}
	return false
}

// of returns the intervals of one element.
func (l plist) of(id graphstore.ID) plist {
	i := sort.Search(len(l), func(i int) bool { return l[i].id >= id })
	j := i
	for j < len(l) && l[j].id == id {
		j++
	}
	return l[i:j]
}

func applyChanges(old plist, changes []postingChange, ts int64) plist {
	nl := make(plist, len(old), len(old)+len(changes))
	copy(nl, old)
	for _, ch := range changes {
		if ch.close {
			for i := range nl {
				if nl[i].id == ch.id && nl[i].to == openEnd && nl[i].aux == ch.aux {
					nl[i].to = ts
					break
				}
			}
			continue
		}
		nl = append(nl, interval{id: ch.id, from: ts, to: openEnd, aux: ch.aux})
	}
	sortIntervals(nl)
	return nl
}

func (c *postingCache) clear(ts int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.touched = max(sh.touched, ts)
		sh.lists = map[termKey]pentry{}
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

// ---- count cache ----

type countShard struct {
	mu      sync.Mutex
	m       map[termKey]int
	touched int64
}

// countCache remembers how many current postings a term has, for the
// planner's estimates. Entries are counted on first use, as of a published
// commit (never from a view that may hold an unpublished one), and kept
// exact by the writer, which adds every later commit's delta.
type countCache struct {
	shards [cacheShards]countShard
}

const maxCountsPerShard = 1 << 12

func newCountCache() *countCache {
	c := &countCache{}
	for i := range c.shards {
		c.shards[i].m = map[termKey]int{}
	}
	return c
}

func (c *countCache) get(k termKey) (int, bool) {
	sh := &c.shards[k.shard()]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n, ok := sh.m[k]
	return n, ok
}

func (c *countCache) put(k termKey, n int, seen int64) {
	sh := &c.shards[k.shard()]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.touched > seen {
		return
	}
	if len(sh.m) >= maxCountsPerShard {
		clear(sh.m) // estimates are cheap to recount; memory is not free
	}
	sh.m[k] = n
}

// add applies a commit's change to a term's count.
func (c *countCache) add(k termKey, delta int, ts int64) {
	sh := &c.shards[k.shard()]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.touched = max(sh.touched, ts)
	if n, ok := sh.m[k]; ok {
		sh.m[k] = n + delta
	}
}

// clear empties the counts (after a bulk load changed terms without
// deltas).
func (c *countCache) clear(ts int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.touched = max(sh.touched, ts)
		clear(sh.m)
		sh.mu.Unlock()
	}
}
