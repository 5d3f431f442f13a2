package mcpserver

import (
	"context"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// Config configures the MCP server's tools.
type Config struct {
	// Engine runs every statement the tools build. Required.
	Engine *exec.Engine
	// Runtime runs scripts (run_script); nil leaves the tool out.
	Runtime *scriptrt.Runtime
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Version is the build's version, reported to clients.
	Version string
	// MaxText bounds a tool's text answer in bytes (DefaultMaxText).
	MaxText int
	// Timeout bounds each tool call's queries (the engine's when zero).
	Timeout time.Duration

	schemas *mcp.SchemaCache
}

// DefaultMaxText is how much text one tool answer holds at most: an
// assistant's context is small, and the answer says plainly what it left
// out and how to ask for it.
const DefaultMaxText = 16 << 10

// Access is what a caller may do: the scope that confines every result,
// and whether it may run scripts.
type Access struct {
	Scope  lang.Expr
	Script bool
}

func (c *Config) fill() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxText <= 0 {
		c.MaxText = DefaultMaxText
	}
	if c.schemas == nil {
		c.schemas = mcp.NewSchemaCache()
	}
}

// New returns an MCP server whose tools and resources serve acc.
func New(cfg Config, acc Access) *mcp.Server {
	cfg.fill()
	s := mcp.NewServer(&mcp.Implementation{Name: "tetra", Title: "Tetra", Version: cfg.Version},
		&mcp.ServerOptions{Instructions: instructions, SchemaCache: cfg.schemas, Capabilities: &mcp.ServerCapabilities{}})
	t := &tools{cfg: cfg, acc: acc}
	t.register(s)
	t.resources(s)
	return s
}

// instructions tell an assistant what the server is for and how to start.
const instructions = `Tetra keeps a versioned graph of an IT landscape (components such as services, pods, hosts and databases, and the relations between them), with their health, metrics, events and traces, at any time in the past (the 4T model: topology, telemetry, traces, time).
Start with describe_component or query to find components (every answer lists ids to follow up), use withNeighborsOf in query to walk dependencies (direction "up": what depends on a component; "down": what it depends on), and what_changed for what changed over a time range. Times are TQL times: "now", "-1h", "-30m", ISO-8601 or epoch milliseconds. The resource tetra://docs/query-language is the language reference; tetra://schema lists the types, layers, domains and environments in the data.`

// Handler serves the MCP server over streamable HTTP (stateless: every
// request carries the caller's API key, and the tools each request sees
// are those of that key's role, confined to its scope). Mount it on the
// API server at POST /mcp with role read.
func Handler(cfg Config) http.Handler {
	cfg.fill()
	return mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		p := api.PrincipalFrom(r.Context())
		acc := Access{}
		if p != nil {
			acc = Access{Scope: p.Scope, Script: p.Role.Allows(api.RoleScript)}
		}
		return New(cfg, acc)
	}, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
}

// Serve runs the MCP server over a transport (stdio for tetra mcp) until
// the client goes away or ctx ends.
func Serve(ctx context.Context, cfg Config, acc Access, t mcp.Transport) error {
	return New(cfg, acc).Run(ctx, t)
}
