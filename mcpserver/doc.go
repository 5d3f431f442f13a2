// Package mcpserver is Tetra's Model Context Protocol server for AI
// assistants (github.com/modelcontextprotocol/go-sdk; docs/mcp.md is the
// user's guide). tetra serve serves it at POST /mcp over streamable HTTP
// (Handler: stateless, so every request carries its API key, and the
// tools of that request are those of the key's role, confined to its
// scope); tetra mcp serves it over stdio for a local assistant, from a
// data directory (New, Serve) or by forwarding to a server's /mcp (Remote,
// Proxy).
//
// The tools (tools.go, describe.go) build TQL statements and run them
// through exec.Engine with the caller's scope: query, explain,
// describe_component, what_changed, search_events, search_traces,
// list_values, and run_script for keys of role script. The resources
// (resources.go) are the language reference (docs.QueryLanguage) and the
// schema of the data (the keys, and the values of type, layer, domain,
// environment and healthstate from exec.Engine.Values).
//
// Answers are compact text (render.go): counts first, then at most limit
// elements as one line each with their ids to follow up, within MaxText
// bytes; whatever is left out is said plainly. Errors are tool errors
// (isError) whose text draws the failed statement with a caret under the
// offending part (lang.Render).
package mcpserver
