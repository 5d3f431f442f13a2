package api_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
)

// authFixture has a key of each role and a scoped one: the shop team sees
// what its label marks (the services, the database and its pods), nothing
// of the cluster, the nodes or the agent's host.
func authFixture(t *testing.T) *fixture {
	return newFixture(t, api.Limits{},
		keySpec{name: "reader", role: api.RoleRead},
		keySpec{name: "agent", role: api.RoleIngest},
		keySpec{name: "scripter", role: api.RoleScript},
		keySpec{name: "admin", role: api.RoleAdmin},
		keySpec{name: "shop", role: api.RoleRead, scope: `label = "namespace:shop" AND NOT type = "pod"`},
		keySpec{name: "narrow", role: api.RoleRead, conc: 1})
}

// TestAuthRefusals: no key, a wrong key, a revoked key and a key of the
// wrong role are refused with their class; every header form is read.
func TestAuthRefusals(t *testing.T) {
	f := authFixture(t)
	body := api.QueryRequest{Query: `type = "service"`}
	for _, tc := range []struct {
		key    string
		status int
		class  api.Class
	}{
		{"", 401, api.ClassUnauthorized},
		{"tetra_0000000000000000_wrong", 401, api.ClassUnauthorized},
		{"a StackState token", 401, api.ClassUnauthorized},
		{f.token["reader"] + "x", 401, api.ClassUnauthorized},
		{"agent", 403, api.ClassForbidden},
		{"reader", 200, ""},
		{"scripter", 200, ""},
		{"admin", 200, ""},
	} {
		r := f.do("POST", "/api/query", tc.key, body)
		if r.status != tc.status {
			t.Errorf("key %q: status %d, want %d: %.200s", tc.key, r.status, tc.status, r.body)
			continue
		}
		if tc.class != "" {
			if e := r.apiError(t); e.Class != tc.class {
				t.Errorf("key %q: class %s", tc.key, e.Class)
			}
		}
		if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("key %q: 401 without WWW-Authenticate", tc.key)
		}
	}
	for _, h := range []struct{ name, value string }{
		{"X-API-Token", f.token["reader"]}, {"Authorization", "ApiKey " + f.token["reader"]}, {"Authorization", "Bearer " + f.token["reader"]},
	} {
		req, _ := http.NewRequest("GET", f.hs.URL+"/api/whoami", nil)
		req.Header.Set(h.name, h.value)
		if r := f.send(req); r.status != 200 {
			t.Errorf("%s: %d %s", h.name, r.status, r.body)
		}
	}
	// ?api_key= is for the agents' routes only (role ingest), not for reads.
	if r := f.do("GET", "/api/whoami?api_key="+f.token["reader"], "", nil); r.status != 401 {
		t.Errorf("api_key on a read route: %d", r.status)
	}
	// Health needs no key even when keys are checked.
	if r := f.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz: %d", r.status)
	}
}

// TestIngestRouteTakesQueryKey: a route mounted for role ingest accepts
// ?api_key= (as agents send it) and refuses a read key.
func TestIngestRouteTakesQueryKey(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "agent", role: api.RoleIngest}, keySpec{name: "reader", role: api.RoleRead})
	f2 := *f
	srv := api.New(api.Config{Engine: f.eng, Keys: f.ring, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.HandleFunc("POST /stsAgent/intake", api.RoleIngest, func(w http.ResponseWriter, r *http.Request) {
		p := api.PrincipalFrom(r.Context())
		io.WriteString(w, p.KeyName)
	})
	f2.hs = newHTTPServer(t, srv)
	if r := f2.do("POST", "/stsAgent/intake?api_key="+f.token["agent"], "", "{}"); r.status != 200 || string(r.body) != "agent" {
		t.Errorf("agent: %d %s", r.status, r.body)
	}
	if r := f2.do("POST", "/stsAgent/intake?api_key="+f.token["reader"], "", "{}"); r.status != 403 {
		t.Errorf("reader on ingest: %d %s", r.status, r.body)
	}
}

// TestRevokeTakesEffect: a key revoked in the file (as tetra key revoke
// does) is refused once the server reread it; a new key works.
func TestRevokeTakesEffect(t *testing.T) {
	f := authFixture(t)
	if r := f.do("GET", "/api/whoami", "reader", nil); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	if _, err := f.keys.Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := f.keys.Create(api.NewKey{Name: "late", Role: api.RoleRead}, clock())
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := f.ring.Refresh(); err != nil || !changed {
		t.Fatalf("refresh: %v %v", changed, err)
	}
	if r := f.do("GET", "/api/whoami", "reader", nil); r.status != 401 {
		t.Errorf("revoked key: %d", r.status)
	}
	if r := f.do("GET", "/api/whoami", tok, nil); r.status != 200 {
		t.Errorf("new key: %d", r.status)
	}
}

// TestScopedKeyCannotEscape: a scoped key sees nothing outside its scope,
// whichever way the query reaches for it: a filter on another layer, OR,
// ids, neighbours, CHANGES, the StackState routes, EXPLAIN's counts.
func TestScopedKeyCannotEscape(t *testing.T) {
	f := authFixture(t)
	all, _ := f.query("admin", api.QueryRequest{Query: `name = "*"`})
	inScope, _ := f.query("admin", api.QueryRequest{Query: `label = "namespace:shop" AND NOT type = "pod"`})
	allowed := map[uint64]bool{}
	for _, c := range inScope.Topology.Components.All() {
		allowed[c.ID] = true
	}
	if len(allowed) == 0 || len(allowed) == all.Topology.Components.Len() {
		t.Fatalf("the scope must select some but not all: %d of %d", len(allowed), all.Topology.Components.Len())
	}
	var outside uint64
	for _, c := range all.Topology.Components.All() {
		if !allowed[c.ID] {
			outside = c.ID
			break
		}
	}
	for _, q := range []string{
		`name = "*"`,
		`type = "host" OR type = "cluster"`,
		`id = ` + itoa(outside),
		`name = "checkout" OR id = ` + itoa(outside),
		`withNeighborsOf(components = (name = "checkout"), levels = "all", direction = "both")`,
		`withNeighborsOf(components = (id = ` + itoa(outside) + `), levels = "2")`,
		`NOT name = "checkout"`,
		`name = "*" AT "-90m"`,
	} {
		res, r := f.query("shop", api.QueryRequest{Query: q})
		if res == nil {
			t.Errorf("%s: %d %s", q, r.status, r.body)
			continue
		}
		for _, c := range res.Topology.Components.All() {
			if !allowed[c.ID] {
				t.Errorf("%s: the scoped key saw component %d %q", q, c.ID, c.Name)
			}
		}
		for _, rel := range res.Topology.Relations.All() {
			if !allowed[rel.Source] || !allowed[rel.Target] {
				t.Errorf("%s: the scoped key saw relation %d %d->%d", q, rel.ID, rel.Source, rel.Target)
			}
		}
	}
	res, r := f.query("shop", api.QueryRequest{Query: `name = "*" CHANGES FROM "-3h" TO "now"`})
	if res == nil {
		t.Fatalf("changes: %d %s", r.status, r.body)
	}
	for _, c := range slices.Concat(res.Changes.Added.Components, res.Changes.Removed.Components) {
		if !allowed[c.ID] {
			t.Errorf("CHANGES: the scoped key saw component %d %q", c.ID, c.Name)
		}
	}
	for _, c := range res.Changes.Changed.Components {
		if !allowed[c.After.ID] {
			t.Errorf("CHANGES: the scoped key saw a change of component %d", c.After.ID)
		}
	}
	if r := f.do("GET", "/api/components/"+itoa(outside), "shop", nil); r.status != 404 {
		t.Errorf("component by id outside the scope: %d %.200s", r.status, r.body)
	}
	if r := f.do("GET", "/api/components/urn:host:%2Fnode-1.shop.internal", "shop", nil); r.status != 404 {
		t.Errorf("component by identifier outside the scope: %d %.200s", r.status, r.body)
	}
	if r := f.do("GET", "/api/components/urn:host:%2Fnode-1.shop.internal", "reader", nil); r.status != 200 {
		t.Errorf("the same for an unscoped key: %d %.200s", r.status, r.body)
	}
	snap := f.do("POST", "/api/snapshot", "shop", map[string]any{"_type": "ViewSnapshotRequest", "query": `name = "*"`, "queryVersion": "0.0.1", "metadata": map[string]any{}})
	if snap.status != 200 || strings.Contains(string(snap.body), `"name":"node-1.shop.internal"`) || strings.Contains(string(snap.body), `"name":"shop-prod"`) {
		t.Errorf("snapshot with a scoped key: %d %.300s", snap.status, snap.body)
	}
	ex := f.do("POST", "/api/explain", "shop", api.QueryRequest{Query: `type = "host"`})
	if ex.status != 200 || strings.Contains(string(ex.body), "(~") {
		t.Errorf("EXPLAIN for a scoped key shows counts: %s", ex.body)
	}
	if ex := f.do("POST", "/api/explain", "reader", api.QueryRequest{Query: `type = "host"`}); !strings.Contains(string(ex.body), "(~") {
		t.Errorf("EXPLAIN for an unscoped key lacks estimates: %s", ex.body)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// newHTTPServer serves srv on a real loopback connection for the test.
func newHTTPServer(t *testing.T, srv *api.Server) *httptest.Server {
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

// TestPerKeyConcurrency: a key over its concurrent-request limit gets 429
// while its other requests run; the count is released afterwards.
func TestPerKeyConcurrency(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "narrow", role: api.RoleRead, conc: 1})
	release := make(chan struct{})
	entered := make(chan struct{})
	srv := api.New(api.Config{Engine: f.eng, Keys: f.ring, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.HandleFunc("GET /slow", api.RoleRead, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	f2 := *f
	f2.hs = newHTTPServer(t, srv)
	done := make(chan response)
	go func() { done <- f2.do("GET", "/slow", "narrow", nil) }()
	<-entered
	if r := f2.do("GET", "/api/whoami", "narrow", nil); r.status != 429 || r.apiError(t).Class != api.ClassTooMany {
		t.Errorf("second request: %d %s", r.status, r.body)
	}
	close(release)
	<-done
	if r := f2.do("GET", "/api/whoami", "narrow", nil); r.status != 200 {
		t.Errorf("after the first finished: %d %s", r.status, r.body)
	}
}

// TestSubscriptionAccounting: a principal's subscription limit counts
// across its connections (what api/live uses).
func TestSubscriptionAccounting(t *testing.T) {
	f := newFixture(t, api.Limits{MaxSubscriptionsPerKey: 2}, keySpec{name: "reader", role: api.RoleRead})
	var got []*api.Principal
	srv := api.New(api.Config{Engine: f.eng, Keys: f.ring, Now: clock, Limits: api.Limits{MaxSubscriptionsPerKey: 2},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.HandleFunc("GET /p", api.RoleRead, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, api.PrincipalFrom(r.Context()))
	})
	f2 := *f
	f2.hs = newHTTPServer(t, srv)
	f2.do("GET", "/p", "reader", nil)
	f2.do("GET", "/p", "reader", nil)
	r1, err1 := got[0].AcquireSubscription()
	_, err2 := got[1].AcquireSubscription()
	_, err3 := got[0].AcquireSubscription()
	if err1 != nil || err2 != nil || err3 == nil || api.Classify(err3).Class.CloseCode() != api.CloseTryAgainLater {
		t.Fatalf("acquire: %v %v %v", err1, err2, err3)
	}
	r1()
	r1() // releasing twice counts once
	if _, err := got[1].AcquireSubscription(); err != nil || got[0].Subscriptions() != 2 {
		t.Errorf("after release: %v, %d held", err, got[0].Subscriptions())
	}
}

// TestNoKeysLoopbackOnly: with no keys nothing is checked on loopback (a
// key sent is accepted unread); Serve refuses a non-loopback listener.
func TestNoKeysLoopbackOnly(t *testing.T) {
	f := newFixture(t, api.Limits{})
	if r := f.do("POST", "/api/query", "any-stackstate-token", api.QueryRequest{Query: `name = "x"`}); r.status != 200 {
		t.Errorf("open server with a key sent: %d %s", r.status, r.body)
	}
	var w api.Whoami
	f.do("GET", "/api/whoami", "", nil).json(t, &w)
	if w.KeyChecks || w.Role != "admin" {
		t.Errorf("%+v", w)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot listen on all addresses:", err)
	}
	defer ln.Close()
	err = f.srv.Serve(context.Background(), ln, "", "")
	if err == nil || !strings.Contains(err.Error(), "without API keys") {
		t.Errorf("non-loopback without keys: %v", err)
	}
	if api.IsLoopbackHost("0.0.0.0:7070") || !api.IsLoopbackHost("127.0.0.1:7070") || !api.IsLoopbackHost("localhost:1") || !api.IsLoopbackHost("[::1]:1") {
		t.Error("IsLoopbackHost")
	}
}

// TestSlowHeadersAreCutOff: a client that sends its headers slowly is
// disconnected after ReadHeaderTimeout; the server keeps serving.
func TestSlowHeadersAreCutOff(t *testing.T) {
	f := newFixture(t, api.Limits{ReadHeaderTimeout: 300 * time.Millisecond, DrainTimeout: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, ln, "", "") }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /api/query HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(conn).ReadByte()
	if err == nil || time.Since(start) > 4*time.Second {
		t.Errorf("slow client not cut off: %v after %s", err, time.Since(start))
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("server unhealthy after a slow client: %v", err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("drain: %v", err)
	}
}

// TestHostileRequestsWriteNothing: after every refused and malformed
// request, the store has not changed.
func TestHostileRequestsWriteNothing(t *testing.T) {
	f := authFixture(t)
	before := f.st.LastCommit()
	for _, body := range []string{`{"query": "name = 'x'"`, `{"query": 7}`, strings.Repeat("[", 100000), `{"query": "` + strings.Repeat("(", 5000) + `"}`} {
		f.do("POST", "/api/query", "reader", body)
		f.do("POST", "/api/snapshot", "reader", body)
	}
	f.do("POST", "/api/query", "agent", api.QueryRequest{Query: `name = "*"`})
	f.do("DELETE", "/api/query", "admin", nil)
	if after := f.st.LastCommit(); !after.Equal(before) {
		t.Errorf("the store changed: %v → %v", before, after)
	}
	if r := f.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("not ready: %s", r.body)
	}
}
