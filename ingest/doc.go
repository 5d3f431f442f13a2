// Package ingest turns what agents and users send into write batches for the
// stores: it decodes StackState intake payloads, check topology files and
// check state files, validates them, and applies topology with the
// receiver's semantics (instance snapshots replace an instance's elements,
// delete_ids delete) and check states as given. It also decodes metrics,
// events and spans (Decoder.DecodePayload): intake metrics[] and events{},
// /api/v1/series bodies, trace-agent span JSON, and OTLP traces, metrics
// and logs in protobuf (DecodeOTLP, DecodeOTLPRequest) and JSON; intake.go,
// spans.go, otlp.go and otlpdata.go say how each field maps, and
// docs/telemetry.md how the data is tied to components. A protobuf trace
// export is decoded in one pass from its wire form (otlpspans.go), its
// strings cut from one copy of the body; a body with a problem in its wire
// form goes the checked way, which names the field and byte offset.
//
// The HTTP receivers are in ingest/receiver; the Kafka log, the only place
// kafka-go is imported, in ingest/kafkalog.
//
// # The log and the processors
//
// A receiver validates a payload whole (a Decoder), wraps it in a Record
// (one kind of data, keyed by its source instance) and appends it to a Log.
// Log.Append returns only once the record is durable, and only then does
// the receiver answer 202. Two modes implement the seam:
//
//   - Embedded (Pipeline, the default): Append queues the record for one
//     writer goroutine per store, which takes every record waiting (up to
//     PipelineOptions.MaxGroupElements) and applies them through the
//     TopologyProcessor as one group commit: one synced Pebble batch for
//     many small requests, each record still whole or not at all. Append
//     returns when that batch is committed. The queue is bounded: a full
//     queue makes Append wait (AdmitWait), then fail with *BusyError (429
//     with Retry-After); nothing queued is ever dropped, and Close writes
//     what is queued before it returns.
//   - Kafka (ingest/kafkalog): Append produces the record (Record.MarshalBinary) to
//     the topic of its kind, keyed by Record.Key so that one instance stays
//     in order, and returns when the broker acknowledged it. Each node
//     consumes the topology topic's partitions and calls
//     TopologyProcessor.Process with the records and their Positions; the
//     processor writes the highest offset of each partition in the same
//     atomic store batch as the data (writer state under ingest/offset/),
//     skips records at or before the committed offset, and
//     TopologyProcessor.Committed tells the consumer where to resume. A
//     crash between the store commit and anything else therefore never
//     loses a record or applies one twice.
//
// Metrics, events and spans (datalog.go): in the embedded mode the
// receiver appends them straight to their stores (each append synced)
// before it appends the topology record. In the Kafka mode it appends them
// through a LogWriter, one record per kind (KindMetrics, KindEvents,
// KindTraces) to its topic, and the node's data consumer writes them with
// DataStores.Write, committing its offsets after the write. The stores keep
// data under its identity, so a record written twice is stored once.
//
// Processors apply records idempotently: topology puts and deletes are
// absolute, and a replayed record is skipped by its position. The state a
// processor keeps between records (open snapshots, offsets) is in the
// store's writer state (graphstore.StateStore), committed in the same batch
// as the elements, so it can never disagree with the graph after a crash.
//
// # Data flow
//
// A payload goes through a Decoder, which returns every Topology in it with
// its elements already mapped to graphstore.ComponentData and RelationData,
// or one *ErrorList naming every problem with its JSON path. An Applier then
// turns a list of topologies into one graphstore.Batch and commits it as one
// version. Nothing of a payload is committed unless all of it decodes and
// applies: decoding returns no topology on error, and an Apply error commits
// nothing.
//
// # Payload forms
//
// A payload is recognised by its keys:
//
//   - An intake payload, as POSTed to /stsAgent/intake:
//     {"topologies": [...], "metrics", "events", "health", ...}. Every key is
//     optional; topologies, health, metrics, events, series and
//     service_checks are read (service_checks become check states,
//     servicechecks.go); an empty object is an empty intake payload.
//     health entries become check states by their consistency model
//     (health.go). Each topology is {start_snapshot, stop_snapshot,
//     instance: {type, url}, components: [{externalId, type: {name}, data,
//     sourceProperties}], relations: [{externalId, type: {name}, sourceId,
//     targetId, data}], delete_ids}, every key optional.
//   - A check topology, the form the Python check test stubs record:
//     {instance_key: {type, url}, start_snapshot, stop_snapshot,
//     components: [{id, type, data}], relations: [{source_id, target_id,
//     type, data}], delete_ids}. A relation's external id is
//     "<source_id>-<type>-<target_id>", as the agent names relations submitted
//     by Python checks.
//   - A recorded request, {method, uri_path, headers, payload} (the
//     stackpack simulation recordings; "body" is accepted for "payload"):
//     its payload is an intake payload. A request whose uri_path is not the
//     intake endpoint is skipped.
//   - Check states, Tetra's form for loading health without a receiver:
//     {"check_states": [{stream, checkStateId, name, health,
//     topologyElementIdentifier, message}]} with StackState's CheckState
//     fields and the health stream each belongs to ("urn:health:…"); an
//     entry {stream, checkStateId, delete: true} deletes one. They are put
//     and deleted exactly as given, in one version: none of the
//     consistency models of an intake payload's health list (repeat
//     snapshots, repeat states, transactional increments), which belong
//     to that list. health is CLEAR, DEVIATING, CRITICAL or UNKNOWN
//     in any case; name, health and topologyElementIdentifier are required
//     for a put; message is markdown of at most graphstore.MaxMessageBytes.
//     An object that mixes check_states with topology keys is an error, and
//     so is one entry of an intake health list sent as a document.
//   - An OTLP/JSON document ({"resourceSpans"}, {"resourceMetrics"},
//     {"resourceLogs"}), or a trace-agent span ({trace_id, span_id, start,
//     …}).
//   - A JSON list of any of these, decoded in order; an element that is a
//     list is a trace-agent trace (a list of spans).
//
// An object with keys of no form, or of both the intake and check forms, is
// an error saying what was expected. Keys of no form inside a recognised
// object are ignored (agents add fields over time). A payload larger than
// Decoder.MaxBytes (64 MiB by default) is refused with a *TooLargeError
// before parsing; nesting depth is bounded by encoding/json.
//
// # Sources
//
// A topology's source is "<instance type>:<instance url>" (agent:integrations,
// kubernetes:prod-cluster, mesos:http://localhost:5050). A topology without an
// instance, or whose type and url are both empty, gets the Decoder's
// DefaultSource; without one it is an error.
//
// # Mapping a component
//
//   - External id: externalId (intake) or id (check form); required.
//   - Type: type.name (intake) or type (check form).
//   - Name: data.name. When absent it stays empty: the store's merged view
//     falls back to the external id (as StackState's templates do) only when
//     no source names the component, whereas a fallback here would let a
//     source that does not know the name hide the one another source gave.
//   - Layer, domain: data.layer, data.domain.
//   - Environments: data.environment (a string) and data.environments (a list),
//     united.
//   - Identifiers: data.identifiers, a list of strings.
//   - Labels: data.labels, a list of strings or one comma-separated string
//     ("a, b,c" is three labels; spaces around commas are dropped), united
//     with the labels from data.tags.
//   - Tags: data.tags is a list of "key:value" or plain strings (Python
//     checks), or an object {key: value} of strings (Go collectors, e.g.
//     Kubernetes pod labels). Each tag becomes a label ("key:value", or "key"
//     for a plain tag or an object member with an empty value), except these,
//     which are lifted and never become labels:
//     stackstate-identifiers:a,b (split on commas and white space) and
//     stackstate-identifier:x add identifiers (always, united with
//     data.identifiers); stackstate-layer:x and stackstate-domain:x give the
//     layer and domain when data.layer / data.domain is absent (the first such
//     tag wins); stackstate-environment:x (each one) gives the environments
//     when neither data.environment nor data.environments is present.
//   - Properties: sourceProperties when present and not null, else the whole
//     data object, interpreted keys included; compacted.
//   - Health is not set here: it comes from check states (the check states
//     form; later health synchronisation and monitors).
//
// # Mapping a relation
//
//   - External id: externalId (intake), or "<source_id>-<type>-<target_id>"
//     (check form).
//   - Type: type.name (intake) or type (check form).
//   - Endpoints: sourceId/targetId (intake) or source_id/target_id (check
//     form), both required, as SourceRef/TargetRef: each names a component by
//     an identifier or external id.
//   - Identifiers, labels and tags as for a component. A relation has no
//     layer, domain or environment, so stackstate-layer, -domain and
//     -environment tags on a relation are dropped.
//   - Dependency direction: data.dependencyDirection or
//     data.dependency_direction, ONE_WAY (the default), BOTH or NONE in any
//     case.
//   - Properties as for a component.
//
// # Values
//
// An interpreted key whose value is null or an empty object is absent: the
// Python agent sends {} for values it does not have (the recorded Agent 2.9
// request has "domain": {} on every SAP component). Empty strings in lists
// are dropped. Invalid UTF-8 inside a string becomes U+FFFD, as encoding/json
// decodes it everywhere (and is reported, see Warnings). Any other value of the wrong JSON type is an error naming its
// path, e.g. topologies[0].components[3].data.identifiers: want a list of
// strings, got a number. Uninterpreted keys of data are not checked. The
// store's limits (graphstore.MaxStringBytes per string, MaxListLen distinct
// values per list, MaxPropertiesBytes of compact properties, MaxPropertiesDepth of nesting) are checked
// while decoding so that the error carries the path.
//
// # Warnings
//
// What a payload has that is accepted but odd is reported, never silently
// rewritten (Decoder.DecodeChecked returns it as Warnings, each with its
// path): a key given twice in an object the decoder reads (the last value
// is used, as encoding/json does), a string with invalid UTF-8 (each bad
// byte becomes U+FFFD), and an external id put twice for one source in one
// payload (the store keeps the last description; the summary counts it
// once, see SourceSummary.Duplicates).
//
// # Applying
//
// Within one topology, the snapshot start comes first, then the component
// and relation puts, then delete_ids, then the snapshot stop. So an element
// both put and listed in delete_ids in the same topology is deleted (the
// sample checks do exactly that to test deletion). A delete_ids entry
// withdraws the source's component and its relation with that external id,
// whichever exists.
//
// Snapshots: start_snapshot begins a snapshot for the source (a second start
// while one is open begins a new one, forgetting what the first saw). Every
// element the source puts until stop_snapshot, in the same or later Apply
// calls, is seen. At stop_snapshot, every element the source contributed
// before that was not seen is deleted, in the batch that carries the stop. A
// start and stop in one topology therefore replace the source's elements
// exactly. A stop_snapshot with no open snapshot is an error. The open
// snapshots are kept by the Applier, durably in the store's writer state
// when it is made with OpenApplier (the receiver's); see Applier.
package ingest
