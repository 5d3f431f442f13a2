// Package telemetry defines Tetra's metric and event stores: the data they
// hold (series of samples, events), the filters and queries they answer,
// and the rule that ties tags to component identifiers (identity.go). The
// query engine sees the stores only through the interfaces here; two
// implementations satisfy them and pass one conformance suite (teltest):
//
//   - telpebble: embedded, on its own Pebble instance in the data
//     directory: series compressed in chunks (delta-of-delta timestamps,
//     values in the smallest of three float encodings), a head of recent
//     samples behind a write-ahead log, and events indexed by time, terms and
//     component identifiers.
//   - telelastic: Elasticsearch, in time-based indices with index templates,
//     bulk writes and the query DSL with aggregations.
//
// # Data flow
//
// Decoders in ingest turn payloads into SeriesSamples and Events, with the
// component identifiers of each already derived (Identifiers). The engine
// (exec) translates a METRICS or EVENTS statement into a MetricQuery or
// EventQuery: a Filter over the data's fields, the identifiers a FOR clause
// or an API key's scope allows, a time range, and for metrics an
// aggregation; the store answers with an iterator.
//
// Health states are not here: the health model lives with the topology in
// graphstore, versioned like it.
package telemetry
