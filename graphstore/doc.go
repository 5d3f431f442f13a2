// Package graphstore owns Tetra's versioned topology graph: components and
// relations, the per-source contributions they are merged from, every
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
// of sources; the postings of a version; the change feed) is in
// graphstore/internal/base, out of the public surface; the reference store
// implements merging and resolution on its own.
package graphstore
