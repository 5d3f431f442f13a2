// Package ingest turns what agents and users send into write batches for the
// stores: it decodes StackState intake payloads and check topology files,
// validates them, and applies topology with the receiver's semantics
// (instance snapshots replace an instance's elements, delete_ids delete).
//
// Receivers, the Kafka log (the only place kafka-go is imported) and the
// telemetry processors join this package as their issues land.
package ingest
