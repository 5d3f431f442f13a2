package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/api"
)

// TestValues: GET /api/values lists what components carry, honours the
// key's scope, a prefix, a limit and a time, and refuses what is not a key.
func TestValues(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead},
		keySpec{name: "shop", role: api.RoleRead, scope: `type = "service"`})
	values := func(key, query string) api.Values {
		t.Helper()
		r := f.do("GET", "/api/values?"+query, key, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var v api.Values
		r.json(t, &v)
		return v
	}
	if v := values("reader", "key=type"); v.Key != "type" || !slices.Contains(v.Values, "service") || !slices.Contains(v.Values, "host") || v.More {
		t.Errorf("types: %+v", v)
	}
	// An alias names the same key; the scope hides hosts and pods.
	if v := values("shop", "key=Type"); !slices.Equal(v.Values, []string{"service"}) {
		t.Errorf("scoped types: %+v", v)
	}
	if v := values("shop", "key=name"); !slices.Equal(v.Values, []string{"catalog", "checkout", "frontend"}) {
		t.Errorf("scoped names: %+v", v)
	}
	if v := values("reader", "key=name&prefix=c&limit=2"); len(v.Values) != 2 || !v.More || !strings.HasPrefix(v.Values[0], "c") {
		t.Errorf("prefix and limit: %+v", v)
	}
	// Before the agent reported (the second load, a minute after the first), no host
	// named db-1 existed.
	if v := values("reader", "key=name&prefix=db&at=2026-11-01T10:00:30Z"); len(v.Values) != 0 {
		t.Errorf("db names before the agent: %+v", v)
	}
	for _, q := range []string{"key=nope", "key=", "key=type&limit=0", "key=type&limit=1001", "key=type&limit=x", "key=type&at=+15000w", "key=id"} {
		r := f.do("GET", "/api/values?"+q, "reader", nil)
		if r.status != 400 && r.status != 501 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	if r := f.do("GET", "/api/values?key=type", "", nil); r.status != 401 {
		t.Errorf("without a key: %d", r.status)
	}
}

func TestVocabularyAndTimeline(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead})
	var v api.Vocabulary
	f.do("GET", "/api/vocabulary", "reader", nil).json(t, &v)
	if !slices.Contains(v.TopologyKeys, "layer") || !slices.Contains(v.Functions, "withNeighborsOf") || !slices.Contains(v.HealthStates, "CRITICAL") {
		t.Errorf("vocabulary: %+v", v)
	}
	var tl api.Timeline
	f.do("GET", "/api/timeline", "reader", nil).json(t, &tl)
	if tl.LastCommit == nil || !tl.LastCommit.Equal(f.st.LastCommit()) || !tl.Now.Equal(clock()) {
		t.Errorf("timeline: %+v (last commit %v)", tl, f.st.LastCommit())
	}
}

// TestWebSocketKey: a WebSocket handshake may carry its key as a
// "tetra.key.…" subprotocol, since browsers cannot set headers there; a
// plain request may not.
func TestWebSocketKey(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead}, keySpec{name: "agent", role: api.RoleIngest})
	f.srv.HandleFunc("GET /api/ws-probe", api.RoleRead, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(api.PrincipalFrom(r.Context()).KeyName))
	})
	hs := httptest.NewServer(f.srv.Handler())
	defer hs.Close()
	send := func(upgrade bool, protocols string) response {
		req, _ := http.NewRequest("GET", hs.URL+"/api/ws-probe", nil)
		if upgrade {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
		}
		if protocols != "" {
			req.Header.Set("Sec-WebSocket-Protocol", protocols)
		}
		return f.send(req)
	}
	if r := send(true, "tetra.v1, "+api.WebSocketKeyProtocol+f.token["reader"]); r.status != 200 || string(r.body) != "reader" {
		t.Errorf("key as a subprotocol: %d %s", r.status, r.body)
	}
	if r := send(false, api.WebSocketKeyProtocol+f.token["reader"]); r.status != 401 {
		t.Errorf("subprotocol key without an upgrade: %d %s", r.status, r.body)
	}
	if r := send(true, "tetra.v1"); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
	if r := send(true, api.WebSocketKeyProtocol+f.token["agent"]); r.status != 403 {
		t.Errorf("an ingest key: %d", r.status)
	}
	if r := send(true, api.WebSocketKeyProtocol+"tetra_nope_nope"); r.status != 401 {
		t.Errorf("an unknown key: %d", r.status)
	}
}

// TestHandlePage: pages are public, outside the OpenAPI document, and
// cannot take API or operational paths.
func TestHandlePage(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead})
	f.srv.HandlePage("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page")) }))
	hs := httptest.NewServer(f.srv.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("GET", hs.URL+"/", nil)
	if r := f.send(req); r.status != 200 || string(r.body) != "page" {
		t.Errorf("page without a key: %d %s", r.status, r.body)
	}
	req, _ = http.NewRequest("GET", hs.URL+"/nope", nil)
	if r := f.send(req); r.status != 404 || !strings.Contains(string(r.body), `"not_found"`) {
		t.Errorf("another path: %d %s", r.status, r.body)
	}
	if slices.Contains(f.srv.APIRoutes(), "GET /{$}") || !slices.Contains(f.srv.Routes(), "GET /{$}") {
		t.Errorf("routes %v, API routes %v", f.srv.Routes(), f.srv.APIRoutes())
	}
	for _, bad := range []string{"GET /api/page", "POST /form", "/", "GET /metrics", "GET /healthz"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandlePage(%q) did not refuse", bad)
				}
			}()
			f.srv.HandlePage(bad, http.NotFoundHandler())
		}()
	}
}
