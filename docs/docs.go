// Package docs holds Tetra's user documentation, and gives the programs
// the pages they serve: the MCP server offers the query language
// reference to AI assistants as a resource.
package docs

import _ "embed"

// QueryLanguage is docs/query-language.md, the TQL reference.
//
//go:embed query-language.md
var QueryLanguage string
