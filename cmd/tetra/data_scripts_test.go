package main

import (
	"context"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/mcpserver/mcptest"
)

// webshopRange is the hour the web shop's telemetry covers.
var webshopRange = map[string]any{"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T11:00:00Z"}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestMCPDataTools: the MCP tools answer from the metric, event and span
// stores through the METRICS, EVENTS and TRACES statements, compactly and
// saying when LIMIT cut the answer; and an event a script emits through
// the server is in the event store, where search_events finds it.
func TestMCPDataTools(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	hs := scriptServer(t, dir, nil)
	cs, err := mcpserver.Remote(context.Background(), hs.URL, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	for _, tc := range []struct {
		tool string
		args map[string]any
		want []string
	}{
		{"search_events", with(webshopRange, "topology", `withNeighborsOf(components = (name = "checkout"), levels = "2")`), []string{
			"3 events from 2026-11-01T10:00:00Z to 2026-11-01T11:00:00Z, newest first\n",
			"2026-11-01T10:35:00Z [Alerts] orders database: connections high (prometheus) on urn:database:/postgresql/orders: postgresql.connections above 30 for 5 minutes\n",
			"2026-11-01T10:29:00Z [Deployments] checkout 2.4.1 rolled out (argocd) on urn:service:/checkout",
		}},
		{"search_events", with(webshopRange, "filter", `category = "alerts" OR check = "checkout-page"`, "limit", 1), []string{
			"1 event from 2026-11-01T10:00:00Z to 2026-11-01T11:00:00Z, newest first, cut by LIMIT",
		}},
		{"search_traces", with(webshopRange, "filter", `service = "checkout" AND status = "error"`), []string{
			"traces from 2026-11-01T10:00:00Z to 2026-11-01T11:00:00Z", "\ntrace ", " error, ", "\n  span ",
		}},
		{"query", map[string]any{"statement": `METRICS WHERE name = "postgresql.connections" FROM "2026-11-01T10:00:00Z" TO "2026-11-01T11:00:00Z" AGGREGATE max`}, []string{
			"1 series from 2026-11-01T10:00:00Z to 2026-11-01T11:00:00Z (max)\n",
			`{db="orders",host="db-1.shop.internal",name="postgresql.connections",stackstate-identifier="urn:database:/postgresql/orders"}: 1 point, last 34 at 2026-11-01T10:00:00Z, min 34, max 34`,
		}},
	} {
		out, isErr := mcptest.Call(t, cs, tc.tool, tc.args)
		for _, w := range tc.want {
			if isErr || !strings.Contains(out, w) {
				t.Errorf("%s %v: want %q in:\n%s", tc.tool, tc.args, w, out)
				break
			}
		}
	}

	// A script's event, through the server's script endpoint, into the
	// event store.
	code, out, errOut := runTetra(t, "", "script", "run", "--server", hs.URL, "--script",
		`Events.emit({name: "checkout paged", category: "alerts", message: "p99 over 2 s", components: ["urn:service:/checkout"], `+
			`time: "2026-11-01T10:50:00Z", tags: {team: "shop"}}); "sent"`)
	if code != exitOK || !strings.Contains(out, "sent") {
		t.Fatalf("emit: %d %s %s", code, out, errOut)
	}
	out, isErr := mcptest.Call(t, cs, "search_events", with(webshopRange, "filter", `team = "shop"`))
	if isErr || !strings.Contains(out, "1 event from") ||
		!strings.Contains(out, "2026-11-01T10:50:00Z [Alerts] checkout paged (api) on urn:service:/checkout: p99 over 2 s") {
		t.Errorf("the emitted event:\n%s", out)
	}
	// An event the store refuses is the script's mistake, named, and
	// nothing is written.
	code, _, errOut = runTetra(t, "", "script", "run", "--server", hs.URL, "--script",
		`Events.emit({name: "x".repeat(2000)}); 1`)
	if code != exitUser || !strings.Contains(errOut, "event name is 2000 bytes long; the limit is 1024") {
		t.Errorf("a refused event: %d %s", code, errOut)
	}
}
