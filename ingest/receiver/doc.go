// Package receiver serves the ingest endpoints on the API server: what a
// StackState Agent v2 (or anything that speaks its intake) POSTs, unchanged.
//
// Routes (role ingest; the key as ?api_key=, sts-api-key, DD-Api-Key or any
// header the server accepts):
//
//   - POST /stsAgent/intake and /receiver/stsAgent/intake (each also with a
//     trailing slash, as agents send it): the intake object
//     {topologies, health, metrics, events, service_checks,
//     internalHostname, collection_timestamp, …}, every key optional, or the
//     other forms ingest.Decoder reads. Its topologies and health are
//     applied as tetra load applies them, in one commit, with open
//     snapshots kept durably in the store; its metrics, events (and any
//     spans) go to Config.Metrics, Events and Spans.
//   - POST /stsAgent/api/v1/series and /receiver/stsAgent/api/v1/series:
//     the agent forwarder's {"series": […]}, into Config.Metrics.
//   - POST /v1/traces, /v1/metrics and /v1/logs: OTLP/HTTP export
//     requests in protobuf (application/x-protobuf, what the SDKs'
//     exporters send) or JSON (415 for another Content-Type), decoded by
//     ingest.Decoder.DecodeOTLP and DecodeOTLPJSON, into Config.Spans,
//     Metrics and Events (logs become events); answered 200 with the
//     export response in the request's encoding, as OTLP wants, its
//     partial_success carrying the warnings (nothing is ever partly
//     rejected: an export is taken whole or refused).
//
// A request goes through these steps, and is answered at the first that
// fails:
//
//  1. The body, at most Config.MaxBodyBytes as sent (413 past it), is
//     decompressed per Content-Encoding (gzip, deflate as zlib or raw,
//     identity; 415 for another) to at most Config.MaxDecodedBytes (413).
//     A body that does not decompress is a 400.
//  2. ingest.Decoder validates the whole payload: every problem comes back
//     in one 400 with the JSON path of its field (error.problems).
//  3. Metrics, events and spans are appended to their stores, each synced
//     (a failure is a 5xx; the appends are idempotent, so a retry stores
//     them once); in the Kafka mode Config.Metrics, Events and Spans are an
//     ingest.LogWriter, so each kind is produced to its topic and the
//     append returns once the brokers acknowledged it. Then the topology
//     and health record is appended to the ingest.Log. In the embedded mode
//     (ingest.Pipeline) Append returns once the record is committed to the
//     store, in one group commit with whatever else was waiting, so a 202
//     means durable. A record refused as a whole (a stop_snapshot with no
//     open snapshot) is a 400 and nothing of it is applied. A full queue
//     makes the request wait up to a second, then answers 429 with
//     Retry-After; a log that is shutting down answers 503 with
//     Retry-After. Nothing that was answered 202 is ever dropped.
//  4. 202 with what was applied per source, the version it is in, and the
//     warnings: what was accepted but odd (duplicate keys, duplicate
//     external ids, invalid UTF-8), each with its path. What is not
//     stored (data of a kind the receiver has no store for) is named in
//     the warnings, never dropped silently.
//
// A topology with no instance gets the source "intake:<key name>"
// ("intake:default" on a server without keys).
//
// Self-metrics, in the server's registry: tetra_ingest_requests_total by
// outcome, tetra_ingest_body_bytes_total, tetra_ingest_elements_total by
// kind, tetra_ingest_warnings_total, tetra_ingest_append_seconds (receive to
// durable), and from an ingest.Pipeline tetra_ingest_queue_depth,
// tetra_ingest_group_commits_total and tetra_ingest_records_total by
// outcome.
package receiver
