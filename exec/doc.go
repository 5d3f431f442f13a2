// Package exec runs TQL statements against the versioned topology graph.
//
// Engine.RunWith takes a checked statement and per-query options (the time
// the query starts at, a timeout, an element limit, and an optional scope
// that confines every result). A topology statement is planned by the
// planner against a catalog of estimates (a snapshot of the latest commit),
// then built into operators through planner.Factory: index scans, glob
// scans, id lookups, full scans, filters, unions, intersections
// (leapfrogging), differences and neighbourhood expansions (reading
// adjacency a page at a time, so a hub stops at the element limit). Where
// the snapshot hands out postings as bitmaps (graphstore.SetReader: the
// Pebble store at the current time), scans iterate the bitmaps (a result
// that is one is copied out of it in bulk), and
// intersections, unions, differences and filters over such inputs are set
// algebra on the bitmaps (an intersection block by block over the dense
// blocks the store keeps beside them, graphstore.DenseSetReader, when
// most of its smallest input lies in blocks every input has dense); other
// filters test membership; otherwise filters load each component
// (sets.go).
// Operators stream sorted component ids (Next/SeekGE/At/Err/Close) over
// one graphstore.Snapshot opened at the query's time (at the current time,
// the one the planner opened for its estimates); the result is the
// selected components and the relations among them, related over the
// snapshot's own adjacency lists where it hands them out without a copy
// (graphstore.AdjacencyViewer), and its rows and lists are read 256 ids at
// a time where the snapshot reads them in batches (graphstore.BatchViewer;
// a membership bitmap of the result, pooled when large, or for a short
// result a hash filter in front of a binary search, finds the relations
// among its components). A TopologyResult refers to the store's
// elements, which are immutable, instead of copying its rows: its
// Components and Relations (Rows) make a Component or Relation of a row
// when a surface reads it, and read as at the query's time however long
// they are kept; where the snapshot hands the elements out without
// reading them (graphstore.RefViewer), building the answer reads none of
// its rows' memory. CHANGES
// runs the plan at both ends of its range and compares what it selects.
// Health answers what a component's health rests on at a time (its check
// states and degraded dependencies), under the same options and scope, for
// the surfaces that show "the checks behind it".
//
// exec reads storage only through the Graph interface it defines (a store
// that opens snapshots) and graphstore.Snapshot; it never sees a concrete
// store. Every query honours context cancellation and its timeout, and
// counts the components it holds (results and expanded neighbourhoods)
// against the element limit, failing with a *LimitError instead of cutting
// a result. Errors come in the classes errors.go lists.
//
// METRICS, EVENTS and TRACES (data.go, metrics.go, events.go,
// tracesexec.go) read the data stores of Options.Data through the
// telemetry and traces interfaces: the WHERE filter is translated into the
// stores' filter (datafilter.go), a FOR clause (or an API key's scope) is
// evaluated as a topology query at the range's end and joins through the
// components' identifiers, and aggregations are pushed down to the store.
// Results count against the element limit and are never cut silently.
//
// AppendJSON is the one encoder of results (tetra query --json, the API,
// scripts). Engine.RunJSON runs a statement and writes the same document
// without building a Result for a topology query: the evaluation hands
// the store's elements to the encoder as it reads them (a topologySink;
// RunWith's builds the Result), and an EncodeCache serves the JSON of an
// element it encoded before.
package exec
