package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/mcpserver/mcptest"
)

// mcpProcess starts `tetra mcp ARGS…` as a process of its own and connects
// the SDK's client to it over stdio.
func mcpProcess(t *testing.T, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"mcp"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestMCPStdio drives tetra mcp over stdio with the SDK's client, as a
// local assistant would: from a data directory, and forwarding to a
// server with a key whose role and scope the server enforces.
func TestMCPStdio(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tetra mcp as processes")
	}
	dir := t.TempDir()
	loadWebshop(t, dir)
	local := mcpProcess(t, "--data", dir)
	if got := mcptest.ToolNames(t, local); !slices.Contains(got, "run_script") || !slices.Contains(got, "describe_component") || len(got) != 8 {
		t.Errorf("local tools: %v", got)
	}
	out, isErr := mcptest.Call(t, local, "query", map[string]any{"statement": `type = "service"`, "at": "2026-11-01T12:00:00Z"})
	if isErr || !strings.Contains(out, "3 components, 3 relations at 2026-11-01T12:00:00Z") {
		t.Errorf("local query: %v %s", isErr, out)
	}
	out, isErr = mcptest.Call(t, local, "query", map[string]any{"statement": `name = "a" AND (`})
	if !isErr || !strings.Contains(out, "  1 | name = \"a\" AND (\n") || !strings.Contains(out, "^") {
		t.Errorf("local error: %v %s", isErr, out)
	}
	out, isErr = mcptest.Call(t, local, "run_script", map[string]any{"script": `Topology.query('type = "database"').components().thenCollect(c => c.name)`})
	if isErr || !strings.Contains(out, `["orders"]`) {
		t.Errorf("local script: %v %s", isErr, out)
	}
	res, err := local.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "tetra://docs/query-language"})
	if err != nil || !strings.Contains(res.Contents[0].Text, "withNeighborsOf") {
		t.Errorf("local resource: %v", err)
	}

	// Forwarding to a server: a scoped read key.
	dir2 := t.TempDir()
	loadWebshop(t, dir2)
	kf := api.NewKeyFile(dir2)
	_, tok, err := kf.Create(api.NewKey{Name: "svc", Role: api.RoleRead, Scope: `type = "service"`}, testClock())
	if err != nil {
		t.Fatal(err)
	}
	ring, err := api.NewKeyRing(kf)
	if err != nil {
		t.Fatal(err)
	}
	hs := scriptServer(t, dir2, ring)
	remote := mcpProcess(t, "--server", hs.URL, "--key", tok)
	if got := mcptest.ToolNames(t, remote); slices.Contains(got, "run_script") || len(got) != 7 {
		t.Errorf("remote tools of a read key: %v", got)
	}
	out, isErr = mcptest.Call(t, remote, "query", map[string]any{"statement": `name = "*"`, "at": "2026-11-01T12:00:00Z"})
	if isErr || !strings.Contains(out, "3 components") {
		t.Errorf("remote scoped query: %v %s", isErr, out)
	}
	out, isErr = mcptest.Call(t, remote, "query", map[string]any{"statement": `enviroment = "x"`})
	if !isErr || !strings.Contains(out, "did you mean \"environment\"?") {
		t.Errorf("remote error: %v %s", isErr, out)
	}
	// A bad key: tetra mcp says so and exits 1.
	code, _, errOut := runTetra(t, "", "mcp", "--server", hs.URL, "--key", "tetra_x_y")
	if code != exitUser || !strings.Contains(errOut, "connecting to the MCP endpoint") {
		t.Errorf("bad key: %d %s", code, errOut)
	}
}
