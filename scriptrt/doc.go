// Package scriptrt runs JavaScript scripts with StackState's script API
// names (Topology, Component, Telemetry, Events, Traces, Time, Http, Async,
// and tql) over the query engine, in a sandbox. docs/scripting.md is the
// user's reference.
//
// A Runtime is shared and safe for concurrent use; each Run gets a goja
// runtime of its own (goja runtimes are not goroutine-safe), with the
// sandbox and the APIs installed, and drops it afterwards, so nothing a
// script changes outlives its run. Compiled programs are shared through a
// bounded cache keyed by source (cache.go).
//
// Data flows:
//
//	Request.Script ─► compile (cache) ─► session: goja runtime + sandbox
//	  (guards.go, measure.go) + APIs (topology.go, data.go, timeapi.go,
//	  httpapi.go) ─► RunProgram ─► settle (async.go: builders and promises
//	  resolved) ─► encodeResult (result.go) ─► Result {_type, value}
//
// Every API builds a TQL statement as text, parses it with lang.Parse and
// runs it with exec.Engine.RunWith and the run's exec.QueryOptions (clock,
// element limit, the caller's Scope): scripts have no query path of their
// own. Results become JS values lazily (values.go): a list of components
// makes an element's object only when the script reads it, and what the
// script did not change serialises straight from the engine's Go values.
//
// The run stops at its timeout or when the caller's context ends
// (Interrupt), when the memory watchdog sees the heap grow past its budget
// (memory.go), or when it goes over a limit; errors.go lists the error
// classes and ErrorBody maps them to StackState's typed error documents.
// The automations (monitors, event handlers, scheduled scripts), the REST
// endpoint and the MCP server are later layers over Run.
package scriptrt
