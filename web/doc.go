// Package web is Tetra's web view: one page that runs TQL queries against
// the server's REST API and shows the answer as a graph in swim lanes by
// layer, a table and component details, kept current over the live
// WebSocket subscription, at any time the store keeps (docs/web.md).
//
// The page is plain ES modules under static/ (no build step), with
// Cytoscape.js vendored under static/vendor/ (its version and licence
// there and in docs/web.md). View serves them from the binary (embed):
// the page at / and the assets under /assets/<version>/, where version is
// a hash of every embedded file, so assets are cached for good and a new
// build is never mixed with an old one. Everything is sent with a strict
// Content Security Policy: no inline script or style, nothing from another
// origin.
//
// The view holds no state and imports nothing of the project: cmd/tetra
// mounts it on the API server with api.Server.HandlePage, and the page
// talks to the server only through the public API.
package web
