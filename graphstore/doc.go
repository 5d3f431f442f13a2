// Package graphstore owns Tetra's versioned topology graph: components and
// relations, the per-source contributions they are merged from, the check
// states of health streams and the health they give components, every
// version of each stamped with the time of its batch, secondary indexes for
// every STQL key and adjacency in both directions, all versioned so that a
// read opened at any time within retention sees exactly the graph of that
// moment.
//
// The package defines the data model (elements, their per-source
// contributions and merged views), the write batch and its limits, the
// indexes and which topology key each serves (terms.go: the store's half of
// the key vocabulary in internal/topokeys), and the Store, Snapshot and
// Feed interfaces. Implementations live in sub-packages: pebblestore (the
// product, on Pebble) and memstore (an in-memory reference, simple enough
// to be obviously right, used as the oracle in tests). The machinery the
// Pebble store builds on (planning a batch: identity resolution and merging
// of sources, incremental health; the postings of a version; the change
// feed) is in graphstore/internal/base, out of the public surface; the
// reference store implements merging, resolution and health on its own.
//
// # Health
//
// Health is part of the graph, not a side store, so that it is versioned,
// time-travels, compacts, feeds and indexes like everything else:
//
//   - A check state (KindCheck) is an element named by (stream, check state
//     id), the way a contribution is named by (source, external id): a
//     name, a state (CLEAR, DEVIATING, CRITICAL or UNKNOWN), a bounded
//     markdown message, and the identifier of the component it is about.
//     It is bound to the component holding that identifier, re-resolved
//     when identifiers appear, merge or go, exactly as relation endpoints
//     are; unbound, it is kept and counts for nothing. Batch.PutCheck and
//     DeleteCheck write them; StreamChecks lists a stream's (for snapshot
//     semantics and expiry, which receivers implement on top), ChecksOf a
//     component's.
//   - A component's own state (Component.Health, what STQL's healthstate
//     matches) is the most severe of its sources' ComponentData.Health and
//     of its bound check states. Its propagated state (Component.Propagated)
//     adds the DEVIATING and CRITICAL propagated states of what it depends
//     on: a traversable relation of direction ONE_WAY makes its source
//     depend on its target, BOTH both ways, NONE neither; cycles resolve to
//     the least fixed point.
//   - Both are materialized in every component version (Element.CheckState
//     and Element.Propagated): a batch that changes a check state, a
//     source's health, a relation or a dependency writes new versions of
//     the components whose states change, in the same commit. The Pebble
//     store computes this incrementally (internal/base/health.go); the
//     reference store recomputes every state from scratch after each batch.
package graphstore
