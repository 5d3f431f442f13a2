// Package demo simulates a live environment for tetra serve --demo: a web
// shop on Kubernetes (namespaces, services, deployments, replica sets,
// pods, containers, nodes), the databases and the queue it uses on hosts
// outside the cluster, and the StackState agents that report them. About
// three hundred components with their relations, health check states,
// metrics and events, changing over a five-minute cycle: a rolling deploy
// of checkout, the orders database degrading until its callers turn
// DEVIATING through health propagation, its recovery, the frontend scaled
// out and back, a rolling deploy of catalog.
//
// # Through the real ingest path
//
// The simulator does not write to any store. It produces what the agents
// would send, StackState Agent intake payloads (docs/ingest-formats.md §1:
// topologies as whole instance snapshots, health[] as REPEAT_SNAPSHOTS
// streams, raw metrics[], events{} bound to elements), and a Runner POSTs
// them to a receiver's /stsAgent/intake with an API key, as an agent
// would. tetra serve --demo points it at the server's own address.
//
// # Sources and identity
//
// Three topology instances report: kubernetes:shop-prod (the cluster
// agent), agent:integrations (hosts, processes, databases, queue) and
// opentelemetry:shop-prod (services and their calls, as traces show them).
// They meet through identifiers: a node is also urn:host:/<host>, a
// Kubernetes service also urn:service:/<name>, as is each database and
// queue. Metrics are tagged so that telemetry's identity rule binds them
// (hostname, service, kube_cluster_name + kube_namespace + pod_name).
//
// # Determinism
//
// The environment at a scenario moment is a pure function of the seed and
// that moment (stateAt); metric values depend on the seed, the series and
// the sample time. Config.Speed runs the scenario faster than the wall
// clock; timestamps are always wall time. Sim remembers only what it last
// sent, so that unchanged topology is not sent again and events say what
// changed since the previous Step.
package demo
