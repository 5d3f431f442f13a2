// Package live keeps subscribed TQL queries' answers current as the
// topology changes, and pushes them to clients: over WebSocket (the
// protocol is docs/websocket.md) or in process (the REPL's :watch, the web
// view).
//
// A subscriber gets a query's full answer, then a diff (components and
// relations added, removed, changed with the changed fields and their new
// values) each time a committed change alters that answer, and nothing for
// other commits. Every message carries a sequence number (Seq): the commit
// time its answer is exact at. A client that reconnects with its last seq
// gets one diff from there (the store keeps history, so the answer at that
// time can be run again), or a full answer that says why it could not.
//
// # Data flow
//
//	store change feed ─► feed reader ─► dispatcher ─► evaluators (engine.Over(recording graph), or in place)
//	                                        │  ▲             │
//	                                        │  └─ read set, new answer, diff
//	                                        ▼
//	                views: one per distinct (query, scope), current answer (an atomic pointer)
//	                                        │ wake
//	                                        ▼
//	           subscriptions ─► Take: full answer or diff from what the client holds
//	                                        │
//	                      WebSocket writer (one per connection) / in-process Next
//
// Subscribers of the same query under the same scope share a view, so one
// evaluation serves them all. Each evaluation runs through a snapshot
// wrapper that records what it reads (elements, the postings of index
// terms, adjacency, which is postings of a component's id term, and the
// terms listed under a glob's prefix); the dispatcher files the view under
// each of them in an index. A commit's change hits a view when it touches
// an element the view read or adds or removes a posting it read (the
// symmetric difference of the element's postings before and after), so a
// commit re-runs only the views whose answer it can change: a change far
// from a withNeighborsOf neighbourhood does not re-run it. This is exact
// for any query shape, since an evaluation is a function of what it reads.
//
// A filter (exec.Matcher: no withNeighborsOf in the query or the scope)
// is not filed in the index nor run again: its answer is the components
// its filter holds for and the relations among them, so the dispatcher
// tests each change against the compiled filter and the view's members,
// and an evaluator applies the changes that matter to the answer in place
// (maintain.go), reading the graph only for the relations of components
// that joined. Those evaluations take microseconds and are scheduled
// before query runs.
//
// A view has at most one evaluation at a time, at the latest commit the
// dispatcher has taken; commits that arrive meanwhile are checked against
// the new read set when it ends, so bursts of commits coalesce into fewer
// evaluations. A changed answer is published as an immutable version; a
// subscriber that keeps up sends the version's diff, encoded once for all
// subscribers, and one that fell behind gets a single diff from the answer
// it holds to the current one (coalesced). Nothing queues per subscriber:
// it holds at most one old version, so memory stays bounded however slow a
// client is; a client whose oldest unsent change waits longer than
// Limits.MaxLag is closed with code 4001 and a reason.
//
// Scope: every evaluation runs with the session's scope
// (exec.QueryOptions.Scope), and diffs are computed between scoped answers,
// so no component outside the scope reaches a client, in an answer or a
// diff.
//
// # Using it
//
//	hub, err := live.New(live.Config{Engine: eng, Store: st, Logger: log, Registerer: srv.Registry()})
//	hub.Mount(srv) // GET /api/subscribe on the API server (role read), closed with 1001 when it drains
//	// in process (the REPL's :watch, the web view):
//	sub, err := hub.Subscribe(ctx, live.Request{Query: `type = "service"`}, live.Session{})
//	for { msg, err := sub.Next(ctx); … }
//
// Mount authorizes through the server: the principal's key, scope and
// subscription limit make each connection's Session (SessionOf), and an
// open connection does not hold one of the key's concurrent requests
// (api.Server.HandleStream). Errors a client sees are the API's
// (*api.Error; api.ClassifyQuery maps them), positioned in the subscriber's
// own query text.
package live
