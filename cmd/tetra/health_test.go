package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetrahq/tetra/api"
	apiclient "github.com/tetrahq/tetra/api/client"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/mcpserver/mcptest"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// TestMonitorHealth: a monitor's states enter the health model through
// tetra serve's sink, as issue 10 asks: the orders database turns
// CRITICAL in a healthstate query, checkout (which depends on it) in its
// propagated state, CHANGES reports both, a live subscription over a real
// WebSocket gets the diff, and a health handler runs for checkout's
// propagated change. The monitor's next run reports nothing: its stream is
// replaced, and the states go.
func TestMonitorHealth(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	hs := fullServer(t, dir)
	ctx := context.Background()
	cl, err := apiclient.New(hs.URL, apiclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const db, checkout = "urn:database:/postgresql/orders", "urn:service:/checkout"
	both := `identifier in ("` + db + `", "` + checkout + `")`
	ws, comps := subscribe(t, hs.URL, both)
	id := map[string]string{} // identifier → component id
	for _, c := range comps {
		for _, ident := range []string{db, checkout} {
			if slices.Contains(c.Identifiers, ident) {
				id[ident] = strconv.FormatUint(c.ID, 10)
			}
		}
	}
	if len(id) != 2 || len(comps) != 2 {
		t.Fatalf("the subscription's answer: %+v", comps)
	}

	handler := &automation.Definition{Name: "checkout-degraded", Kind: automation.KindHandler,
		Trigger: &automation.Trigger{Health: &automation.HealthTrigger{Filter: `identifier = "` + checkout + `"`, States: []string{"CRITICAL"}}},
		Script:  `event.field + ": " + event.before + " to " + event.after`}
	monitor := &automation.Definition{Name: "orders-db-disk", Kind: automation.KindMonitor,
		Interval: automation.Duration(time.Hour), Disabled: true, // runs when asked
		Script: `[{component: "` + db + `", state: "critical", message: "disk 97% full"}]`}
	for _, d := range []*automation.Definition{handler, monitor} {
		if _, err := cl.ApplyAutomation(ctx, d); err != nil {
			t.Fatalf("applying %s: %v", d.Name, err)
		}
	}
	run, err := cl.RunAutomation(ctx, monitor.Name, nil)
	if err != nil || run.Outcome != "ok" || run.HealthStates != 1 {
		t.Fatalf("the monitor's run: %+v %v", run, err)
	}

	// Queries see the states at once: the database's own, and checkout's
	// propagated.
	res, err := cl.Query(ctx, api.QueryRequest{Query: `healthstate = "CRITICAL"`})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Topology.Components; got.Len() != 1 || strconv.FormatUint(got.At(0).ID, 10) != id[db] {
		t.Errorf("healthstate = \"CRITICAL\": %+v, want the orders database alone", got)
	}
	res, err = cl.Query(ctx, api.QueryRequest{Query: `identifier = "` + checkout + `"`})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Topology.Components; c.Len() != 1 || c.At(0).HealthState != "UNKNOWN" || c.At(0).PropagatedHealthState != "CRITICAL" {
		t.Errorf("checkout: %+v, want its own state UNKNOWN and its propagated CRITICAL", c)
	}
	// MCP's describe_component says why: the database's check state, and
	// for checkout the dependency its propagated state comes from.
	cs, err := mcpserver.Remote(ctx, hs.URL, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for ident, want := range map[string]string{
		db:       "health: CRITICAL (propagated: CRITICAL)\n",
		checkout: "health: UNKNOWN (propagated: CRITICAL)\n",
	} {
		out, isErr := mcptest.Call(t, cs, "describe_component", map[string]any{"identifier": ident})
		if isErr || !strings.Contains(out, want) {
			t.Errorf("describe_component %s: want %q in:\n%s", ident, want, out)
		}
	}
	if out, _ := mcptest.Call(t, cs, "describe_component", map[string]any{"identifier": db}); !strings.Contains(out,
		"check states (behind its own health):\n  CRITICAL orders-db-disk (stream urn:tetra:monitor:orders-db-disk): disk 97% full\n") {
		t.Errorf("describe_component of the database, without its check state:\n%s", out)
	}
	if out, _ := mcptest.Call(t, cs, "describe_component", map[string]any{"identifier": checkout}); !strings.Contains(out,
		"degraded dependencies (where its propagated health comes from):\n") || !strings.Contains(out,
		"\n  #"+id[db]+" orders [database, Databases] CRITICAL urn:database:/postgresql/orders") {
		t.Errorf("describe_component of checkout, without the database it depends on:\n%s", out)
	}
	// tetra describe --server says the same, through GET
	// /api/components/{id}/health.
	for ident, want := range map[string]string{
		db:       "\nCheck states:\n  HEALTH    NAME            MESSAGE        STREAM\n  CRITICAL  orders-db-disk  disk 97% full  urn:tetra:monitor:orders-db-disk\n",
		checkout: "\nDegraded dependencies (where its propagated health comes from):\n  RELATION  COMPONENT",
	} {
		code, out, errOut := runTetra(t, "", "describe", "--server", hs.URL, ident)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("tetra describe --server %s: exit %d, want %q in:\n%s%s", ident, code, want, out, errOut)
		}
	}
	res, err = cl.Query(ctx, api.QueryRequest{Query: both + ` CHANGES FROM "-1h" TO "now"`})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range res.Changes.Changed.Components {
		changed = append(changed, strconv.FormatUint(c.After.ID, 10)+":"+strings.Join(c.Fields, ","))
	}
	slices.Sort(changed)
	want := []string{id[checkout] + ":propagatedHealthState", id[db] + ":healthState,propagatedHealthState"}
	slices.Sort(want)
	if !slices.Equal(changed, want) {
		t.Errorf("CHANGES: %v, want %v", changed, want)
	}

	// The subscription's diff carries both.
	values := map[string]map[string]any{}
	for _, ch := range readDiff(t, ws).Changed.Components {
		values[ch.ID.String()] = ch.Values
	}
	if v := values[id[db]]; v["healthState"] != "CRITICAL" || v["propagatedHealthState"] != "CRITICAL" {
		t.Errorf("the diff's orders database: %v", v)
	}
	if v := values[id[checkout]]; v["propagatedHealthState"] != "CRITICAL" || v["healthState"] != nil {
		t.Errorf("the diff's checkout: %v", v)
	}

	// The handler ran for checkout's propagated state.
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, err := cl.AutomationRuns(ctx, handler.Name, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			r := runs[0]
			if r.Outcome != "ok" || r.Result == nil {
				t.Fatalf("the handler's run: %+v", r)
			}
			if v := string(r.Result.Value); v != `"propagatedHealthState: UNKNOWN to CRITICAL"` {
				t.Errorf("the handler saw %s", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the health handler did not run for checkout's propagated CRITICAL")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The monitor's next run reports nothing: its stream is emptied.
	monitor.Script = `[]`
	if _, err := cl.ApplyAutomation(ctx, monitor); err != nil {
		t.Fatal(err)
	}
	if run, err := cl.RunAutomation(ctx, monitor.Name, nil); err != nil || run.Outcome != "ok" {
		t.Fatalf("the monitor's second run: %+v %v", run, err)
	}
	d := readDiff(t, ws)
	for _, ch := range d.Changed.Components {
		if ch.Values["propagatedHealthState"] != "UNKNOWN" {
			t.Errorf("after the monitor's empty run, component %s: %v", ch.ID, ch.Values)
		}
	}
	if len(d.Changed.Components) != 2 {
		t.Errorf("after the monitor's empty run, %d components changed, want 2", len(d.Changed.Components))
	}
}

// fullServer serves dir with everything tetra serve mounts (live
// subscriptions, scripts, automations), on the real clock, so that
// queries at "now" see what the server commits.
func fullServer(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	st, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ds, err := openData(dir, "", readWrite, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	stores := ds.engineStores()
	eng := tetraexec.New(st, tetraexec.Options{Data: stores})
	srv := api.New(api.Config{Engine: eng, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	autos, err := openAutomationStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { autos.Close() })
	m, err := mount(srv, mountDeps{eng: eng, graph: st, events: stores.Events, autos: autos, scripts: scriptConfig{MaxTimeout: time.Minute},
		now: time.Now, logger: srv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	m.automations.Start()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		m.hub.Close(context.Background())
		m.automations.Close()
	})
	return hs
}

// liveDiff is the part of a diff message the health test reads.
type liveDiff struct {
	Type    string
	Changed struct {
		Components []struct {
			ID     json.Number
			Fields []string
			Values map[string]any
		}
	}
}

// subscribe subscribes to a query over the server's WebSocket route and
// returns the connection and the first answer's components.
func subscribe(t *testing.T, base, query string) (*websocket.Conn, []tetraexec.Component) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/subscribe", nil)
	if err != nil {
		t.Fatalf("GET /api/subscribe: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.WriteJSON(map[string]string{"type": "subscribe", "id": "s", "query": query})
	var m struct {
		Type   string
		Result struct{ Topology tetraexec.TopologyResult }
	}
	if err := ws.ReadJSON(&m); err != nil || m.Type != "result" {
		t.Fatalf("the first message of a subscription: %v %+v", err, m)
	}
	return ws, m.Result.Topology.Components.Slice()
}

// readDiff reads the subscription's next message, which must be a diff.
func readDiff(t *testing.T, ws *websocket.Conn) liveDiff {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var d liveDiff
	if err := ws.ReadJSON(&d); err != nil || d.Type != "diff" {
		t.Fatalf("a diff: %v %+v", err, d)
	}
	return d
}
