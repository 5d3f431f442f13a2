package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetrahq/tetra/internal/browsertest"
)

// checkWeb opens the web view of the demo in headless Chromium with the
// demo's key, as README's tour says to, draws checkout, opens its details
// with a click and waits for every part of the panel to show the demo's
// data: its check state, neighbours, events, a chart per metric and its
// traces. It runs after the tour, once the demo has rolled checkout out
// and slowed its database down at least once.
func (d *demoServer) checkWeb(t *testing.T) {
	path := browsertest.Need(t, "the demo's web view was not checked")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1400, 860))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			panel, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("details")?.innerText || document.body.innerText`))
			t.Fatalf("waiting for %s (%s): %v; the page shows:\n%s", what, expr, err, panel)
		}
	}
	// The key the page would ask for, given as a user pastes it: kept in
	// the tab's session storage.
	do("opening the server", chromedp.Navigate(d.url+"/healthz"))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(sessionStorage.setItem("tetra.apiKey", %q), true)`, d.key))); err != nil {
		t.Fatal(err)
	}
	do("opening the web view", chromedp.Navigate(d.url+"/#"+url.Values{"q": {`identifier = "urn:service:/checkout"`}}.Encode()))
	wait("checkout drawn", `window.tetra && window.tetra.drawn().nodes.length === 1 && window.tetra.state().liveState === "live"`)
	time.Sleep(300 * time.Millisecond) // the view fits itself once drawn
	pos, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const n = window.tetra.drawn().nodes[0]; return [n.pageX, n.pageY]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	do("clicking checkout", chromedp.MouseClickXY(pos[0], pos[1]))
	wait("checkout's details", `!document.getElementById("details").hidden && document.getElementById("details-title").textContent === "checkout"`)
	for what, expr := range map[string]string{
		"its check state":    `document.querySelector("#details-health ul.checks")?.innerText.includes("Error rate")`,
		"its neighbours":     `document.querySelector("#details-neighbours ul")?.innerText.includes("uses orders-db")`,
		"its rollout events": `document.querySelector("#details-events ul")?.innerText.includes("Deployment checkout roll")`,
		"its metric charts":  `document.querySelector("#details-metrics")?.innerText.includes("http.server.duration") && document.querySelectorAll("#details-metrics svg.spark path").length >= 2`,
		"its traces":         `document.querySelectorAll("#details-traces li").length === 10 && document.querySelector("#details-traces")?.innerText.includes("frontend: POST /checkout")`,
	} {
		wait(what, expr)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("TETRA_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "web", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, "demo-details.png"), shot, 0o644)
	}
}
