package live

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tetrahq/tetra/api"
	apiclient "github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
)

// apiServer serves the API with the hub mounted as tetra serve mounts it,
// with keys: "reader" (role read), "shop" (read, scoped to team:shop, two
// concurrent requests and two subscriptions at most), "agent" (ingest).
// It returns the base URL, the tokens, and what stops the server (which
// drains it).
func apiServer(t *testing.T, st graphstore.Store) (string, map[string]string, func()) {
	t.Helper()
	dir := t.TempDir()
	keys := api.NewKeyFile(dir)
	tokens := map[string]string{}
	for _, k := range []api.NewKey{
		{Name: "reader", Role: api.RoleRead},
		{Name: "shop", Role: api.RoleRead, Scope: `label = "team:shop"`, MaxConcurrent: 2, MaxSubscriptions: 2},
		{Name: "agent", Role: api.RoleIngest},
	} {
		_, tok, err := keys.Create(k, graphtest.Clock())
		if err != nil {
			t.Fatal(err)
		}
		tokens[k.Name] = tok
	}
	ring, err := api.NewKeyRing(keys)
	if err != nil {
		t.Fatal(err)
	}
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	srv := api.New(api.Config{Engine: eng, Keys: ring, Now: graphtest.Clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hub, err := New(Config{Engine: eng, Store: st, Logger: srv.Logger(), Registerer: srv.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	hub.Mount(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, "", "") }()
	stop := func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("drain: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
		st.Close()
	})
	return "http://" + ln.Addr().String(), tokens, stop
}

func dialKey(t *testing.T, base, token string) (*client, *http.Response, error) {
	h := http.Header{}
	if token != "" {
		h.Set("X-API-Key", token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/subscribe", h)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, ws: ws, in: make(chan wire, 1024), closed: make(chan struct{}), answers: map[string]*answer{}}
	t.Cleanup(func() { ws.Close() })
	c.start()
	return c, resp, nil
}

// Through the real server: a key is needed, of the read role; the key's
// scope confines answers and diffs; the key's subscription limit counts
// across connections; open connections do not use up the key's concurrent
// requests; the drain closes every connection with 1001.
func TestThroughTheServer(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	base, tok, stop := apiServer(t, st)
	for _, tc := range []struct {
		token  string
		status int
		class  string
	}{{"", 401, "unauthorized"}, {"not-a-key", 401, "unauthorized"}, {tok["agent"], 403, "forbidden"}} {
		_, resp, err := dialKey(t, base, tc.token)
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Fatalf("a handshake with key %q: %v %v, want %d", tc.token, err, resp, tc.status)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"class":"`+tc.class+`"`) {
			t.Fatalf("the refusal should be the API's error JSON of class %s: %s", tc.class, body)
		}
	}

	reader, _, err := dialKey(t, base, tok["reader"])
	if err != nil {
		t.Fatal(err)
	}
	reader.subscribe("all", `type = "service"`, nil)
	reader.apply(reader.must())
	if n := len(reader.answers["all"].comps); n != 3 {
		t.Fatalf("the reader sees %d services, want 3", n)
	}

	var shops []*client
	for range 3 {
		c, _, err := dialKey(t, base, tok["shop"])
		if err != nil {
			t.Fatalf("a scoped key's connection: %v", err)
		}
		shops = append(shops, c)
	}
	shops[0].subscribe("s", `type = "service"`, nil)
	shops[0].apply(shops[0].must())
	if n := len(shops[0].answers["s"].comps); n != 2 {
		t.Fatalf("the scoped key sees %d services, want web and checkout", n)
	}
	shops[1].subscribe("nb", `withNeighborsOf(components = (name = "checkout"), levels = "all")`, nil)
	shops[1].apply(shops[1].must())
	shops[2].subscribe("third", `type = "database"`, nil)
	if m := shops[2].must(); m.Type != "error" || m.Error.Class != api.ClassTooMany {
		t.Fatalf("the key's third subscription: %s", m.raw)
	}
	// Three open connections, two concurrent requests allowed: queries
	// still run.
	cl, err := apiclient.New(base, apiclient.Options{Key: tok["shop"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Query(context.Background(), api.QueryRequest{Query: `type = "service"`}); err != nil {
		t.Fatalf("a query of a key with open subscriptions: %v", err)
	}

	health(t, st, 20, "payments", "service", "pay", graphstore.HealthCritical)
	health(t, st, 30, "checkout", "service", "shop", graphstore.HealthCritical)
	for i, c := range shops[:2] {
		for {
			m := c.must()
			c.apply(m)
			if m.Type == "diff" {
				for _, ch := range m.Changed.Components {
					// web (1) and checkout (2) are the key's services;
					// payments' CRITICAL propagates to both.
					if ch.ID.String() != "1" && ch.ID.String() != "2" {
						t.Fatalf("connection %d: a diff shows component %s outside the scope: %s", i, ch.ID, m.raw)
					}
				}
				break
			}
		}
	}

	stop()
	for _, c := range append(shops[:2], reader) {
		expectClose(t, c, api.CloseGoingAway, "shutting down")
	}
}

// TestKeyAsSubprotocol: a browser, which cannot set headers on a
// WebSocket, offers its key as the subprotocol "tetra.key.<key>" beside
// the protocol's name; the server reads the key and selects the protocol,
// never the key. A wrong key offered that way is refused like a header's.
func TestKeyAsSubprotocol(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	base, tok, _ := apiServer(t, st)
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/subscribe"
	d := websocket.Dialer{Subprotocols: []string{Protocol, api.WebSocketKeyProtocol + tok["reader"]}}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("a handshake with the key as a subprotocol: %v %v", err, resp)
	}
	defer ws.Close()
	if got := ws.Subprotocol(); got != Protocol {
		t.Errorf("selected subprotocol %q, want %q", got, Protocol)
	}
	if err := ws.WriteJSON(map[string]string{"type": "subscribe", "id": "s1", "query": `type = "service"`}); err != nil {
		t.Fatal(err)
	}
	var m struct{ Type string }
	if err := ws.ReadJSON(&m); err != nil || m.Type != "result" {
		t.Fatalf("first message %+v %v", m, err)
	}
	bad := websocket.Dialer{Subprotocols: []string{Protocol, api.WebSocketKeyProtocol + "tetra_nope_nope"}}
	if _, resp, err := bad.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("a wrong key as a subprotocol: %v %v, want 401", err, resp)
	}
}
