package mcpserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/docs"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// The resources: the language reference, and the schema of the data.
const (
	uriLanguage = "tetra://docs/query-language"
	uriSchema   = "tetra://schema"
)

func (t *tools) resources(s *mcp.Server) {
	s.AddResource(&mcp.Resource{URI: uriLanguage, Name: "query-language", Title: "TQL, Tetra's query language",
		Description: "The reference of TQL: topology filters (StackState's STQL), withNeighborsOf, time travel (AT), CHANGES, METRICS, EVENTS and TRACES.",
		MIMEType:    "text/markdown"}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uriLanguage, MIMEType: "text/markdown", Text: docs.QueryLanguage}}}, nil
	})
	s.AddResource(&mcp.Resource{URI: uriSchema, Name: "schema", Title: "Keys, types, layers, domains and environments in the data",
		Description: "The topology keys filters may use, and the values of type, layer, domain, environment and healthstate that components carry now (within this key's scope).",
		MIMEType:    "text/markdown"}, t.schema)
}

// schemaKeys are the keys whose values the schema lists.
var schemaKeys = []string{"type", "layer", "domain", "environment", "healthstate"}

func (t *tools) schema(ctx context.Context, _ *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	w := newWriter(t.cfg.MaxText * 2)
	w.line("# The data's schema")
	w.line("")
	w.line("Topology keys: %s.", strings.Join(lang.Words().TopologyKeys, ", "))
	w.line("Values of name, label and identifier: use the list_values tool.")
	for _, key := range schemaKeys {
		vals, err := t.cfg.Engine.Values(ctx, key, "", 201, exec.QueryOptions{Scope: t.acc.Scope})
		if err != nil {
			return nil, err
		}
		w.line("")
		more := ""
		if len(vals) > 200 {
			vals, more = vals[:200], " (the first 200; list_values gives the rest)"
		}
		w.line("## %s: %d values%s", key, len(vals), more)
		w.line("%s", strings.Join(quoteAll(vals), ", "))
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uriSchema, MIMEType: "text/markdown", Text: w.String()}}}, nil
}

func quoteAll(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
