package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/client"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// loadWebshop loads the sample topology into a data directory.
func loadWebshop(t *testing.T, dir string) {
	t.Helper()
	code, _, errOut := runTetra(t, "", "load", "--data", dir, "--time", "2026-11-01T10:00:00Z",
		"../../testdata/topology/webshop-kubernetes.json")
	if code != exitOK {
		t.Fatal(errOut)
	}
	code, _, errOut = runTetra(t, "", "load", "--data", dir, "--time", "2026-11-01T11:00:00Z",
		"../../testdata/topology/webshop-agent.json", "../../testdata/topology/webshop-traces.json")
	if code != exitOK {
		t.Fatal(errOut)
	}
	code, _, errOut = runTetra(t, "", "load", "--data", dir, "../../testdata/telemetry/webshop-metrics.json",
		"../../testdata/telemetry/webshop-events.json", "../../testdata/telemetry/webshop-spans.otlp.json")
	if code != exitOK {
		t.Fatal(errOut)
	}
}

// TestQueryServerPrintsTheSame: tetra query --server prints exactly what
// tetra query --data prints, tables, JSON, plans, errors and exit status
// alike.
func TestQueryServerPrintsTheSame(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := openData(dir, "", readWrite, testClock)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	eng := tetraexec.New(st, tetraexec.Options{Now: testClock, Data: ds.engineStores()})
	srv := api.New(api.Config{Engine: eng, Now: testClock, Store: &storeInfo{st: st}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, args := range [][]string{
		{`type = "service"`},
		{"--json", `name = "checkout"`},
		{"--at", "2026-11-01T10:30:00Z", `withNeighborsOf(components = (name = "checkout"), levels = "2")`},
		{"--at", "2026-11-01T12:00:00Z", "--json", `name = "*" CHANGES FROM "-90m" TO "now"`},
		{`name = "*" CHANGES FROM "2026-11-01T10:30:00Z" TO "2026-11-01T11:30:00Z"`},
		{"--explain", `type = "pod" AND NOT label = "app:frontend"`},
		{`enviroment = "prod"`},
		{`name = "a" AND (`},
		{`name = "*" AT "+15000w"`},
		{"--at", "+15000w", `name = "x"`},
		{"--max-elements", "3", `name = "*"`},
		{`METRICS WHERE name = "cpu"`},
		{"--at", "2026-11-01T11:00:00Z", `METRICS WHERE name = "http.server.duration" FOR (type = "service") AGGREGATE percentile(99) BY 10m GROUP BY component`},
		{"--at", "2026-11-01T11:00:00Z", "--json", `METRICS WHERE name = "system.cpu.user" FROM "-5m"`},
		{"--at", "2026-11-01T11:00:00Z", `EVENTS FOR (withNeighborsOf(components = (name = "checkout"), levels = "2"))`},
		{"--at", "2026-11-01T11:00:00Z", "--json", `EVENTS LIMIT 2`},
		{"--at", "2026-11-01T11:00:00Z", `TRACES WHERE service = "checkout" AND duration > 500ms ORDER BY duration DESC LIMIT 3`},
		{"--at", "2026-11-01T11:00:00Z", "--json", `TRACES WHERE status = "error" LIMIT 1`},
		{"--at", "2026-11-01T11:00:00Z", "--explain", `TRACES WHERE status = "error" FOR (name = "checkout") LIMIT 1`},
		{`name = "*" AT "2026-10-01T00:00:00Z"`},
	} {
		c1, o1, e1 := runTetra(t, "", append([]string{"query", "--data", dir}, args...)...)
		c2, o2, e2 := runTetra(t, "", append([]string{"query", "--server", hs.URL}, args...)...)
		if c1 != c2 || o1 != o2 || e1 != e2 {
			t.Errorf("%q:\nembedded: exit %d\n%s%s\nserver:   exit %d\n%s%s", args, c1, o1, e1, c2, o2, e2)
		}
		if c1 == exitOK && o1 == "" {
			t.Errorf("%q printed nothing", args)
		}
	}
}

// TestQueryServerErrors: an unreachable server and a refused key are user
// errors that say what happened.
func TestQueryServerErrors(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	code, _, errOut := runTetra(t, "", "query", "--server", url, `name = "x"`)
	if code != exitUser || !strings.Contains(errOut, "cannot reach the server at "+url) {
		t.Errorf("down: exit %d %s", code, errOut)
	}
	code, _, errOut = runTetra(t, "", "query", "--server", "ftp://x", `name = "x"`)
	if code != exitUser || !strings.Contains(errOut, "want http://host:port") {
		t.Errorf("bad URL: exit %d %s", code, errOut)
	}
	code, _, errOut = runTetra(t, "", "query", "--server", "http://127.0.0.1:1", "--data", "x", `name = "x"`)
	if code != exitMisuse || !strings.Contains(errOut, "give one") {
		t.Errorf("both: exit %d %s", code, errOut)
	}
}

// TestParallelReadOnlyQueries: tetra query runs side by side on one data
// directory and writes no file there (the review found "in use" errors
// and new MANIFEST/OPTIONS files on every run).
func TestParallelReadOnlyQueries(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	before := dirNames(t, dir)
	held, err := pebblestore.Open(dir, pebblestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, out, errOut := runTetra(t, "", "query", "--data", dir, `type = "service"`)
	if code != exitOK || !strings.Contains(out, "3 components") {
		t.Errorf("query beside another reader: exit %d %s", code, errOut)
	}
	if after := dirNames(t, dir); after != before {
		t.Errorf("a query changed the directory:\n%s\n%s", before, after)
	}
}

func dirNames(t *testing.T, dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		fi, _ := e.Info()
		b.WriteString(e.Name() + " " + fi.ModTime().String() + "\n")
	}
	return b.String()
}

// TestServeProcess runs the real binary: tetra serve starts, says where it
// listens, becomes ready, answers a query, keeps tetra query --data out
// with advice to use --server, and on SIGTERM drains, closes the store
// cleanly and exits 0.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "tetra")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	loadWebshop(t, dir)
	cmd := exec.Command(bin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--log-format", "json")
	stdout, _ := cmd.StdoutPipe()
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base, grpcAddr := readBaseURL(t, stdout, true)
	c, err := client.New(base, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for c.Ready(ctx) != nil {
		time.Sleep(20 * time.Millisecond)
	}
	res, err := c.Query(ctx, api.QueryRequest{Query: `type = "service"`, At: "2026-11-01T12:00:00Z"})
	if err != nil || res.Topology.Components.Len() != 3 {
		t.Fatalf("query: %v %v", res, err)
	}
	ws := subscribeServices(t, base)
	// The receiver writes into the running server: a gzip intake payload
	// as an agent sends it is committed before the 202, reaches the live
	// subscription as a diff and the next query.
	// Its health and metrics are stored too.
	postIntake(t, base, fmt.Sprintf(`{"internalHostname":"h","topologies":[{"instance":{"type":"agent","url":"integrations"},
		"components":[{"externalId":"urn:service:/ledger","type":{"name":"service"},"data":{"name":"ledger"}}]}],
		"health":[{"start_snapshot":{},"stop_snapshot":{},"stream":{"urn":"urn:health:mon:ledger"},"check_states":[
		  {"checkStateId":"c1","name":"errors","health":"CRITICAL","topologyElementIdentifier":"urn:service:/ledger"}]}],
		"metrics":[["ledger.requests",%d,42.5,{"hostname":"h"}]]}`, time.Now().Unix()-60))
	var diff struct {
		Type  string
		Added struct{ Components []struct{ Name string } }
	}
	if err := ws.ReadJSON(&diff); err != nil || diff.Type != "diff" || len(diff.Added.Components) != 1 || diff.Added.Components[0].Name != "ledger" {
		t.Errorf("the subscription after the intake: %v %+v", err, diff)
	}
	if res, err := c.Query(ctx, api.QueryRequest{Query: `name = "ledger"`}); err != nil || res.Topology.Components.Len() != 1 {
		t.Errorf("query after the intake: %v %v", res, err)
	}
	if res, err := c.Query(ctx, api.QueryRequest{Query: `healthstate = "CRITICAL"`}); err != nil || res.Topology.Components.Len() != 1 ||
		res.Topology.Components.At(0).Name != "ledger" {
		t.Errorf("health after the intake: %v %v", res, err)
	}
	if res, err := c.Query(ctx, api.QueryRequest{Query: `METRICS WHERE name = "ledger.requests" FROM "-1h"`}); err != nil || res.Metrics == nil ||
		len(res.Metrics.Series) != 1 || len(res.Metrics.Series[0].Points) != 1 || res.Metrics.Series[0].Points[0].V != 42.5 {
		t.Errorf("metrics after the intake: %+v %v", res, err)
	}
	// An OpenTelemetry SDK exports over gRPC to --otlp-grpc, and TRACES
	// sees the span.
	exportSpan(t, grpcAddr)
	if res, err := c.Query(ctx, api.QueryRequest{Query: `TRACES WHERE service = "ledger" FROM "-1h"`}); err != nil || res.Traces == nil ||
		len(res.Traces.Traces) != 1 || res.Traces.Traces[0].Spans[0].Name != "POST /entries" {
		t.Errorf("spans after an OTLP/gRPC export: %+v %v", res, err)
	}
	// The web view is served at / by the real process, with its policy.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `type="module"`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /: %d %q\n%.300s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), page)
	}
	code, _, errOut := runTetra(t, "", "query", "--data", dir, `type = "service"`)
	if code != exitUser || !strings.Contains(errOut, "--server") {
		t.Errorf("tetra query --data beside a server: exit %d %s", code, errOut)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", logs.String())
	}
	// The span's service joined ledger's sources: a diff may come
	// before the close frame.
	var ce *websocket.CloseError
	var readErr error
	for readErr == nil {
		_, _, readErr = ws.ReadMessage()
	}
	if err := readErr; !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("a live subscription at the drain: %v, want a close frame 1001", err)
	}
	for _, want := range []string{`"msg":"draining"`, `"msg":"drained"`, `"msg":"store closed"`, `"route":"POST /api/query"`, `"route":"GET /api/subscribe"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	st, err := pebblestore.Open(dir, pebblestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the store after the server: %v", err)
	}
	st.Close()
}

// postIntake posts an intake payload gzip-compressed to the receiver, as
// the agent does (?api_key=, which a server without keys ignores).
func postIntake(t *testing.T, base, body string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(body))
	zw.Close()
	req, _ := http.NewRequest("POST", base+"/stsAgent/intake/?api_key=any", &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /stsAgent/intake/: %d %s", resp.StatusCode, b)
	}
}

// subscribeServices subscribes to the services over the server's
// WebSocket route and checks the first answer.
func subscribeServices(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/subscribe", nil)
	if err != nil {
		t.Fatalf("GET /api/subscribe: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.WriteJSON(map[string]string{"type": "subscribe", "id": "s", "query": `type = "service"`})
	var m struct {
		Type   string
		Result struct{ Topology tetraexec.TopologyResult }
	}
	if err := ws.ReadJSON(&m); err != nil || m.Type != "result" || m.Result.Topology.Components.Len() != 3 {
		t.Fatalf("the first message of a subscription: %v %+v", err, m)
	}
	return ws
}

// exportSpan sends one span of the service ledger through the
// OpenTelemetry SDK's OTLP/gRPC exporter.
func exportSpan(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "ledger"))))
	_, span := tp.Tracer("test").Start(ctx, "POST /entries")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("OTLP/gRPC export: %v", err)
	}
}

// readBaseURL reads tetra serve's start lines up to its address and, when
// withGRPC, that of its OTLP/gRPC receiver (printed after it).
func readBaseURL(t *testing.T, r io.Reader, withGRPC bool) (base, grpcAddr string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "tetra serve: listening on "); ok {
			base = rest
		}
		if rest, ok := strings.CutPrefix(sc.Text(), "tetra serve: OTLP/gRPC on "); ok {
			grpcAddr, _, _ = strings.Cut(rest, " ")
		}
		if base != "" && (grpcAddr != "" || !withGRPC) {
			go io.Copy(io.Discard, r)
			return base, grpcAddr
		}
	}
	t.Fatal("tetra serve printed no address")
	return "", ""
}

// TestServedRoutesAreDocumented: every API route tetra serve mounts, those
// of other packages included, is in openapi.json; what is not there are
// the web view's pages, which are not API.
func TestServedRoutesAreDocumented(t *testing.T) {
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	autos, err := openAutomationStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer autos.Close()
	eng := tetraexec.New(st, tetraexec.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := api.New(api.Config{Engine: eng, Logger: log})
	m, err := mount(srv, mountDeps{eng: eng, graph: st, autos: autos, now: time.Now, logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer m.automations.Close()
	defer m.hub.Close(context.Background())
	defer m.log.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range srv.APIRoutes() {
		if !documented[r] {
			t.Errorf("tetra serve mounts %s, which openapi.json does not document", r)
		}
	}
	pages := 0
	for _, r := range srv.Routes() {
		if !slices.Contains(srv.APIRoutes(), r) {
			pages++
			if !strings.HasPrefix(r, "GET /") || strings.HasPrefix(r, "GET /api/") {
				t.Errorf("page route %s", r)
			}
		}
	}
	if pages == 0 {
		t.Error("tetra serve mounts no web view")
	}
}
