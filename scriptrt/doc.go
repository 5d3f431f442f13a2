// Package scriptrt will own the JavaScript runtime (goja): one runtime per
// script run, StackState's script API names (Topology, Telemetry, Traces,
// Time, Events) over the query engine, sandboxing, and automations.
//
// It holds no code yet; see docs/architecture.md for its place in the data
// flow.
package scriptrt
