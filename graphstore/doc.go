// Package graphstore owns Tetra's versioned topology graph: components and
// relations, the per-source contributions they are merged from, every
// version of each stamped with the time of its batch, secondary indexes for
// every STQL key and adjacency in both directions, all versioned so that a
// read opened at any time within retention sees exactly the graph of that
// moment.
//
// The package defines the data model, the write batch and the rules that turn
// a batch into new element versions (identity resolution and merging of
// sources), the Store interface, and the change feed. Implementations live in
// sub-packages: pebblestore (the product, on Pebble) and memstore (an
// in-memory reference, simple enough to be obviously right, used as the
// oracle in tests).
package graphstore
