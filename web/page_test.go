package web_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tetrahq/tetra/graphstore"
)

// Health colours as the page draws them (js/health.js).
const (
	colourCritical  = "rgb(217,59,59)"
	colourDeviating = "rgb(232,163,23)"
	colourClear     = "rgb(46,158,91)"
	colourUnknown   = "rgb(154,163,178)"
)

func nodeByName(d drawn, name string) (int, bool) {
	for i, n := range d.Nodes {
		if n.Name == name {
			return i, true
		}
	}
	return -1, false
}

func names(d drawn) []string {
	var out []string
	for _, n := range d.Nodes {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

// typeQuery replaces the query bar's text as a user would (select all,
// type), closes the completion list and runs it with Enter.
func (b *browser) typeQuery(q string) {
	b.t.Helper()
	eval[bool](b, `(document.getElementById("query").select(), true)`)
	b.run(chromedp.SendKeys(chromedp.ID("query"), q), chromedp.SendKeys(chromedp.ID("query"), kb.Escape), chromedp.SendKeys(chromedp.ID("query"), kb.Enter))
}

// still returns what is drawn once it stays where it is on the page (the
// view fits itself while the page settles), for a click to land.
func (b *browser) still() drawn {
	b.t.Helper()
	d := b.drawn()
	for i := 0; i < 50; i++ {
		time.Sleep(50 * time.Millisecond)
		e := b.drawn()
		if len(e.Nodes) == len(d.Nodes) && len(e.Nodes) > 0 && e.Nodes[0].PageX == d.Nodes[0].PageX && e.Nodes[0].PageY == d.Nodes[0].PageY {
			return e
		}
		d = e
	}
	b.t.Fatal("the graph does not keep still")
	return d
}

// TestWebView walks through the page as a user would, with the web shop
// served: a query, the graph and its colours, the table, a component's
// details, a wrong query's caret, the time slider, the changes mode, and
// live updates.
func TestWebView(t *testing.T) {
	b := newBrowser(t)
	now := time.Now()
	srv := newServer(t, func(st graphstore.Store) { loadWebshop(t, st, now) })
	loadWebshopData(t, srv, now)
	// The page shows the API's error answers itself (a wrong query, a
	// statement this server cannot run); the browser logs them too.
	b.allow = append(b.allow, "/api/query")
	q := `domain = "Webshop"`

	// 1. A query typed in the query bar and run with Enter.
	b.run(chromedp.Navigate(srv.url + "/#" + url.Values{"q": {`type = "service"`}}.Encode()))
	b.wait("the first answer", `window.tetra && window.tetra.drawn().nodes.length === 3`)
	b.typeQuery(q)
	b.wait("the web shop", `window.tetra.drawn().nodes.length === 13`)
	d := b.drawn()
	want := []string{"catalog", "catalog-6f7d8e9fa-m1n2b", "checkout", "checkout-5c6b7d8e9-h4j5k", "db-1.shop.internal", "frontend",
		"frontend-7d9f8b6c4-q8w3n", "frontend-7d9f8b6c4-x2k9p", "node-1.shop.internal", "node-2.shop.internal", "orders", "shop", "shop-prod"}
	if got := names(d); !slices.Equal(got, want) {
		t.Errorf("nodes drawn:\n got %v\nwant %v", got, want)
	}
	if len(d.Edges) != 21 {
		t.Errorf("%d edges drawn, want 21", len(d.Edges))
	}
	for name, colour := range map[string]string{"checkout": colourCritical, "frontend": colourDeviating, "catalog": colourClear,
		"orders": colourClear, "shop-prod": colourUnknown, "node-1.shop.internal": colourUnknown} {
		if i, ok := nodeByName(d, name); !ok || d.Nodes[i].Colour != colour {
			t.Errorf("%s is not drawn %s: %+v", name, colour, d.Nodes)
		}
	}
	// Swim lanes: services above pods above the database above hosts above the cluster.
	if !slices.Equal(d.Lanes, []string{"Services", "Containers", "Databases", "Namespaces", "Machines", "Clusters"}) {
		t.Errorf("lanes %v", d.Lanes)
	}
	y := func(name string) float64 {
		i, ok := nodeByName(d, name)
		if !ok {
			t.Fatalf("%s is not drawn", name)
		}
		return d.Nodes[i].Y
	}
	if !(y("checkout") < y("checkout-5c6b7d8e9-h4j5k") && y("checkout-5c6b7d8e9-h4j5k") < y("orders") && y("orders") < y("db-1.shop.internal") && y("db-1.shop.internal") < y("shop-prod")) {
		t.Errorf("lanes are not in order: %+v", d.Nodes)
	}
	history := eval[[]string](b, `JSON.parse(localStorage.getItem("tetra.history"))`)
	if len(history) < 2 || history[0] != q {
		t.Errorf("last queries: %q", history)
	}
	b.shot("01-graph")

	// 3. The table of the same answer.
	b.run(chromedp.Click(chromedp.ID("tab-table")))
	rows := eval[int](b, `document.querySelectorAll("#table-view tbody tr").length`)
	if rows != 13 {
		t.Errorf("table rows: %d, want 13", rows)
	}
	b.shot("02-table")
	b.run(chromedp.Click(chromedp.ID("tab-graph")))

	// 4. A component's details, opened by clicking its node.
	b.wait("the subscription", `window.tetra.state().liveState === "live"`)
	d = b.still()
	i, _ := nodeByName(d, "checkout")
	b.run(chromedp.MouseClickXY(d.Nodes[i].PageX, d.Nodes[i].PageY))
	b.wait("the details of checkout", `!document.getElementById("details").hidden && document.getElementById("details-title").textContent === "checkout"`)
	b.wait("checkout's neighbours", `document.querySelector("#details-neighbours ul")?.textContent.includes("orders")`)
	panel := eval[string](b, `document.getElementById("details").innerText`)
	for _, s := range []string{"CRITICAL", "urn:service:/checkout", "app:checkout", "kubernetes:shop-prod", "→ calls orders", "← encloses shop", "→ exposes checkout-5c6b7d8e9-h4j5k"} {
		if !strings.Contains(panel, s) {
			t.Errorf("details lack %q:\n%s", s, panel)
		}
	}
	// Its data, from EVENTS, METRICS and TRACES FOR it: the rollout, a
	// chart per metric with its values, its slowest traces.
	b.wait("checkout's events", `document.querySelector("#details-events ul")?.textContent.includes("checkout 2.4.1 rolled out")`)
	b.wait("checkout's metrics", `document.querySelectorAll("#details-metrics svg.spark path").length === 2`)
	b.wait("checkout's traces", `document.querySelectorAll("#details-traces li").length === 10`)
	panel = eval[string](b, `document.getElementById("details").innerText`)
	for _, s := range []string{"http.server.duration", "http.server.requests", "service:checkout", "low ", "high ", "frontend: ", " ms · 4 spans"} {
		if !strings.Contains(panel, s) {
			t.Errorf("details lack %q:\n%s", s, panel)
		}
	}
	// Its health: own and propagated, and the check states behind them.
	b.wait("checkout's checks", `document.querySelectorAll("#details-health ul.checks li").length === 2`)
	checks := eval[[]string](b, `[...document.querySelectorAll("#details-health ul.checks li")].map((li) => li.querySelector(".health").className + " | " + li.innerText)`)
	if want := []string{"health CRITICAL | CRITICAL Error rate — 5.2% of requests fail\nurn:health:monitors:shop · checkout-errors · ",
		"health CLEAR | CLEAR Latency p99 — 180 ms\nurn:health:monitors:shop · checkout-latency · "}; len(checks) != 2 ||
		!strings.HasPrefix(checks[0], want[0]) || !strings.HasPrefix(checks[1], want[1]) {
		t.Errorf("checkout's checks:\n%q\nwant prefixes\n%q", checks, want)
	}
	if got := eval[string](b, `document.querySelector("#details-health dl").innerText`); got != "own\nCRITICAL\npropagated\nCRITICAL" {
		t.Errorf("checkout's health states: %q", got)
	}
	b.shot("03-details")
	eval[bool](b, `(document.getElementById("details-events").scrollIntoView(), true)`)
	b.shot("03b-details-data")
	eval[bool](b, `(document.getElementById("details").scrollTop = 0, true)`)

	// frontend calls checkout: its propagated state comes from there, and
	// the panel says so with a link that leads back to checkout.
	d = b.still() // the panel narrowed the graph
	i, _ = nodeByName(d, "frontend")
	b.run(chromedp.MouseClickXY(d.Nodes[i].PageX, d.Nodes[i].PageY))
	b.wait("frontend's degraded dependencies", `document.getElementById("details-title").textContent === "frontend" && document.querySelector("#details-health ul.dependencies")?.innerText.includes("checkout (service)")`)
	if got := eval[string](b, `document.querySelector("#details-health ul.checks, #details-health p.quiet").innerText`); got != "no check states" {
		t.Errorf("frontend's checks: %q", got)
	}
	b.shot("03c-details-dependencies")
	b.run(chromedp.Click(chromedp.CSS(`#details-health ul.dependencies a`)))
	b.wait("back at checkout", `document.getElementById("details-title").textContent === "checkout" && document.querySelectorAll("#details-health ul.checks li").length === 2`)

	// 5. Completion: a key, then the values components carry.
	eval[bool](b, `(document.getElementById("query").select(), true)`)
	b.run(chromedp.SendKeys(chromedp.ID("query"), "ty"))
	b.wait("keys offered", `[...document.querySelectorAll("#completions li")].some((li) => li.textContent.startsWith("type"))`)
	b.run(chromedp.SendKeys(chromedp.ID("query"), kb.Tab))
	b.wait("values offered", `!document.getElementById("completions").hidden && [...document.querySelectorAll("#completions li")].map((li) => li.firstChild.textContent).includes("service")`)
	b.run(chromedp.SendKeys(chromedp.ID("query"), `se`))
	b.wait("values narrowed", `[...document.querySelectorAll("#completions li")].map((li) => li.firstChild.textContent).join() === "service"`)
	b.run(chromedp.SendKeys(chromedp.ID("query"), kb.Tab))
	if got := eval[string](b, `document.getElementById("query").value`); got != `type = "service"` {
		t.Errorf("completed query %q", got)
	}
	b.shot("04a-completion")

	// 6. A wrong query: the caret error under the input.
	b.typeQuery(`domain = "Webshop" AND enviroment = "x"`)
	b.wait("the caret error", `!document.getElementById("query-error").hidden`)
	caret := eval[string](b, `document.getElementById("query-error").textContent`)
	lines := strings.Split(caret, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "1:24:") || lines[1] != `  domain = "Webshop" AND enviroment = "x"` || lines[2] != "  "+strings.Repeat(" ", 23)+"^^^^^^^^^^" {
		t.Errorf("caret error:\n%s", caret)
	}
	b.shot("04-error")
	if n := len(b.drawn().Nodes); n != 13 {
		t.Errorf("a wrong query changed the graph: %d nodes", n)
	}

	// 7. The time slider, moved to 2.5 hours ago: only Kubernetes had
	// reported, and no health state was known.
	b.typeQuery(q)
	b.wait("the web shop again", `document.getElementById("query-error").hidden && window.tetra.drawn().nodes.length === 13`)
	past := now.Add(-150 * time.Minute)
	eval[string](b, fmt.Sprintf(`(() => {
		const s = document.getElementById("time-slider"), min = Number(s.min), max = Number(s.max);
		const bar = window.tetra.time; const t = %d;
		s.value = String(Math.round(min + (t - bar.min) / (bar.now() - bar.min) * (max - min)));
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return s.value; })()`, past.UnixMilli()))
	b.wait("the past graph", `window.tetra.state().mode === "at" && window.tetra.drawn().nodes.length === 12`)
	d = b.drawn()
	if _, ok := nodeByName(d, "db-1.shop.internal"); ok {
		t.Error("db-1, which the agent reported later, is drawn in the past")
	}
	if i, _ := nodeByName(d, "checkout"); d.Nodes[i].Colour != colourUnknown {
		t.Errorf("checkout in the past is %s, want unknown", d.Nodes[i].Colour)
	}
	// The open details follow the time.
	b.wait("checkout's details in the past", `document.querySelector("#details .health")?.textContent === "UNKNOWN"`)
	// So does its data: the hour before then has none.
	b.wait("no metrics in the past", `document.getElementById("details-metrics").textContent.includes("none in the last hour")`)
	at := eval[string](b, `document.getElementById("time-at").value`)
	if at == "" {
		t.Error("the date field does not show the slider's time")
	}
	b.shot("05-past")

	// Keyboard: End on the slider is now, which is live.
	b.run(chromedp.Focus(chromedp.ID("time-slider")), chromedp.KeyEvent(kb.End))
	b.wait("back to now", `window.tetra.state().mode === "live" && window.tetra.drawn().nodes.length === 13`)

	// 8. Changes between 2.5 hours ago and now.
	b.run(chromedp.Click(chromedp.CSS(`input[name="mode"][value="changes"]`)))
	eval[bool](b, fmt.Sprintf(`(() => { const f = document.getElementById("time-from"); f.value = %q; f.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`,
		past.Local().Format("2006-01-02T15:04:05")))
	b.wait("the changes", `window.tetra.state().mode === "changes" && window.tetra.drawn().nodes.some((n) => n.classes.includes("added"))`)
	d = b.drawn()
	if i, ok := nodeByName(d, "db-1.shop.internal"); !ok || !slices.Contains(d.Nodes[i].Classes, "added") {
		t.Errorf("db-1 is not drawn as added: %+v", d.Nodes)
	}
	if i, ok := nodeByName(d, "checkout"); !ok || !slices.Contains(d.Nodes[i].Classes, "changed") {
		t.Errorf("checkout is not drawn as changed: %+v", d.Nodes)
	}
	b.shot("06-changes")
	b.run(chromedp.Click(chromedp.CSS(`input[name="mode"][value="live"]`)))
	b.wait("live again", `window.tetra.state().mode === "live" && window.tetra.drawn().nodes.length === 13`)

	// 9. Live: a committed change appears without a reload, and nothing
	// that was drawn moves.
	liveStep(t, b, srv, now)
	b.checkProblems()
}

// liveStep commits changes to the store the server serves and watches the
// page apply them.
func liveStep(t *testing.T, b *browser, srv *server, now time.Time) {
	b.wait("the subscription", `window.tetra.state().liveState === "live"`)
	before := b.drawn()
	eval[bool](b, `window.notReloaded = true`)
	batch := &graphstore.Batch{}
	batch.PutComponent("kubernetes:shop-prod", "urn:kubernetes:/shop-prod:shop:pod/checkout-live-1", graphstore.ComponentData{
		Name: "checkout-live-1", Type: "pod", Layer: "Containers", Domain: "Webshop", Environments: []string{"Production"}})
	batch.PutComponent("health:checks", "urn:service:/catalog", graphstore.ComponentData{Identifiers: []string{"urn:service:/catalog"}, Health: graphstore.HealthCritical})
	if _, err := srv.st.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	b.wait("the new pod", `window.tetra.drawn().nodes.length === 14`)
	b.wait("catalog turning critical", fmt.Sprintf(`window.tetra.drawn().nodes.find((n) => n.name === "catalog").colour === %q`, colourCritical))
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Error("the page reloaded")
	}
	after := b.drawn()
	for _, n := range before.Nodes {
		for _, m := range after.Nodes {
			if n.ID == m.ID && (n.X != m.X || n.Y != m.Y) {
				t.Errorf("%s moved from %v,%v to %v,%v", n.Label, n.X, n.Y, m.X, m.Y)
			}
		}
	}
	ms := b.measures()
	t.Logf("live update applied and drawn %.1f ms after it arrived", ms["tetra:live-apply"])
	b.shot("07-live")
}

// TestWebViewAsksForAKey: a server with keys makes the page ask for one,
// keep it in the tab's session storage and send it.
func TestWebViewAsksForAKey(t *testing.T) {
	b := newBrowser(t)
	now := time.Now()
	srv := newServer(t, func(st graphstore.Store) { loadWebshop(t, st, now) }, "viewer")
	// The refused requests before the key is given are expected.
	b.allow = append(b.allow, "401 (Unauthorized)")
	b.run(chromedp.Navigate(srv.url + "/#" + url.Values{"q": {`type = "service"`}}.Encode()))
	b.wait("the key dialog", `document.getElementById("key-dialog").open`)
	b.shot("08-key")
	b.run(chromedp.SendKeys(chromedp.ID("key-input"), "tetra_wrong_key"), chromedp.SendKeys(chromedp.ID("key-input"), kb.Enter))
	b.wait("the key refused", `document.getElementById("key-dialog").open && document.getElementById("key-reason").textContent.includes("refused")`)
	eval[bool](b, `(document.getElementById("key-input").select(), true)`)
	b.run(chromedp.SendKeys(chromedp.ID("key-input"), srv.keys["viewer"]), chromedp.SendKeys(chromedp.ID("key-input"), kb.Enter))
	b.wait("the answer", `window.tetra.drawn().nodes.length === 3`)
	// The WebSocket has no headers: the key goes as a subprotocol.
	b.wait("the subscription with the key", `window.tetra.state().liveState === "live"`)
	stored := eval[string](b, `sessionStorage.getItem("tetra.apiKey")`)
	if stored != srv.keys["viewer"] {
		t.Errorf("session storage holds %q", stored)
	}
	b.checkProblems()
}
