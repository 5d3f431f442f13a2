// Package api will own Tetra's HTTP surface: the REST API, WebSocket
// subscriptions that push live query results as the topology changes, the
// OpenAPI document and authentication, plus the one function that maps error
// classes to HTTP and WebSocket codes.
//
// It holds no code yet; see docs/architecture.md for its place in the data
// flow.
package api
