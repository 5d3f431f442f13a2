package mcpserver_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/mcpserver/mcptest"
	"github.com/tetrahq/tetra/scriptrt"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// server serves the web shop's history on a real API server with /mcp
// mounted as tetra serve mounts it: the Kubernetes view three hours ago,
// the agent and the traces two hours ago, and a rollout of checkout half
// an hour ago (its pod, which uses the orders database, replaced).
func server(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ap := ingest.NewApplier(st)
	for _, l := range []struct {
		files []string
		at    time.Duration
	}{
		{[]string{"webshop-kubernetes.json"}, -3 * time.Hour},
		{[]string{"webshop-agent.json", "webshop-traces.json"}, -2 * time.Hour},
		{[]string{"webshop-kubernetes-rollout-1.json", "webshop-kubernetes-rollout-2.json"}, -30 * time.Minute},
	} {
		for _, name := range l.files {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "topology", name))
			if err != nil {
				t.Fatal(err)
			}
			topos, err := (&ingest.Decoder{DefaultSource: "file:" + name}).Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ap.Apply(context.Background(), topos, now.Add(l.at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	kf := api.NewKeyFile(dir)
	tokens := map[string]string{}
	for _, k := range []api.NewKey{{Name: "reader", Role: api.RoleRead}, {Name: "ops", Role: api.RoleScript},
		{Name: "services", Role: api.RoleRead, Scope: `type = "service"`}, {Name: "agent", Role: api.RoleIngest}} {
		_, tok, err := kf.Create(k, now)
		if err != nil {
			t.Fatal(err)
		}
		tokens[k.Name] = tok
	}
	ring, err := api.NewKeyRing(kf)
	if err != nil {
		t.Fatal(err)
	}
	eng := exec.New(st, exec.Options{Now: clock})
	srv := api.New(api.Config{Engine: eng, Keys: ring, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("POST /mcp", api.RoleRead, mcpserver.Handler(mcpserver.Config{Engine: eng, Runtime: rt, Now: clock, Version: "test"}))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, tokens
}

// connect opens an MCP session with the SDK's own client over streamable
// HTTP, with an API key.
func connect(t *testing.T, url, key string) *mcp.ClientSession {
	t.Helper()
	cs, err := mcpserver.Remote(context.Background(), url, key, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestToolsOverHTTP lists the tools per role and calls each one, good
// calls and bad ones, through streamable HTTP.
func TestToolsOverHTTP(t *testing.T) {
	url, keys := server(t)
	reader, ops := connect(t, url, keys["reader"]), connect(t, url, keys["ops"])
	readTools := []string{"describe_component", "explain", "list_values", "query", "search_events", "search_traces", "what_changed"}
	if got := mcptest.ToolNames(t, reader); !slices.Equal(got, readTools) {
		t.Errorf("read key's tools: %v", got)
	}
	if got := mcptest.ToolNames(t, ops); !slices.Contains(got, "run_script") || len(got) != len(readTools)+1 {
		t.Errorf("script key's tools: %v", got)
	}
	for _, tc := range []struct {
		tool    string
		args    map[string]any
		isError bool
		want    []string
	}{
		{"query", map[string]any{"statement": `type = "service"`}, false,
			[]string{"3 components, 3 relations at 2026-11-01T12:00:00Z", "#6 checkout [service, Services] UNKNOWN urn:kubernetes:/shop-prod:shop:service/checkout urn:service:/checkout", "#31 frontend(#5) -calls-> checkout(#6)"}},
		{"query", map[string]any{"statement": `name = "*"`, "limit": 2}, false, []string{"components (13; showing the first 2, raise limit"}},
		{"query", map[string]any{"statement": `type = "host"`, "at": "-150m"}, false, []string{"0 components, 0 relations at 2026-11-01T09:30:00Z"}},
		{"query", map[string]any{"statement": `enviroment = "prod"`}, true,
			[]string{"the statement failed: enviroment = \"prod\"\nerror: unknown key \"enviroment\"\n  1 | enviroment = \"prod\"\n    | ^^^^^^^^^^\nhint: did you mean \"environment\"?"}},
		{"query", map[string]any{}, true, []string{"statement"}},
		{"explain", map[string]any{"statement": `type = "pod" AND NOT label = "app:frontend"`}, false, []string{"type"}},
		{"explain", map[string]any{"statement": `type =`}, true, []string{"^"}},
		{"describe_component", map[string]any{"name": "checkout"}, false,
			[]string{"#6 checkout", "health: UNKNOWN", "depends on (its outgoing relations):", "#8 orders [database, Databases] UNKNOWN urn:database:/postgresql/orders", "via calls (#33)", "recent changes (since -24h"}},
		{"describe_component", map[string]any{"name": "nothing"}, true, []string{"no component matches name = \"nothing\""}},
		{"describe_component", map[string]any{"id": 6, "name": "x"}, true, []string{"exactly one of id, identifier or name"}},
		{"what_changed", map[string]any{"from": "-1h"}, false, []string{"from 2026-11-01T11:00:00Z to 2026-11-01T12:00:00Z: components 1 added, 1 removed"}},
		{"what_changed", map[string]any{"filter": "typ = 1"}, true, []string{"unknown key \"typ\""}},
		{"list_values", map[string]any{"key": "type"}, false, []string{"type values: 6", "database"}},
		{"list_values", map[string]any{"key": "nope"}, true, []string{"nope"}},
		{"search_events", map[string]any{"filter": `category = "Alerts"`}, true, []string{"EVENTS WHERE category = \"Alerts\""}},
		{"search_traces", map[string]any{"filter": `service = "checkout"`}, true, []string{"TRACES WHERE"}},
	} {
		out, isErr := mcptest.Call(t, reader, tc.tool, tc.args)
		if isErr != tc.isError {
			t.Errorf("%s %v: isError %v, want %v:\n%s", tc.tool, tc.args, isErr, tc.isError, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %v: answer lacks %q:\n%s", tc.tool, tc.args, w, out)
			}
		}
	}
	// run_script: for a script key only; a failed query of a script is
	// drawn with its caret.
	out, isErr := mcptest.Call(t, ops, "run_script", map[string]any{"script": `Topology.query('type = "service"').components().length`})
	if isErr || !strings.Contains(out, "result (Number):\n3") {
		t.Errorf("run_script: %v %s", isErr, out)
	}
	out, isErr = mcptest.Call(t, ops, "run_script", map[string]any{"script": `Topology.query('typ = "x"').components()`})
	if !isErr || !strings.Contains(out, "the script failed at 1:") || !strings.Contains(out, "^^^") {
		t.Errorf("run_script error: %v %s", isErr, out)
	}
	if _, err := reader.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_script", Arguments: map[string]any{"script": "1"}}); err == nil {
		t.Error("a read key ran a script")
	}
}

// TestScopeConfinesEveryTool: a scoped key sees only its scope, in every
// tool and resource.
func TestScopeConfinesEveryTool(t *testing.T) {
	url, keys := server(t)
	cs := connect(t, url, keys["services"])
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"query", map[string]any{"statement": `name = "*"`}, "3 components"},
		{"describe_component", map[string]any{"name": "orders"}, "no component matches"},
		{"list_values", map[string]any{"key": "type"}, "type values: 1\nservice"},
	} {
		if out, _ := mcptest.Call(t, cs, tc.tool, tc.args); !strings.Contains(out, tc.want) {
			t.Errorf("%s: %s", tc.tool, out)
		}
	}
	out, _ := mcptest.Call(t, cs, "describe_component", map[string]any{"name": "checkout"})
	if strings.Contains(out, "orders") || strings.Contains(out, "checkout-") {
		t.Errorf("a neighbour outside the scope:\n%s", out)
	}
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "tetra://schema"})
	if err != nil || !strings.Contains(res.Contents[0].Text, "## type: 1 values\n\"service\"") {
		t.Errorf("schema in scope: %v %+v", err, res)
	}
}

// TestResources: the language reference and the schema of the data.
func TestResources(t *testing.T) {
	url, keys := server(t)
	cs := connect(t, url, keys["reader"])
	var uris []string
	for r, err := range cs.Resources(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	if !slices.Equal(uris, []string{"tetra://docs/query-language", "tetra://schema"}) {
		t.Errorf("resources: %v", uris)
	}
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "tetra://docs/query-language"})
	if err != nil || !strings.Contains(res.Contents[0].Text, "withNeighborsOf") {
		t.Errorf("language reference: %v", err)
	}
	res, err = cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "tetra://schema"})
	if err != nil || !strings.Contains(res.Contents[0].Text, `"database"`) || !strings.Contains(res.Contents[0].Text, `## layer:`) {
		t.Errorf("schema: %v %+v", err, res)
	}
}

// TestKeysOnTheEndpoint: /mcp needs a key of a role that reads.
func TestKeysOnTheEndpoint(t *testing.T) {
	url, keys := server(t)
	for _, key := range []string{"", keys["agent"], "tetra_nope_nope"} {
		if _, err := mcpserver.Remote(context.Background(), url, key, "test"); err == nil {
			t.Errorf("key %q connected", key)
		}
	}
}

// TestAssistantAnswersTheOrdersQuestion drives the tools the way an
// assistant that knows only their descriptions would, to answer "what
// depends on the orders database, and what changed around it in the last
// hour?": find the database, ask for its neighbours upward, then for the
// changes around it over the last hour, following ids from answer to
// answer.
func TestAssistantAnswersTheOrdersQuestion(t *testing.T) {
	url, keys := server(t)
	cs := connect(t, url, keys["reader"])
	var query, describe, changed *mcp.Tool
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		switch tool.Name {
		case "query":
			query = tool
		case "describe_component":
			describe = tool
		case "what_changed":
			changed = tool
		}
	}
	// The descriptions say how: "what depends on a component" is
	// withNeighborsOf with direction "up"; describe_component lists what
	// depends on it; what_changed takes a filter "around a component".
	schema := func(tool *mcp.Tool) string { b, _ := jsonMarshal(tool.InputSchema); return string(b) }
	if !strings.Contains(schema(query), `direction = \"up\") for what depends on a component`) ||
		!strings.Contains(describe.Description, "what depends on it") || !strings.Contains(schema(changed), "around a component") {
		t.Fatal("the tool descriptions do not say how to answer the question")
	}
	// 1. Find the orders database.
	out, _ := mcptest.Call(t, cs, "query", map[string]any{"statement": `type = "database" AND name = "orders*"`})
	id := regexp.MustCompile(`#(\d+) orders \[database`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no orders database in:\n%s", out)
	}
	// 2. What depends on it.
	out, _ = mcptest.Call(t, cs, "query", map[string]any{"statement": `withNeighborsOf(components = (id = ` + id[1] + `), levels = "1", direction = "up")`})
	for _, dep := range []string{"#6 checkout [service", "checkout-7a8b9c0d1-p6q7r [pod", "-calls-> orders(#" + id[1] + ")", "-uses-> orders(#" + id[1] + ")"} {
		if !strings.Contains(out, dep) {
			t.Errorf("dependents lack %q:\n%s", dep, out)
		}
	}
	// 3. What changed around it in the last hour.
	out, _ = mcptest.Call(t, cs, "what_changed", map[string]any{
		"filter": `withNeighborsOf(components = (id = ` + id[1] + `), levels = "1", direction = "both")`, "from": "-1h", "to": "now"})
	for _, ch := range []string{"components 1 added, 1 removed", "+ #", "checkout-7a8b9c0d1-p6q7r", "- #11 checkout-5c6b7d8e9-h4j5k", "-uses-> #" + id[1]} {
		if !strings.Contains(out, ch) {
			t.Errorf("changes lack %q:\n%s", ch, out)
		}
	}
	// describe_component gives the same in one call.
	n, _ := strconv.Atoi(id[1])
	out, _ = mcptest.Call(t, cs, "describe_component", map[string]any{"id": n, "since": "-1h"})
	for _, s := range []string{"depended on by (its incoming relations):", "checkout [service", "recent changes (since -1h", "checkout-5c6b7d8e9-h4j5k"} {
		if !strings.Contains(out, s) {
			t.Errorf("describe lacks %q:\n%s", s, out)
		}
	}
}
