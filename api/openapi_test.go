package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tetrahq/tetra/api"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// TestOpenAPICoversTheRoutes: every mounted route is documented, and
// every documented route is mounted, with the same method.
func TestOpenAPICoversTheRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	f := newFixture(t, api.Limits{})
	var mounted, documented []string
	for _, r := range f.srv.APIRoutes() {
		mounted = append(mounted, r)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(mounted)
	slices.Sort(documented)
	if !slices.Equal(mounted, documented) {
		t.Errorf("routes and openapi.json differ:\nmounted    %v\ndocumented %v", mounted, documented)
	}
	if r := f.do("GET", "/api/openapi.json", "", nil); !bytes.Equal(r.body, mustRead(t, "openapi.json")) {
		t.Error("GET /api/openapi.json does not serve openapi.json")
	}
}

func mustRead(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResponsesMatchOpenAPI sends real requests (good ones and bad ones)
// and validates each answer against the document: status, content type
// and body schema.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, api.Limits{MaxElements: 8, MaxBodyBytes: 4096}, keySpec{name: "reader", role: api.RoleRead}, keySpec{name: "agent", role: api.RoleIngest},
		keySpec{name: "scripter", role: api.RoleScript})
	loadChecks(t, f) // so that the health route answers check states and degraded dependencies
	snapReq := func(q string, extra string) string {
		return `{"_type":"ViewSnapshotRequest","query":` + quote(q) + `,"queryVersion":"0.0.1","metadata":{"_type":"QueryMetadata","groupingEnabled":false,"queryTime":null` + extra + `}}`
	}
	for _, tc := range []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/metrics", "reader", "", 200},
		{"GET", "/api/openapi.json", "", "", 200},
		{"POST", "/api/query", "reader", `{"query":"type = \"service\""}`, 200},
		{"POST", "/api/query", "reader", `{"query":"name = \"*\" CHANGES FROM \"-3h\" TO \"now\"","maxElements":5}`, 422},
		{"POST", "/api/query", "reader", `{"query":"withNeighborsOf(components = (name = \"checkout\"), levels = \"1\")"}`, 200},
		{"POST", "/api/query", "reader", `{"query":"name = \"db-1*\" CHANGES FROM \"-3h\" TO \"now\""}`, 200},
		{"POST", "/api/query", "reader", `{"query":"enviroment = \"x\""}`, 400},
		{"POST", "/api/query", "reader", `{"query":"name = \"*\""}`, 422},
		{"POST", "/api/query", "reader", `{"query":"EVENTS"}`, 501},
		{"POST", "/api/query", "", `{"query":"name = \"x\""}`, 401},
		{"POST", "/api/query", "agent", `{"query":"name = \"x\""}`, 403},
		{"POST", "/api/query", "reader", `{"query":"` + strings.Repeat("x", 5000) + `"}`, 413},
		{"POST", "/api/explain", "reader", `{"query":"type = \"service\" AND label = \"app:checkout\""}`, 200},
		{"POST", "/api/explain", "reader", `{"query":"type ="}`, 400},
		{"GET", "/api/subscribe", "reader", "", 400}, // not a WebSocket handshake
		{"GET", "/api/subscribe", "", "", 401},
		{"GET", "/api/subscribe", "agent", "", 403},
		{"POST", "/api/script/execute", "scripter", `{"script":"Topology.query('type = \\\"service\\\"').components().length"}`, 200},
		{"POST", "/api/script/execute", "scripter", `{"script":"x +* 1"}`, 400},
		{"POST", "/api/script/execute", "scripter", `{"script":"Topology.query('typ = 1').components()"}`, 400},
		{"POST", "/api/script/execute", "scripter", `{"script":"while (true) {}","timeoutMs":200}`, 408},
		{"POST", "/api/script/execute", "scripter", `{"script":"n","argumentsScript":"({n: 2})"}`, 200},
		{"POST", "/api/script/execute", "scripter", `{"script":"1","timeoutMs":600000}`, 400},
		{"POST", "/api/script/execute", "scripter", `{"scrip":"1"}`, 400},
		{"POST", "/api/script/execute", "reader", `{"script":"1"}`, 403},
		{"POST", "/api/script/execute", "", `{"script":"1"}`, 401},
		{"GET", "/api/automations", "scripter", "", 200},
		{"POST", "/api/automations", "scripter", `{"name":"svc-count","kind":"scheduled","schedule":"@hourly","script":"Topology.query('type = \\\"service\\\"').components().length"}`, 200},
		{"POST", "/api/automations", "scripter", `{"name":"bad","kind":"monitor","script":"x +* 1"}`, 400},
		{"GET", "/api/automations/svc-count", "scripter", "", 200},
		{"POST", "/api/automations/svc-count/run", "scripter", "", 200},
		{"POST", "/api/automations/svc-count/run", "scripter", `{"event":{"x":1}}`, 200},
		{"GET", "/api/automations/svc-count/runs?limit=1", "scripter", "", 200},
		{"GET", "/api/automations/svc-count/runs?limit=x", "scripter", "", 400},
		{"GET", "/api/automations", "reader", "", 403},
		{"GET", "/api/automations/none", "scripter", "", 404},
		{"DELETE", "/api/automations/svc-count", "scripter", "", 200},
		{"DELETE", "/api/automations/svc-count", "scripter", "", 404},
		{"POST", "/mcp", "reader", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, 200},
		{"POST", "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 401},
		{"POST", "/mcp", "agent", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 403},
		{"GET", "/api/whoami", "reader", "", 200},
		{"GET", "/api/values?key=type&limit=2", "reader", "", 200},
		{"GET", "/api/values?key=nope", "reader", "", 400},
		{"GET", "/api/values?key=type", "", "", 401},
		{"GET", "/api/vocabulary", "reader", "", 200},
		{"GET", "/api/timeline", "reader", "", 200},
		{"GET", "/api/values?key=Label&prefix=app:&counts=true&limit=2&at=-1m", "reader", "", 200},
		{"GET", "/api/values?key=typ", "reader", "", 400},
		{"GET", "/api/values?key=type&limit=0", "reader", "", 400},
		{"GET", "/api/values?key=id", "reader", "", 501},
		{"GET", "/api/info", "reader", "", 200},
		{"GET", "/api/info?at=yesterday", "reader", "", 400},
		{"GET", "/api/info", "agent", "", 403},
		{"GET", "/api/server/info", "reader", "", 200},
		{"GET", "/api/topic", "reader", "", 200},
		{"POST", "/api/snapshot", "reader", snapReq(`type = "service"`, ""), 200},
		{"POST", "/api/snapshot", "reader", snapReq(`withNeighborsOf(components = (name = "orders"), levels = "1")`, ""), 200},
		{"POST", "/api/snapshot", "reader", snapReq(`name = "*"`, ""), 200},
		{"POST", "/api/snapshot", "reader", `{"query":"type = \"service\"","metadata":{"queryTime":1793530800000}}`, 200},
		{"POST", "/api/snapshot", "reader", snapReq(`naem = "x"`, ""), 400},
		{"GET", "/api/components/6", "reader", "", 200},
		{"GET", "/api/components/6?topologyTime=1793534400000", "reader", "", 200},
		{"GET", "/api/components/urn:none", "reader", "", 404},
		{"GET", "/api/components/6?topologyTime=x", "reader", "", 400},
		{"GET", "/api/components/8/health", "reader", "", 200}, // orders: two check states
		{"GET", "/api/components/6/health", "reader", "", 200}, // checkout: degraded dependencies
		{"GET", "/api/components/6/health?topologyTime=-30m", "reader", "", 200},
		{"GET", "/api/components/urn:none/health", "reader", "", 404},
		{"GET", "/api/components/6/health?topologyTime=x", "reader", "", 400},
		{"GET", "/api/components/6/health", "agent", "", 403},
		{"POST", "/stsAgent/intake", "agent", `{"topologies":[{"instance":{"type":"t","url":"u"},"components":[{"externalId":"x","type":{"name":"t"}}]}]}`, 202},
		{"POST", "/stsAgent/intake/", "agent", `{"internalHostname":"h","topologies":[],"metrics":[]}`, 202},
		{"POST", "/receiver/stsAgent/intake", "agent", `{"topologies":[{"components":[{"type":{"name":"t"}}]}]}`, 400},
		{"POST", "/receiver/stsAgent/intake/", "agent", `{"topologies":[{"instance":{"type":"t","url":"v"},"stop_snapshot":true}]}`, 400},
		{"POST", "/stsAgent/intake", "", `{}`, 401},
		{"POST", "/stsAgent/intake", "reader", `{}`, 403},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, _ := http.NewRequest(tc.method, f.hs.URL+tc.path, body)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tc.key != "" {
			req.Header.Set("X-API-Key", f.token[tc.key])
		}
		if tc.path == "/mcp" {
			req.Header.Set("Accept", "application/json, text/event-stream") // as MCP clients send it
		}
		r := f.send(req)
		name := tc.method + " " + tc.path
		if r.status != tc.status {
			t.Errorf("%s %.80s: status %d, want %d: %.300s", name, tc.body, r.status, tc.status, r.body)
			continue
		}
		vreq, _ := http.NewRequest(tc.method, "http://localhost"+tc.path, strings.NewReader(tc.body))
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Errorf("%s: not in openapi.json: %v", name, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
			Body: io.NopCloser(bytes.NewReader(r.body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %.80s: answer does not match openapi.json: %v\n%.400s", name, tc.body, err, r.body)
		}
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}
