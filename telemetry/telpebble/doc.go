// Package telpebble is the embedded metric and event store: telemetry.Store
// on one Pebble instance (the data directory's telemetry/).
//
// Metrics flow in three steps. AppendMetrics resolves each series through
// an in-memory index (name, tags and identifiers → ids, rebuilt from the
// series table on open; new series are committed to Pebble), writes the
// samples as one record to the store's own sample log (files in log/,
// beside Pebble's), then adds them to the head, the unsealed samples in
// memory. When the latest sample time has passed a two-hour window's end
// by SealGrace, the window is sealed: each series' head samples become one
// compressed chunk (internal/tsz) carrying a summary of its values, the
// window is marked sealed up to the last log record, and log files whose
// samples are all in chunks are deleted. Open replays the log into the
// head. Reads take a Pebble snapshot and a copy of the head, merge a
// series' chunks and head samples per window (later writes win at equal
// times), and aggregate with internal/tsagg; a chunk that lies whole in
// one bucket and that no other write overlaps is aggregated from its
// summary without being decoded.
//
// Events are records keyed by time with postings per term (field values,
// tags, identifiers) per day. Compact applies retention by whole windows
// and days and merges windows sealed more than once.
//
// The key layout and the chunk format are drawn in docs/storage-format.md.
package telpebble
