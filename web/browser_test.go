package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetrahq/tetra/api"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/internal/browsertest"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces/tracepebble"
	"github.com/tetrahq/tetra/web"
)

// The browser tests drive a real headless Chromium (chromedp) against the
// real API server on a real loopback listener, with the web view mounted as
// tetra serve mounts it. They need a Chromium (internal/browsertest says
// where it is looked for); without one they skip, loudly.

// screenshotDir is where each step's screenshot goes, for people to look
// at: $TETRA_SCREENSHOTS, else web/screenshots (ignored by git).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TETRA_SCREENSHOTS")
	if dir == "" {
		dir, _ = filepath.Abs("screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium with one tab, and the problems its
// pages reported (exceptions, console errors, CSP violations).
type browser struct {
	t        *testing.T
	ctx      context.Context
	shots    string
	mu       sync.Mutex
	problems []string
	allow    []string // substrings of problems that are expected
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := browsertest.Need(t, "the web view's browser tests did not run")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 860))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: screenshotDir(t)}
	// Start the browser with no deadline (a deadline on the first run
	// would stop the browser), then read its console for the test's life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" || m.Type == "warning" {
				b.problem(fmt.Sprintf("%s %s: %s (%s)", m.Source, m.Type, m.Text, m.URL))
			}
		}
	}()
	return b
}

func (b *browser) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

// checkProblems fails the test on any problem a page reported that is
// not expected: a CSP violation, an exception, a console error.
func (b *browser) checkProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, p := range b.problems {
		for _, a := range b.allow {
			if strings.Contains(p, a) {
				continue next
			}
		}
		b.t.Errorf("the page reported: %s", p)
	}
	b.problems = nil
}

// step bounds one action: a page that hangs fails the test, not the run.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, time.Minute)
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is truthy.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({state: window.tetra && window.tetra.state(), error: document.getElementById("query-error")?.textContent})`))
		if buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(b.shots, "failed.png"), buf, 0o644)
		}
		b.t.Fatalf("waiting for %s (%s): %v; page: %s", what, expr, err, state)
	}
}

// shot saves a screenshot of the viewport as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// drawnNode is a component (or group) as the page drew it: its place in
// the graph and on the page, its colour and its classes.
type drawnNode struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Label   string   `json:"label"`
	Colour  string   `json:"colour"`
	X       float64  `json:"x"`
	Y       float64  `json:"y"`
	PageX   float64  `json:"pageX"`
	PageY   float64  `json:"pageY"`
	Classes []string `json:"classes"`
}

// drawn is what the page's graph shows (window.tetra.drawn()).
type drawn struct {
	Mode  string      `json:"mode"`
	Lanes []string    `json:"lanes"`
	Nodes []drawnNode `json:"nodes"`
	Edges []struct {
		ID, Source, Target, Title string
	} `json:"edges"`
}

func (b *browser) drawn() drawn {
	b.t.Helper()
	var d drawn
	raw := eval[string](b, `JSON.stringify(window.tetra.drawn())`)
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		b.t.Fatal(err)
	}
	return d
}

// measures returns the page's Performance API measures by name (the last
// of each name).
func (b *browser) measures() map[string]float64 {
	ms := eval[[]struct {
		Name     string
		Duration float64
	}](b, `window.tetra.measures()`)
	out := map[string]float64{}
	for _, m := range ms {
		out[m.Name] = m.Duration
	}
	return out
}

// server is the API server with the web view, as tetra serve mounts it,
// on a loopback listener, over a Pebble store.
type server struct {
	url    string
	st     *pebblestore.Store
	tel    *telpebble.Store   // metrics and events, empty until a test appends
	traces *tracepebble.Store // spans, likewise
	keys   map[string]string
	start  time.Time // when the first topology was loaded
}

// newServer opens a store in a temporary directory, fills it with fill,
// and serves it. Keys given are created (role read); the server then
// checks keys.
func newServer(t *testing.T, fill func(st graphstore.Store), keyNames ...string) *server {
	t.Helper()
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{st: st, keys: map[string]string{}}
	if s.tel, err = telpebble.Open(filepath.Join(dir, "telemetry"), telpebble.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if s.traces, err = tracepebble.Open(filepath.Join(dir, "traces"), tracepebble.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	fill(st)
	kf := api.NewKeyFile(dir)
	for _, name := range keyNames {
		_, tok, err := kf.Create(api.NewKey{Name: name, Role: api.RoleRead}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.keys[name] = tok
	}
	ring, err := api.NewKeyRing(kf)
	if err != nil {
		t.Fatal(err)
	}
	eng := tetraexec.New(st, tetraexec.Options{Data: tetraexec.DataStores{Metrics: s.tel, Events: s.tel, Traces: s.traces}})
	srv := api.New(api.Config{Engine: eng, Keys: ring, Store: storeInfo{st}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	view, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range view.Routes() {
		srv.HandlePage(p, view)
	}
	mountLive(t, srv, eng, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, "", "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
		st.Close()
		s.tel.Close()
		s.traces.Close()
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

type storeInfo struct{ st *pebblestore.Store }

func (s storeInfo) Check() error { return s.st.Check() }
func (s storeInfo) Stats() api.StoreStats {
	return api.StoreStats{LastCommit: s.st.LastCommit(), Horizon: s.st.Horizon()}
}

// loadWebshop loads the web shop's three sources: Kubernetes at -3h, the
// agent at -2h, the traces a minute later; then health states and
// checkout's check states at -1h.
func loadWebshop(t *testing.T, st graphstore.Store, now time.Time) {
	t.Helper()
	ap := ingest.NewApplier(st)
	for i, f := range []struct {
		name string
		at   time.Duration
	}{{"webshop-kubernetes.json", -3 * time.Hour}, {"webshop-agent.json", -2 * time.Hour}, {"webshop-traces.json", -2*time.Hour + time.Minute}} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "topology", f.name))
		if err != nil {
			t.Fatal(err)
		}
		topos, err := (&ingest.Decoder{DefaultSource: "file:" + f.name}).Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ap.Apply(context.Background(), topos, now.Add(f.at)); err != nil {
			t.Fatalf("loading %s (%d): %v", f.name, i, err)
		}
	}
	setHealth(t, st, now.Add(-time.Hour), map[string]graphstore.HealthState{
		"urn:service:/checkout": graphstore.HealthCritical, "urn:service:/frontend": graphstore.HealthDeviating,
		"urn:service:/catalog": graphstore.HealthClear, "urn:database:/postgresql/orders": graphstore.HealthClear,
	})
	// Check states behind checkout's state, as a monitor's stream would
	// report them (the details panel lists them).
	b := &graphstore.Batch{Time: now.Add(-time.Hour)}
	b.PutCheck("urn:health:monitors:shop", "checkout-errors", graphstore.CheckData{Name: "Error rate", State: graphstore.HealthCritical,
		Message: "5.2% of requests fail", Identifier: "urn:service:/checkout"})
	b.PutCheck("urn:health:monitors:shop", "checkout-latency", graphstore.CheckData{Name: "Latency p99", State: graphstore.HealthClear,
		Message: "180 ms", Identifier: "urn:service:/checkout"})
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// loadWebshopData appends the web shop's metrics, events and spans, which
// were recorded over the hour to 2026-11-01T11:00:00Z, moved so that the
// hour ends at now (as tetra load --shift-from does).
func loadWebshopData(t *testing.T, srv *server, now time.Time) {
	t.Helper()
	shift := now.Sub(time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC))
	ctx := context.Background()
	for _, f := range []string{"webshop-metrics.json", "webshop-events.json", "webshop-spans.otlp.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "telemetry", f))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ingest.Decoder{DefaultSource: "file:" + f}.DecodePayloadBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		p.Shift(shift)
		if err := errors.Join(srv.tel.AppendMetrics(ctx, p.Metrics), srv.tel.AppendEvents(ctx, p.Events), srv.traces.AppendSpans(ctx, p.Spans)); err != nil {
			t.Fatal(err)
		}
	}
}

// setHealth commits health states as a health source would: a
// contribution that names the component by identifier and carries only its
// state (the store merges it into the component; the worst state wins).
func setHealth(t *testing.T, st graphstore.Store, at time.Time, states map[string]graphstore.HealthState) {
	t.Helper()
	b := &graphstore.Batch{Time: at}
	for id, h := range states {
		b.PutComponent("health:checks", id, graphstore.ComponentData{Identifiers: []string{id}, Health: h})
	}
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}
