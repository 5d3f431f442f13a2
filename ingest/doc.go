// Package ingest turns what agents and users send into write batches for the
// stores: it decodes StackState intake payloads and check topology files,
// validates them, and applies topology with the receiver's semantics
// (instance snapshots replace an instance's elements, delete_ids delete).
// It also decodes metrics, events and spans (Decoder.DecodePayload): intake
// metrics[] and events{}, /api/v1/series bodies, trace-agent span JSON and
// OTLP/JSON traces, metrics and logs; intake.go, spans.go and otlp.go say
// how each field maps, and docs/telemetry.md how the data is tied to
// components.
//
// Receivers, the Kafka log (the only place kafka-go is imported) and the
// telemetry processors join this package as their issues land.
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
//     optional; topologies, metrics, events and series are read (health and
//     service_checks not yet); an empty object is an empty intake payload. Each topology is {start_snapshot, stop_snapshot,
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
//   - Health is not set here: it comes from health synchronisation.
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
// decodes it everywhere. Any other value of the wrong JSON type is an error naming its
// path, e.g. topologies[0].components[3].data.identifiers: want a list of
// strings, got a number. Uninterpreted keys of data are not checked. The
// store's limits (graphstore.MaxStringBytes per string, MaxListLen distinct
// values per list, MaxPropertiesBytes of compact properties, MaxPropertiesDepth of nesting) are checked
// while decoding so that the error carries the path.
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
// snapshots live in memory in the Applier; see Applier.
package ingest
