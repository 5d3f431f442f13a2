// Package api is Tetra's HTTP surface: one server (Server) on one address
// for everything, with
//
//   - POST /api/query and POST /api/explain: any TQL statement, answered
//     with the result JSON of exec.AppendJSON (the same document tetra query
//     --json prints), written by exec.Engine.RunJSON straight from the
//     store's elements (the server's exec.EncodeCache keeps each element's
//     JSON, see there) and sent with one writev (gatherWrites), errors as
//     {"error": {class, message, line, col, offset, length, hint}}; the
//     body is read without reflection when encoding/json would read it
//     alike (decode.go);
//   - StackState's own shapes: GET /api/server/info, POST /api/snapshot,
//     GET /api/components/{id-or-identifier}, GET /api/topic;
//   - GET /healthz, GET /readyz, GET /metrics (Prometheus, the server's
//     own registry), GET /api/openapi.json (the embedded openapi.json);
//   - GET /api/values, GET /api/vocabulary, GET /api/timeline: what a client
//     completes a query with and the span of time it can query (assist.go);
//   - GET /api/components/{id-or-identifier}/health: a component's health
//     with the check states and degraded dependencies behind it
//     (health.go, exec.Engine.Health);
//   - what other packages mount with Server.Handle (live subscriptions,
//     receivers, scripts, MCP), each route with the Role it needs, and the
//     web view's pages with Server.HandlePage (public, not API, so not in
//     openapi.json).
//
// A request flows through observe (request id, log line, metrics, panic →
// 500; one allocation of state per request, the principal kept in it), the
// route's authorize (API key → Principal with role, scope and
// per-key limits; see keys.go; a WebSocket handshake may offer the key as
// a "tetra.key.…" subprotocol), then the handler. Classify is the one
// place that maps error classes to HTTP statuses and WebSocket close codes.
//
// Keys live hashed in the data directory's keys.json (KeyFile); a running
// server rereads the file when it changes (KeyRing). With no keys, the
// server checks none and serves only on loopback.
//
// The package api/client is the Go client of this API.
package api
