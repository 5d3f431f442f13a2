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
//     are; unbound, it is kept and counts for nothing.
//   - Writing health is writing a batch; see "Writing health" below.
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
//
// # Writing health
//
// Receivers (StackState's health synchronisation) and automations
// (monitors) write check states through Batch, in the same atomic,
// versioned commits as topology, with one writer per store (Apply
// serializes batches):
//
//   - Batch.PutCheck(stream, checkStateID, CheckData{Name, State, Message,
//     Identifier}) sets a check state; Batch.DeleteCheck(stream,
//     checkStateID) deletes one (deleting what is not there does nothing).
//     This is TRANSACTIONAL_INCREMENTS, and the puts of REPEAT_STATES.
//   - Batch.ReplaceStream(stream), followed in the same batch by a PutCheck
//     for each state of a complete snapshot, makes the stream hold exactly
//     those states: REPEAT_SNAPSHOTS (and, with no puts, a stream that
//     expired). States repeated unchanged write nothing.
//   - StreamChecks(snapshot, stream) lists a stream's states at a time (what
//     REPEAT_STATES expiry compares with); ChecksOf(snapshot, component) the
//     states bound to a component.
//
// A stream is a string that names one source of check states: a
// StackState stream urn (with its sub stream, when it has one), or a
// monitor's own stream; check state ids are unique within it. Invalid
// operations fail the whole batch with an *OpError.
package graphstore
