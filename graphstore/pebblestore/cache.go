package pebblestore

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tetrahq/tetra/graphstore"
)

// The element cache keeps, per element, its version directory (a chain: the
// timestamps of its versions, oldest first) and the decoded versions that
// reads have needed. It turns "the version of element x at time t" from a
// Pebble seek plus a decode into a map lookup and a binary search.
//
// Correctness does not depend on timing: a version is immutable once
// written, and a read at time t only looks at versions stamped ≤ t, all of
// which were committed before the read began. The one hazard is filling the
// cache with a chain loaded from Pebble while a writer appends to it; a
// per-shard generation counter, bumped by every writer that touches the
// shard, makes such a fill skip the cache (see put).

// slot is one version of an element.
type slot struct {
	ts   int64
	tomb bool                               // the element was deleted at ts
	e    atomic.Pointer[graphstore.Element] // decoded version; nil until loaded
}

// chain is an element's version directory. A chain is never modified once
// published; a writer replaces it with a longer copy that shares the slots.
type chain struct {
	slots []*slot
}

// at returns the slot live at ts (the last one stamped ≤ ts), or nil.
func (c *chain) at(ts int64) *slot {
	i := sort.Search(len(c.slots), func(i int) bool { return c.slots[i].ts > ts })
	if i == 0 {
		return nil
	}
	return c.slots[i-1]
}

func (c *chain) last() *slot {
	if len(c.slots) == 0 {
		return nil
	}
	return c.slots[len(c.slots)-1]
}

const cacheShards = 64

type cacheShard struct {
	mu     sync.RWMutex
	chains map[graphstore.ID]*chain
	gen    uint64
	bytes  atomic.Int64
}

// elementCache is a sharded map from element id to chain with a memory
// budget; over budget, a shard evicts chains at random (Go's map order),
// which needs no bookkeeping on the read path.
type elementCache struct {
	shards      [cacheShards]cacheShard
	shardBudget int64
}

func newElementCache(budget int64) *elementCache {
	c := &elementCache{shardBudget: max(budget/cacheShards, 1<<16)}
	for i := range c.shards {
		c.shards[i].chains = map[graphstore.ID]*chain{}
	}
	return c
}

func (c *elementCache) shard(id graphstore.ID) *cacheShard {
	return &c.shards[uint64(id)*0x9E3779B97F4A7C15>>58] // Fibonacci hashing onto 64 shards
}

// get returns the cached chain of id (nil when absent) and the shard
// generation to pass to put after loading a missing chain.
func (c *elementCache) get(id graphstore.ID) (*chain, uint64) {
	sh := c.shard(id)
	sh.mu.RLock()
	ch, gen := sh.chains[id], sh.gen
	sh.mu.RUnlock()
	return ch, gen
}

// put caches a chain loaded from Pebble unless a writer touched the shard
// since gen was read, in which case the chain may already be stale.
func (c *elementCache) put(id graphstore.ID, ch *chain, gen uint64) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if _, ok := sh.chains[id]; !ok {
		sh.chains[id] = ch
		sh.bytes.Add(chainBytes(ch))
	}
	c.evict(sh, id)
}

// evict drops random chains (never keep) until the shard is within budget.
// The caller holds sh.mu.
func (c *elementCache) evict(sh *cacheShard, keep graphstore.ID) {
	for id, ch := range sh.chains {
		if sh.bytes.Load() <= c.shardBudget {
			return
		}
		if id == keep {
			continue
		}
		delete(sh.chains, id)
		sh.bytes.Add(-chainBytes(ch))
	}
}

// appendVersion records a committed version of id: a cached chain is
// replaced by one with the new slot. The shard generation moves on either
// way, so concurrent fills of this shard are not cached.
func (c *elementCache) appendVersion(id graphstore.ID, ts int64, e *graphstore.Element) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	old, ok := sh.chains[id]
	if !ok {
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
	sh.chains[id] = &chain{slots: slots}
	sh.bytes.Add(slotBytes)
	c.evict(sh, id)
}

// clear empties the cache (after compaction dropped versions).
func (c *elementCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		sh.chains = map[graphstore.ID]*chain{}
		sh.bytes.Store(0)
		sh.mu.Unlock()
	}
}

// noteDecoded accounts for an element decoded into a cached slot.
func (c *elementCache) noteDecoded(id graphstore.ID, e *graphstore.Element) {
	c.shard(id).bytes.Add(elementBytes(e))
}

const slotBytes = 48

func chainBytes(ch *chain) int64 {
	n := int64(64 + len(ch.slots)*slotBytes)
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

// countCache remembers how many live postings a term has now, for the
// planner's estimates. Entries are filled by counting on first use and kept
// exact by the writer; the generation guard works as in elementCache.
type countCache struct {
	shards [16]countShard
}

type countKey struct {
	ix   graphstore.Index
	term string
}

type countShard struct {
	mu  sync.Mutex
	m   map[countKey]int
	gen uint64
}

func newCountCache() *countCache {
	c := &countCache{}
	for i := range c.shards {
		c.shards[i].m = map[countKey]int{}
	}
	return c
}

func (c *countCache) shard(k countKey) *countShard {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(k.term); i++ {
		h = (h ^ uint32(k.term[i])) * 16777619
	}
	h = (h ^ uint32(k.ix)) * 16777619
	return &c.shards[h%uint32(len(c.shards))]
}

func (c *countCache) get(k countKey) (n int, ok bool, gen uint64) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n, ok = sh.m[k]
	return n, ok, sh.gen
}

func (c *countCache) put(k countKey, n int, gen uint64) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if len(sh.m) >= maxCountsPerShard {
		clear(sh.m) // estimates are cheap to recount; memory is not free
	}
	sh.m[k] = n
}

const maxCountsPerShard = 1 << 14

// add applies a writer's change to a term's count.
func (c *countCache) add(k countKey, delta int) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	if n, ok := sh.m[k]; ok {
		sh.m[k] = n + delta
	}
}

func (c *countCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		sh.m = map[countKey]int{}
		sh.mu.Unlock()
	}
}
