package exec

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/tetrahq/tetra/graphstore"
)

// EncodeCache remembers the JSON of the components and relations
// AppendJSON wrote, so that a server answering the same elements again
// (a dashboard's queries, the neighbourhood of a busy service) copies
// their bytes instead of encoding them anew: encoding, and checking the
// stored properties, is most of a selective query's cost after the
// engine's.
//
// An entry is the element as the result held it beside its JSON, and it
// is used only when the element to encode is equal to it field by field,
// so it can never serve bytes of another version: a new version (a name,
// a label, a health or propagated health state, an update time) differs
// in some field and is encoded afresh. The comparison is cheap because
// results share the stored element's strings and slices, which are
// immutable (graphstore.Element), and Go compares identical memory
// without reading it. An entry encoded by RunJSON also keeps the store's
// element it came from: the same element, by address, is the same JSON
// (elements are immutable, and the entry keeps it alive, so no other
// element can take its address), so RunJSON's lookups compare one pointer
// and copy nothing.
//
// The cache is a fixed table indexed by element id, one entry a slot (a
// newer element in a slot replaces the older), bounded in bytes; elements
// that encode larger than cacheMaxEntry are not kept. It is not a cache
// of results: every query runs, and every element is compared. Safe for
// concurrent use.
type EncodeCache struct {
	comps [cacheSlots]atomic.Pointer[compEntry]
	rels  [cacheSlots]atomic.Pointer[relEntry]
	bytes atomic.Int64 // memory held by entries (see admit)
	// RunJSON's lists, kept whole (encoderuns.go).
	compRuns runTable[graphstore.Component]
	relRuns  runTable[graphstore.Relation]
}

const (
	// cacheSlots is per kind: a graph of 100k components has few ids
	// sharing a slot (2 MiB of pointers a kind).
	cacheSlots    = 1 << 18
	cacheMaxEntry = 4 << 10
	// cacheMaxBytes bounds the memory of the entries: their JSON and
	// entryOverhead each (the elements they keep alive are mostly the
	// present graph's own).
	cacheMaxBytes = 48 << 20
	entryOverhead = 560 // the entry, its copy of the element, the store's element it keeps
)

type compEntry struct {
	c    Component
	src  *graphstore.Component // the store's element c was converted from (nil: unknown)
	json []byte
}

type relEntry struct {
	r    Relation
	src  *graphstore.Relation
	json []byte
}

// NewEncodeCache returns an empty cache; pass it in EncodeOptions.Cache.
func NewEncodeCache() *EncodeCache { return &EncodeCache{} }

// component returns the JSON of c if the cache holds it.
func (k *EncodeCache) component(c *Component) ([]byte, bool) {
	e := k.comps[c.ID%cacheSlots].Load()
	if e == nil || !sameComponent(&e.c, c) {
		return nil, false
	}
	return e.json, true
}

func (k *EncodeCache) relation(r *Relation) ([]byte, bool) {
	e := k.rels[r.ID%cacheSlots].Load()
	if e == nil || !sameRelation(&e.r, r) {
		return nil, false
	}
	return e.json, true
}

// storedComponent returns the JSON of a store's component if the cache
// holds it: encoded from this very element, or from one equal to it
// field by field (the entry then remembers this element, so the next
// lookup compares a pointer). Unless it finds the element itself, it
// leaves *tmp set to c as a Result holds it (componentOf), ready to be
// encoded on a miss.
func (k *EncodeCache) storedComponent(c *graphstore.Component, tmp *Component) ([]byte, bool) {
	slot := &k.comps[uint64(c.ID)%cacheSlots]
	e := slot.Load()
	if e != nil && e.src == c {
		return e.json, true
	}
	*tmp = componentOf(c)
	if e == nil || !sameComponent(&e.c, tmp) {
		return nil, false
	}
	slot.CompareAndSwap(e, &compEntry{c: e.c, src: c, json: e.json})
	return e.json, true
}

// storedRelation is storedComponent for relations.
func (k *EncodeCache) storedRelation(r *graphstore.Relation, tmp *Relation) ([]byte, bool) {
	slot := &k.rels[uint64(r.ID)%cacheSlots]
	e := slot.Load()
	if e != nil && e.src == r {
		return e.json, true
	}
	*tmp = relationOf(r)
	if e == nil || !sameRelation(&e.r, tmp) {
		return nil, false
	}
	slot.CompareAndSwap(e, &relEntry{r: e.r, src: r, json: e.json})
	return e.json, true
}

// putComponent keeps a copy of c's JSON; src is the store's element c was
// converted from, when known.
func (k *EncodeCache) putComponent(c *Component, src *graphstore.Component, b []byte) {
	if !k.admit(len(b)) {
		return
	}
	old := k.comps[c.ID%cacheSlots].Swap(&compEntry{c: *c, src: src, json: bytes.Clone(b)})
	if old != nil {
		k.bytes.Add(-int64(len(old.json) + entryOverhead))
	}
}

func (k *EncodeCache) putRelation(r *Relation, src *graphstore.Relation, b []byte) {
	if !k.admit(len(b)) {
		return
	}
	old := k.rels[r.ID%cacheSlots].Swap(&relEntry{r: *r, src: src, json: bytes.Clone(b)})
	if old != nil {
		k.bytes.Add(-int64(len(old.json) + entryOverhead))
	}
}

// admit counts an entry of n bytes of JSON, or says no when it would not
// fit.
func (k *EncodeCache) admit(n int) bool {
	if n > cacheMaxEntry {
		return false
	}
	if k.bytes.Add(int64(n+entryOverhead)) > cacheMaxBytes {
		k.bytes.Add(-int64(n + entryOverhead))
		return false
	}
	return true
}

// sameComponent reports whether a and b encode alike: every field equal,
// and lists equally nil (null) or not. A test checks that it reads every
// field of Component.
func sameComponent(a, b *Component) bool {
	return a.ID == b.ID && a.LastUpdateTimestamp == b.LastUpdateTimestamp &&
		a.Name == b.Name && a.Type == b.Type && a.Layer == b.Layer && a.Domain == b.Domain &&
		a.HealthState == b.HealthState && a.PropagatedHealthState == b.PropagatedHealthState &&
		sameStrings(a.Environments, b.Environments) && sameStrings(a.Labels, b.Labels) &&
		sameStrings(a.Identifiers, b.Identifiers) && bytes.Equal(a.Properties, b.Properties) &&
		(a.Sources == nil) == (b.Sources == nil) && slices.Equal(a.Sources, b.Sources)
}

// sameRelation is sameComponent for relations.
func sameRelation(a, b *Relation) bool {
	return a.ID == b.ID && a.LastUpdateTimestamp == b.LastUpdateTimestamp &&
		a.Type == b.Type && a.Source == b.Source && a.Target == b.Target &&
		a.DependencyDirection == b.DependencyDirection &&
		sameStrings(a.Labels, b.Labels) && sameStrings(a.Identifiers, b.Identifiers) &&
		bytes.Equal(a.Properties, b.Properties) &&
		(a.Sources == nil) == (b.Sources == nil) && slices.Equal(a.Sources, b.Sources)
}

func sameStrings(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}
