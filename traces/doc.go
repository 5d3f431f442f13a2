// Package traces defines Tetra's span store: spans, the trace summaries a
// search returns, and the store interface the query engine uses. Two
// implementations pass one conformance suite (tracetest): tracepebble,
// embedded on its own Pebble instance with spans partitioned by day,
// stored in chunks per trace and append, and indexed by posting lists of
// terms (time, service, a service's durations, name, kind, status,
// attributes, resource attributes, component identifiers); and
// traceelastic, on Elasticsearch.
//
// A search selects spans with a filter (telemetry.Expr over the span
// fields), a FOR clause's identifiers and a time range; a trace matches
// when one of its spans does, and the result is each matching trace's
// summary (root service and name, start, duration, span count, error)
// with its matching spans. Spans are tied to components by
// telemetry.Identifiers (service.name → urn:service:/<name>, host …).
package traces
