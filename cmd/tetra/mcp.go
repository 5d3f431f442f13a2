package main

import (
	"context"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/scriptrt"
)

// runMCP implements tetra mcp: the MCP server over stdio for a local
// assistant, reading a data directory or forwarding to a server.
func runMCP(e *env, args []string) int {
	fs := newFlags(e, "mcp")
	data := dataFlag(fs)
	server := fs.String("server", e.getenv("TETRA_SERVER"), "forward to the MCP endpoint of the tetra server at `URL` (default $TETRA_SERVER)")
	key := fs.String("key", e.getenv("TETRA_API_KEY"), "API `KEY` for --server: its role and scope decide the tools and what they see (default $TETRA_API_KEY)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	set := fs.given()
	switch {
	case len(pos) > 0:
		return misuse(e, fs, "unexpected argument %q", pos[0])
	case *server != "" && set["data"]:
		return misuse(e, fs, "--data reads a data directory, --server asks a server: give one")
	case *key != "" && *server == "" && set["key"]:
		return misuse(e, fs, "--key goes with --server")
	}
	// SIGINT or SIGTERM ends the session cleanly.
	ctx, _, release := e.stopOnInterrupt()
	defer release()
	stdio := &mcp.IOTransport{Reader: io.NopCloser(e.stdin), Writer: nopWriteCloser{e.stdout}}
	if *server != "" {
		return mcpRemote(ctx, e, *server, *key, stdio)
	}
	return mcpLocal(ctx, e, *data, stdio)
}

// mcpLocal serves a data directory, opened read-only, with every tool: the
// local user owns the data.
func mcpLocal(ctx context.Context, e *env, dir string, t mcp.Transport) int {
	st, err := openStore(dir, readOnly, e.now)
	if err != nil {
		return userError(e, "mcp", err)
	}
	defer st.Close()
	ds, err := openData(dir, "", readOnly, e.now)
	if err != nil {
		return userError(e, "mcp", err)
	}
	defer ds.Close()
	eng := exec.New(st, exec.Options{Now: e.now, Data: ds.engineStores()})
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: e.now})
	if err != nil {
		return userError(e, "mcp", err)
	}
	cfg := mcpserver.Config{Engine: eng, Runtime: rt, Now: e.now, Version: version}
	if err := mcpserver.Serve(ctx, cfg, mcpserver.Access{Script: true}, t); err != nil && ctx.Err() == nil {
		return userError(e, "mcp", err)
	}
	return exitOK
}

// mcpRemote forwards to a server's MCP endpoint.
func mcpRemote(ctx context.Context, e *env, server, key string, t mcp.Transport) int {
	remote, err := mcpserver.Remote(ctx, server, key, version)
	if err != nil {
		return userError(e, "mcp", err)
	}
	defer remote.Close()
	s, err := mcpserver.Proxy(ctx, remote, version)
	if err != nil {
		return userError(e, "mcp", err)
	}
	if err := s.Run(ctx, t); err != nil && ctx.Err() == nil {
		return userError(e, "mcp", err)
	}
	return exitOK
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
