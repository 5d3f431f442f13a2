package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/receiver"
	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// clock is the time the test servers think it is: just after the webshop
// files were loaded.
var (
	loadedAt = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	clock    = func() time.Time { return loadedAt.Add(2 * time.Hour) }
)

// fixture is a server over the webshop sample topology, served over a
// real HTTP connection.
type fixture struct {
	t     *testing.T
	dir   string
	st    *pebblestore.Store
	eng   *exec.Engine
	srv   *api.Server
	hs    *httptest.Server
	keys  *api.KeyFile
	ring  *api.KeyRing
	log   *bytes.Buffer
	token map[string]string // key name → token
}

// keySpec is a key a fixture creates before the server starts.
type keySpec struct {
	name  string
	role  api.Role
	scope string
	conc  int
}

func newFixture(t *testing.T, limits api.Limits, keys ...keySpec) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), log: &bytes.Buffer{}, token: map[string]string{}}
	st, err := pebblestore.Open(f.dir, pebblestore.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	ap := ingest.NewApplier(st)
	for i, name := range []string{"webshop-kubernetes.json", "webshop-agent.json", "webshop-traces.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "topology", name))
		if err != nil {
			t.Fatal(err)
		}
		topos, err := (&ingest.Decoder{DefaultSource: "file:" + name}).Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ap.Apply(context.Background(), topos, loadedAt.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	f.keys = api.NewKeyFile(f.dir)
	for _, k := range keys {
		_, tok, err := f.keys.Create(api.NewKey{Name: k.name, Role: k.role, Scope: k.scope, MaxConcurrent: k.conc}, clock())
		if err != nil {
			t.Fatal(err)
		}
		f.token[k.name] = tok
	}
	if f.ring, err = api.NewKeyRing(f.keys); err != nil {
		t.Fatal(err)
	}
	f.eng = exec.New(st, exec.Options{Now: clock})
	f.srv = api.New(api.Config{Engine: f.eng, Keys: f.ring, Store: storeInfo{st}, Limits: limits, Now: clock, Version: "test",
		Logger: slog.New(slog.NewJSONHandler(f.log, nil))})
	// Live subscriptions mount as tetra serve mounts them.
	hub, err := live.New(live.Config{Engine: f.eng, Store: st, Logger: f.srv.Logger(), Registerer: f.srv.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	hub.Mount(f.srv)
	t.Cleanup(func() { hub.Close(context.Background()) }) // before the store closes
	// Scripts mount as tetra serve mounts them.
	rt, err := scriptrt.New(scriptrt.Config{Engine: f.eng, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	autos, err := automation.OpenStore(filepath.Join(f.dir, "automations"))
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := automation.NewManager(automation.Config{Store: autos, Runtime: rt, Engine: f.eng, Now: clock, Logger: f.srv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close(); autos.Close() })
	if err := scriptapi.Mount(f.srv, scriptapi.Config{Runtime: rt, Timeout: 2 * time.Second, MaxTimeout: 5 * time.Second, Automations: mgr}); err != nil {
		t.Fatal(err)
	}
	// MCP mounts as tetra serve mounts it.
	f.srv.Handle("POST /mcp", api.RoleRead, mcpserver.Handler(mcpserver.Config{Engine: f.eng, Runtime: rt, Now: clock}))
	// The receiver mounts as tetra serve mounts it.
	proc, err := ingest.NewTopologyProcessor(st)
	if err != nil {
		t.Fatal(err)
	}
	pipe := ingest.NewPipeline(proc, ingest.PipelineOptions{})
	t.Cleanup(func() { pipe.Close() })
	rc, err := receiver.New(receiver.Config{Log: pipe, Logger: f.srv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Mount(f.srv); err != nil {
		t.Fatal(err)
	}
	f.hs = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.hs.Close)
	return f
}

type storeInfo struct{ st *pebblestore.Store }

func (s storeInfo) Check() error { return s.st.Check() }
func (s storeInfo) Stats() api.StoreStats {
	p := s.st.Stats()
	return api.StoreStats{DiskBytes: p.DiskBytes, Compactions: p.Compactions, LastCommit: s.st.LastCommit(), Horizon: s.st.Horizon()}
}

// response is one answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.body)
	}
}

// apiError returns the {"error": …} of an answer.
func (r response) apiError(t *testing.T) *api.Error {
	t.Helper()
	var doc struct {
		Error *api.Error `json:"error"`
	}
	r.json(t, &doc)
	if doc.Error == nil {
		t.Fatalf("no error in %d answer: %s", r.status, r.body)
	}
	return doc.Error
}

// do sends a request with the named key's token (none for "").
func (f *fixture) do(method, path, key string, body any) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.hs.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		tok, ok := f.token[key]
		if !ok {
			tok = key // a raw token
		}
		req.Header.Set("X-API-Key", tok)
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) response {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// query posts a query with the named key and decodes a 200 answer.
func (f *fixture) query(key string, req api.QueryRequest) (*exec.Result, response) {
	f.t.Helper()
	r := f.do("POST", "/api/query", key, req)
	if r.status != http.StatusOK {
		return nil, r
	}
	res, err := exec.DecodeJSON(r.body)
	if err != nil {
		f.t.Fatalf("%v: %s", err, r.body)
	}
	return res, r
}

// names returns the names of a topology result's components.
func names(res *exec.Result) []string {
	var out []string
	for _, c := range res.Topology.Components.All() {
		out = append(out, c.Name)
	}
	return out
}

// TestQueryAnswersTheEncodersDocument: POST /api/query answers with
// exactly the document exec.AppendJSON writes for the engine's result.
func TestQueryAnswersTheEncodersDocument(t *testing.T) {
	f := newFixture(t, api.Limits{})
	for _, q := range []string{
		`type = "service"`,
		`withNeighborsOf(components = (name = "checkout"), levels = "2")`,
		`name = "*" CHANGES FROM "-3h" TO "now"`,
		`type = "pod" AT "2026-11-01T10:00:30Z"`,
	} {
		_, r := f.query("", api.QueryRequest{Query: q})
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		res, err := f.eng.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := exec.AppendJSON(context.Background(), nil, res, exec.EncodeOptions{})
		if !bytes.Equal(r.body, want) {
			t.Errorf("%s:\ngot  %s\nwant %s", q, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Error("no request id")
		}
	}
}

// TestQueryErrors: each error class answers with its status and its
// fields; a bad query carries the position a client renders a caret from.
func TestQueryErrors(t *testing.T) {
	f := newFixture(t, api.Limits{MaxBodyBytes: 4096, MaxElements: 5, MaxResponseBytes: 1 << 20})
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		class  api.Class
		check  func(*api.Error) bool
	}{
		{"bad query", "POST", "/api/query", api.QueryRequest{Query: `enviroment = "prod"`}, 400, api.ClassQuery,
			func(e *api.Error) bool {
				return e.Line == 1 && e.Col == 1 && e.Offset == 0 && e.Length == 10 && strings.Contains(e.Hint, "environment")
			}},
		{"planner error", "POST", "/api/query", api.QueryRequest{Query: `name = "*" AT "+15000w"`}, 400, api.ClassQuery,
			func(e *api.Error) bool { return e.Offset == 14 && strings.Contains(e.Message, "outside the times") }},
		{"element limit", "POST", "/api/query", api.QueryRequest{Query: `name = "*"`}, 422, api.ClassLimit,
			func(e *api.Error) bool { return e.Limit == 5 && e.LimitKind == "elements" }},
		{"unsupported", "POST", "/api/query", api.QueryRequest{Query: `METRICS WHERE name = "cpu"`}, 501, api.ClassUnsupported, nil},
		{"no query", "POST", "/api/query", api.QueryRequest{}, 400, api.ClassBadRequest, nil},
		{"bad at", "POST", "/api/query", api.QueryRequest{Query: `name = "x"`, At: "+15000w"}, 400, api.ClassBadRequest,
			func(e *api.Error) bool { return strings.Contains(e.Message, "outside the times") }},
		{"limit above the server's", "POST", "/api/query", api.QueryRequest{Query: `name = "x"`, MaxElements: 6}, 400, api.ClassBadRequest, nil},
		{"timeout above the server's", "POST", "/api/query", api.QueryRequest{Query: `name = "x"`, TimeoutMs: 31_000}, 400, api.ClassBadRequest, nil},
		{"malformed JSON", "POST", "/api/query", `{"query": "name = 'x'"`, 400, api.ClassBadRequest, nil},
		{"unknown field", "POST", "/api/query", `{"query": "name = 'x'", "qeury": 1}`, 400, api.ClassBadRequest, nil},
		{"wrong type", "POST", "/api/query", `{"query": 5}`, 400, api.ClassBadRequest, nil},
		{"two documents", "POST", "/api/query", `{"query": "name = 'x'"} {}`, 400, api.ClassBadRequest, nil},
		{"empty body", "POST", "/api/query", ``, 400, api.ClassBadRequest, nil},
		{"oversized body", "POST", "/api/query", `{"query": "` + strings.Repeat("x", 5000) + `"}`, 413, api.ClassTooLarge, nil},
		{"wrong method", "GET", "/api/query", nil, 405, api.ClassMethod, nil},
		{"no route", "GET", "/api/nothing", nil, 404, api.ClassNotFound, nil},
	} {
		r := f.do(tc.method, tc.path, "", tc.body)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d: %.300s", tc.name, r.status, tc.status, r.body)
			continue
		}
		e := r.apiError(t)
		if e.Class != tc.class || e.Message == "" || (tc.check != nil && !tc.check(e)) {
			t.Errorf("%s: %+v", tc.name, e)
		}
	}
	r := f.do("POST", "/api/query", "", nil)
	if r.status != 400 {
		t.Errorf("no body: %d", r.status)
	}
	req, _ := http.NewRequest("POST", f.hs.URL+"/api/query", strings.NewReader(`query=x`))
	req.Header.Set("Content-Type", "text/plain")
	if r := f.send(req); r.status != 415 || r.apiError(t).Class != api.ClassMediaType {
		t.Errorf("text body: %d %s", r.status, r.body)
	}
	// curl -d's default content type, with a JSON body, is read as JSON.
	req, _ = http.NewRequest("POST", f.hs.URL+"/api/query", strings.NewReader(`{"query": "name = \"x\""}`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := f.send(req); r.status != 200 {
		t.Errorf("curl -d: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("the server is not ready after bad requests: %d %s", r.status, r.body)
	}
}

// TestResponseLimit: an answer larger than the response limit is a 422
// naming the limit in bytes, never a cut-off document.
func TestResponseLimit(t *testing.T) {
	f := newFixture(t, api.Limits{MaxResponseBytes: 2000})
	_, r := f.query("", api.QueryRequest{Query: `name = "*"`})
	if r.status != 422 {
		t.Fatalf("status %d: %.200s", r.status, r.body)
	}
	if e := r.apiError(t); e.LimitKind != "bytes" || e.Limit != 2000 {
		t.Errorf("%+v", e)
	}
}

// TestHealthAndReadiness: /healthz and /readyz need no key; /readyz says
// when the store is closed.
func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead})
	for _, p := range []string{"/healthz", "/readyz", "/api/openapi.json"} {
		if r := f.do("GET", p, "", nil); r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	f.st.Close()
	r := f.do("GET", "/readyz", "", nil)
	var rd api.Readiness
	r.json(t, &rd)
	if r.status != 503 || rd.Status != "unavailable" {
		t.Errorf("closed store: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/query", "reader", api.QueryRequest{Query: `name = "x"`}); r.status != 503 {
		t.Errorf("query on a closed store: %d %s", r.status, r.body)
	}
}

// TestMetrics: /metrics serves the server's registry: request and query
// latency, store figures and the Go runtime.
func TestMetrics(t *testing.T) {
	f := newFixture(t, api.Limits{})
	f.query("", api.QueryRequest{Query: `type = "service"`})
	f.do("POST", "/api/query", "", api.QueryRequest{Query: `bad =`})
	r := f.do("GET", "/metrics", "", nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, want := range []string{
		`tetra_http_request_duration_seconds_count{route="POST /api/query",status="200"} 1`,
		`tetra_http_request_duration_seconds_count{route="POST /api/query",status="400"} 1`,
		`tetra_query_duration_seconds_count{kind="topology",outcome="ok"} 1`,
		`tetra_store_disk_bytes`, `tetra_ready 1`, `go_goroutines`, `tetra_api_keys 0`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Count(f.log.String(), `"msg":"request"`) < 3 || !strings.Contains(f.log.String(), `"request_id"`) {
		t.Errorf("request log: %s", f.log)
	}
}
