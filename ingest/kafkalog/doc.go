// Package kafkalog is the Kafka mode of the ingest log (tetra serve
// --kafka host:port,…), over github.com/segmentio/kafka-go; it is the only
// package that talks to Kafka.
//
// A Node is both sides of one tetra serve node:
//
//   - The ingest.Log the receivers append to. Append produces the record
//     (ingest.Record.MarshalBinary, LZ4-compressed) to the topic of its kind,
//     <prefix><kind> (tetra.topology, tetra.health, tetra.metrics,
//     tetra.events, tetra.traces), keyed by the record's source instance and
//     partitioned by the key's murmur2 hash as Java clients do, so one
//     instance's records stay in order. It returns once every in-sync
//     replica acknowledged (acks=all); only then does the receiver answer
//     202. While the brokers cannot be reached it answers an
//     *ingest.UnavailableError (the receiver's 503 with Retry-After) within
//     AppendTimeout: nothing is accepted that is not durable.
//   - The replica. The node reads every partition of the topology topic from
//     the offset after the one its store committed, and one apply goroutine
//     hands every record waiting (up to MaxBatch elements) to the
//     ingest.TopologyProcessor as one group commit; the processor writes each
//     partition's offset in the same atomic store batch as the data and skips
//     records at or before it. A crash, a restart or a broker outage
//     therefore neither loses a record nor applies one twice, and every node
//     builds the same graph from the same log. No consumer group is used:
//     every node reads everything, and its offsets live in its own store.
//
// Topics are created at start when missing, with Partitions partitions
// (default 12), Replicas replicas (default: the broker's default) and
// max.message.bytes = MaxRecordBytes; topics that exist are kept as they
// are. Partitions added later are picked up by the periodic probe.
//
// The node connects in the background and never gives up: it retries with
// exponential backoff (200 ms to 5 s) while the brokers are away, and its
// readers reconnect by themselves. Check reports the last failure (tetra
// serve's /readyz reflects it). Self-metrics: tetra_kafka_produce_seconds,
// tetra_kafka_produce_errors_total, tetra_kafka_consumer_lag and
// tetra_kafka_committed_offset per partition, tetra_kafka_records_total by
// outcome, tetra_kafka_connected.
//
// Records the store refuses as invalid (they passed the receiver's checks,
// so this would be a bug) or that no longer decode are skipped one by one,
// logged with their position and counted, so that one bad record cannot
// stop a replica; records the processor refuses for their state (a
// stop_snapshot with no open snapshot) are refused alike on every node.
//
// Today only topology records exist. An intake payload's health check
// states travel inside its topology record (in the same commit as its
// topology, as in the embedded mode), so every replica holds the health
// model too. The health, metrics, events and traces topics are created
// for the records to come; the receiver writes metrics, events and spans
// straight into the stores of the node that received them (with
// Elasticsearch, the shared cluster; on Pebble, that node's own store).
package kafkalog
