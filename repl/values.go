package repl

import (
	"context"
	"strings"
	"sync"
	"time"
)

// valueCache keeps the values of topology keys that completion proposes,
// read through the backend, for a while: Tab does not ask the store every
// time, and a look-up is bounded in time so that a slow backend cannot
// freeze typing. It is safe for concurrent use.
type valueCache struct {
	b   Backend
	now func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct{ key, prefix string }

type cacheEntry struct {
	values []string
	all    bool // values holds every value under the prefix, not the first valueLimit
	at     time.Time
}

const (
	// valueLimit is how many values one look-up reads; a key with more
	// (names in a large graph) is asked again with a longer prefix.
	valueLimit = 200
	// valueTTL is how long values are kept: new components show up in
	// completion within it.
	valueTTL = 30 * time.Second
	// valueWait bounds one look-up.
	valueWait = 2 * time.Second
	// maxCacheEntries bounds the cache; past it, it starts over.
	maxCacheEntries = 256
)

func newValueCache(b Backend, now func() time.Time) *valueCache {
	return &valueCache{b: b, now: now, entries: map[cacheKey]cacheEntry{}}
}

// lookup returns the values of key that start with prefix (compared
// without regard to case), from the cache when an entry for this prefix,
// or for a shorter one that holds all its values, is fresh.
func (c *valueCache) lookup(key, prefix string) []string {
	if vals, ok := c.cached(key, prefix); ok {
		return vals
	}
	ctx, cancel := context.WithTimeout(context.Background(), valueWait)
	defer cancel()
	vals, err := c.b.Values(ctx, key, prefix, valueLimit+1)
	if err != nil {
		return nil // completion is a help: a failed look-up proposes nothing
	}
	e := cacheEntry{values: vals, all: len(vals) <= valueLimit, at: c.now()}
	if !e.all {
		e.values = vals[:valueLimit]
	}
	c.mu.Lock()
	if len(c.entries) >= maxCacheEntries {
		clear(c.entries)
	}
	c.entries[cacheKey{key, strings.ToLower(prefix)}] = e
	c.mu.Unlock()
	return withPrefix(e.values, prefix)
}

func (c *valueCache) cached(key, prefix string) ([]string, bool) {
	lower := strings.ToLower(prefix)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if k.key != key || now.Sub(e.at) > valueTTL || !strings.HasPrefix(lower, k.prefix) {
			continue
		}
		if e.all || k.prefix == lower {
			return withPrefix(e.values, prefix), true
		}
	}
	return nil, false
}

func withPrefix(vals []string, prefix string) []string {
	lower := strings.ToLower(prefix)
	var out []string
	for _, v := range vals {
		if strings.HasPrefix(strings.ToLower(v), lower) {
			out = append(out, v)
		}
	}
	return out
}
