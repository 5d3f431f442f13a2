// Package kafkalog is the Kafka mode of the ingest log (tetra serve
// --kafka host:port,…), over github.com/segmentio/kafka-go; it is the only
// package that talks to Kafka.
//
// A Node is the three parts of one tetra serve node:
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
//   - The data consumer (data.go). Metrics, events and spans are read from
//     tetra.metrics, tetra.events and tetra.traces by a member of the
//     consumer group Config.DataGroup and written to Config.Data (one
//     append per kind for every record waiting, up to MaxBatch samples,
//     events and spans); the batch's offsets are committed in Kafka only
//     after the write returned. A consumer that stops in between leaves
//     the records to be read again by whichever member gets the partition,
//     and written again: the stores keep data under its identity (a
//     sample at its series' time, an event's id and time, a span's trace
//     and span id), so nothing is lost and nothing is stored twice. With
//     stores every node shares (Elasticsearch) all nodes are members of
//     one group, <prefix>telemetry, so each record is written once per
//     cluster; with a node's own embedded stores each node has a group of
//     its own, <prefix>telemetry.<node id>, so each node's stores hold
//     everything, as its topology replica does (DataGroupName). A group
//     without offsets starts at the topics' start.
//
// Topics are created at start when missing, with Partitions partitions
// (default 12), Replicas replicas (default: the broker's default) and
// max.message.bytes = MaxRecordBytes; topics that exist are kept as they
// are. Partitions added later are picked up by the periodic probe.
//
// The node connects in the background and never gives up: it retries with
// exponential backoff (200 ms to 5 s) while the brokers are away, and its
// readers (and the data consumer) reconnect by themselves. Check reports
// the last failure (tetra serve's /readyz reflects it). Self-metrics:
// tetra_kafka_produce_seconds and tetra_kafka_produce_errors_total by kind,
// tetra_kafka_consumer_lag per partition (for the data topics, by the data
// group's committed offsets), tetra_kafka_lag by kind,
// tetra_kafka_committed_offset per partition, tetra_kafka_records_total by
// outcome (the replica), tetra_kafka_data_records_total by kind and outcome
// (the data consumer), tetra_kafka_connected.
//
// Records the store refuses as invalid (they passed the receiver's checks,
// so this would be a bug) or that no longer decode are skipped one by one,
// logged with their position and counted, so that one bad record cannot
// stop a replica; records the processor refuses for their state (a
// stop_snapshot with no open snapshot) are refused alike on every node.
//
// Records a data store refuses as invalid are skipped alike, one by one,
// logged and counted; a store that fails otherwise is retried with backoff
// and nothing is committed meanwhile.
//
// An intake payload's health check states travel inside its topology
// record (in the same commit as its topology, as in the embedded mode), so
// every replica holds the health model too; the health topic is created
// but no record goes to it. REPEAT_STATES expiry runs on the log's time
// (ingest/expiry.go): Append stamps each record with its receive time, and
// each partition of the topology topic is a clock; when a check state of a
// partition's clock has expired by the node's wall clock, the node
// produces a tick record addressed to that partition (every ProbeInterval;
// any node may, a second tick deletes nothing), so that every replica
// deletes the state at the same place of the partition.
package kafkalog
