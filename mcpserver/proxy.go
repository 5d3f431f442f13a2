package mcpserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Remote connects to the MCP endpoint of a Tetra server (URL/mcp) with an
// API key, for tetra mcp --server: a local assistant speaks stdio, the
// server keeps the data, the key's role and scope.
func Remote(ctx context.Context, baseURL, key, version string) (*mcp.ClientSession, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	hc := &http.Client{Transport: keyTransport{key: key, next: http.DefaultTransport}}
	c := mcp.NewClient(&mcp.Implementation{Name: "tetra-mcp-bridge", Version: version}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: strings.TrimSuffix(baseURL, "/") + "/mcp",
		HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to the MCP endpoint of %s: %w", baseURL, err)
	}
	return cs, nil
}

// keyTransport sends the API key with every request.
type keyTransport struct {
	key  string
	next http.RoundTripper
}

func (t keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-API-Key", t.key)
	}
	return t.next.RoundTrip(r)
}

// Proxy returns a server that offers a remote server's tools and
// resources, forwarding every call: what the assistant sees is exactly
// what the remote server gives the key.
func Proxy(ctx context.Context, remote *mcp.ClientSession, version string) (*mcp.Server, error) {
	s := mcp.NewServer(&mcp.Implementation{Name: "tetra", Title: "Tetra", Version: version},
		&mcp.ServerOptions{Instructions: instructions, Capabilities: &mcp.ServerCapabilities{}})
	for tool, err := range remote.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's tools: %w", err)
		}
		s.AddTool(tool, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return remote.CallTool(ctx, &mcp.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
		})
	}
	for res, err := range remote.Resources(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's resources: %w", err)
		}
		s.AddResource(res, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return remote.ReadResource(ctx, &mcp.ReadResourceParams{URI: req.Params.URI})
		})
	}
	return s, nil
}
