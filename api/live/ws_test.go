package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/lang"
)

// shop commits a small topology at time 10: web → checkout → payments → db.
func shop(t testing.TB, st graphstore.Store) {
	t.Helper()
	b := &graphstore.Batch{Time: graphtest.At(10)}
	for _, c := range []struct{ ext, typ, team string }{
		{"web", "service", "shop"}, {"checkout", "service", "shop"}, {"payments", "service", "pay"}, {"db", "database", "shop"},
	} {
		b.PutComponent("agent", c.ext, graphstore.ComponentData{Name: c.ext, Type: c.typ, Labels: []string{"team:" + c.team}})
	}
	for i, r := range [][2]string{{"web", "checkout"}, {"checkout", "payments"}, {"payments", "db"}} {
		b.PutRelation("agent", fmt.Sprintf("r%d", i), graphstore.RelationData{Type: "calls", SourceRef: r[0], TargetRef: r[1]})
	}
	apply(t, st, b)
}

func apply(t testing.TB, st graphstore.Store, b *graphstore.Batch) {
	t.Helper()
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// health commits a new health state for one of the shop's components.
func health(t testing.TB, st graphstore.Store, sec int64, ext, typ, team string, h graphstore.HealthState) {
	t.Helper()
	b := &graphstore.Batch{Time: graphtest.At(sec)}
	b.PutComponent("agent", ext, graphstore.ComponentData{Name: ext, Type: typ, Labels: []string{"team:" + team}, Health: h})
	apply(t, st, b)
}

func pebble(t testing.TB) graphstore.Store { return stores["pebble"](t) }

// Unrelated commits send nothing: after they are taken, a ping's pong
// comes with no message before it.
func TestUnrelatedChangesSendNothing(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			shop(t, st)
			h := newHub(t, st, Limits{})
			c := dial(t, serve(t, h, Session{}))
			c.subscribe("db", `type = "database"`, nil)
			c.subscribe("nb", `withNeighborsOf(components = (name = "web"), levels = "1", direction = "down")`, nil)
			c.apply(c.must())
			c.apply(c.must())
			evals := h.changeEvaluations()
			// CLEAR, which does not propagate: the components depending
			// on payments keep their propagated state.
			health(t, st, 20, "payments", "service", "pay", graphstore.HealthClear)
			syncHub(t, h)
			if got := c.barrier(); len(got) != 0 {
				t.Fatalf("a change of payments, in neither answer, sent %d messages: %s", len(got), got[0].raw)
			}
			if n := h.changeEvaluations() - evals; n != 0 {
				t.Fatalf("the change was evaluated %d times; neither query read payments", n)
			}
			// The same barrier does see related changes: db's own, and, as
			// web and checkout depend on db through payments, their
			// propagated state in nb.
			health(t, st, 30, "db", "database", "shop", graphstore.HealthCritical)
			syncHub(t, h)
			got := c.barrier()
			if len(got) != 2 || got[0].Type != "diff" || got[1].Type != "diff" || got[0].ID == got[1].ID {
				t.Fatalf("a change of db should send one diff to db and one to nb; got %d messages", len(got))
			}
			for _, cid := range []string{"1", "2"} {
				if p := c.answers["nb"].comps[cid]["propagatedHealthState"]; p != "CRITICAL" {
					t.Fatalf("nb: component %s depends on db; its propagated state is %v, want CRITICAL", cid, p)
				}
			}
		})
	}
}

// A shared query is evaluated once per change however many subscribe.
func TestSubscribersShareEvaluations(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	h := newHub(t, st, Limits{})
	url := serve(t, h, Session{})
	var clients []*client
	for i := range 5 {
		c := dial(t, url)
		c.subscribe(fmt.Sprint("s", i), `type = "service"`, nil)
		c.apply(c.must())
		clients = append(clients, c)
	}
	evals := h.changeEvaluations()
	health(t, st, 20, "web", "service", "shop", graphstore.HealthClear)
	syncHub(t, h)
	for _, c := range clients {
		if got := c.barrier(); len(got) != 1 {
			t.Fatalf("want one diff per subscriber, got %d", len(got))
		}
	}
	if n := h.changeEvaluations() - evals; n != 1 {
		t.Fatalf("five subscribers of one query: %d evaluations for one change, want 1", n)
	}
	if n := testutil.ToFloat64(h.metrics.views); n != 1 {
		t.Fatalf("%v distinct queries, want 1", n)
	}
}

// A scoped session cannot see outside its scope: not by name, id, OR,
// neighbours, or in the diffs that changes outside it would cause.
func TestScopedSessionCannotSeeOutside(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	h := newHub(t, st, Limits{})
	scope, err := lang.ParseFilter(`label = "team:shop"`)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, h, Session{KeyID: "shop", Scope: scope}))
	for id, q := range map[string]string{
		"name":  `name = "payments"`,
		"id":    `id = 3`,
		"or":    `name = "payments" OR type = "database"`,
		"nb":    `withNeighborsOf(components = (name = "checkout"), levels = "all")`,
		"all":   `name = "*"`,
		"glob":  `name = "pay*"`,
		"notin": `NOT label = "team:shop"`,
	} {
		c.subscribe(id, q, nil)
	}
	for range 7 {
		c.apply(c.must())
	}
	outside := func(when string) {
		t.Helper()
		for id, a := range c.answers {
			for cid, comp := range a.comps {
				if cid == "3" || fmt.Sprint(comp["name"]) == "payments" {
					t.Fatalf("%s: %s shows payments, outside the scope", when, id)
				}
			}
		}
	}
	outside("at first")
	health(t, st, 20, "payments", "service", "pay", graphstore.HealthCritical)
	b := &graphstore.Batch{Time: graphtest.At(30)}
	b.PutComponent("agent", "ledger", graphstore.ComponentData{Name: "payments-ledger", Type: "service", Labels: []string{"team:pay"}})
	b.PutRelation("agent", "r9", graphstore.RelationData{Type: "calls", SourceRef: "checkout", TargetRef: "ledger"})
	apply(t, st, b)
	syncHub(t, h)
	// Web and checkout depend on payments: its CRITICAL is their
	// propagated state, a field of theirs that diffs carry. Nothing else
	// of the changes outside reaches the client.
	for _, m := range c.barrier() {
		if m.Type != "diff" || len(m.Added.Components)+len(m.Added.Relations)+len(m.Removed.Components)+len(m.Removed.Relations) > 0 {
			t.Fatalf("changes outside the scope sent %s", m.raw)
		}
		for _, ch := range m.Changed.Components {
			for _, f := range ch.Fields {
				if (ch.ID != "1" && ch.ID != "2") || (f != "propagatedHealthState" && f != "lastUpdateTimestamp") {
					t.Fatalf("changes outside the scope changed %s of component %s: %s", f, ch.ID, m.raw)
				}
			}
		}
	}
	for _, id := range []string{"all", "nb"} {
		for _, cid := range []string{"1", "2"} {
			if got := c.answers[id].comps[cid]["propagatedHealthState"]; got != "CRITICAL" {
				t.Fatalf("%s: component %s depends on payments, CRITICAL; its propagated state is %v", id, cid, got)
			}
		}
	}
	outside("after changes outside")
	// payments enters the scope: now it shows.
	health(t, st, 40, "payments", "service", "shop", graphstore.HealthCritical)
	syncHub(t, h)
	got := c.barrier()
	if len(got) == 0 {
		t.Fatal("payments entering the scope sent nothing")
	}
	if _, ok := c.answers["name"].comps["3"]; !ok {
		t.Fatalf("payments entered the scope; name = \"payments\" should now hold it")
	}
}

// Hostile and malformed input gets a clear error or close, never a crash;
// the connection (or, after a close, the server) keeps serving.
func TestHostileInput(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	h := newHub(t, st, Limits{MaxSubscriptionsPerConn: 3, MaxMessageBytes: 4096})
	url := serve(t, h, Session{KeyID: "k", MaxSubscriptions: 4})
	c := dial(t, url)
	expectError := func(class api.Class, want string) *api.Error {
		t.Helper()
		m := c.must()
		if m.Type != "error" || m.Error == nil || m.Error.Class != class || !strings.Contains(m.Error.Message, want) {
			t.Fatalf("want a %s error saying %q; got %s", class, want, m.raw)
		}
		return m.Error
	}
	c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type": "subscribe", "id": `))
	expectError(api.ClassBadRequest, "a message is a JSON object")
	c.ws.WriteMessage(websocket.TextMessage, []byte(`[1, 2, 3]`))
	expectError(api.ClassBadRequest, "a message is a JSON object")
	c.send(map[string]any{"type": "subscribe!", "id": "x"})
	expectError(api.ClassBadRequest, `unknown message type "subscribe!"`)
	c.ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	expectError(api.ClassBadRequest, "binary messages are not part of the protocol")
	c.send(map[string]any{"type": "subscribe", "query": `type = "service"`})
	expectError(api.ClassBadRequest, "a subscription needs an id")
	c.send(map[string]any{"type": "subscribe", "id": "x", "query": `type = "service"`, "seq": "yesterday"})
	expectError(api.ClassBadRequest, "a sequence number is a decimal string")
	c.send(map[string]any{"type": "unsubscribe", "id": "nope"})
	expectError(api.ClassBadRequest, `no subscription "nope"`)

	// A bad query: the error is positioned, as REST's.
	c.subscribe("bad", `type = "service" AND healthstate = "sick"`, nil)
	e := expectError(api.ClassQuery, "")
	if e.Line != 1 || e.Col != 36 || e.Offset != 35 || e.Length != 6 {
		t.Fatalf("the error should point at \"sick\" (1:36, offset 35, length 6): %+v", e)
	}
	c.subscribe("chg", `type = "service" CHANGES FROM "-1h"`, nil)
	if e := expectError(api.ClassQuery, "CHANGES"); e.Col != 18 {
		t.Fatalf("the error should point at CHANGES: %+v", e)
	}

	// Limits: three per connection, four per key.
	for i := range 3 {
		c.subscribe(fmt.Sprint("s", i), `type = "service"`, nil)
		c.apply(c.must())
	}
	c.subscribe("s0", `type = "service"`, nil)
	expectError(api.ClassBadRequest, `"s0" is in use`)
	c.subscribe("s3", `type = "service"`, nil)
	expectError(api.ClassTooMany, "this connection holds 3 subscriptions")
	c2 := dial(t, url)
	c2.subscribe("a", `type = "database"`, nil)
	c2.apply(c2.must())
	c2.subscribe("b", `type = "database"`, nil)
	if m := c2.must(); m.Type != "error" || m.Error.Class != api.ClassTooMany || !strings.Contains(m.Error.Message, "this key holds 4 live subscriptions") {
		t.Fatalf("the key's fifth subscription: %s", m.raw)
	}
	// Unsubscribing gives a place back.
	c.send(map[string]any{"type": "unsubscribe", "id": "s0"})
	if m := c.must(); m.Type != "unsubscribed" || m.ID != "s0" {
		t.Fatalf("unsubscribe: %s", m.raw)
	}
	c2.subscribe("b", `type = "database"`, nil)
	if m := c2.must(); m.Type != "result" {
		t.Fatalf("after an unsubscribe the key has room: %s", m.raw)
	}
	c.barrier() // the connection still serves

	// A message over the limit closes the connection with 1009.
	c.send(map[string]any{"type": "subscribe", "id": "big", "query": strings.Repeat(" ", 5000) + `type = "service"`})
	expectClose(t, c, websocket.CloseMessageTooBig, "at most 4096 bytes")

	// The server is fine: a new connection works, and the closed one's
	// subscriptions gave their places back (once it is cleaned up).
	waitFor(t, "the closed connection's subscriptions to end", func() bool {
		return testutil.ToFloat64(h.metrics.subscriptions) == 2
	})
	c3 := dial(t, url)
	c3.send(map[string]any{"type": "subscribe", "id": "ok", "query": `type = "database"`})
	if m := c3.must(); m.Type != "result" {
		t.Fatalf("a new connection after a close: %s", m.raw)
	}
}

// expectClose reads until the connection ends and checks its close frame.
func expectClose(t *testing.T, c *client, code int, text string) {
	t.Helper()
	for {
		if _, ok := c.next(10 * time.Second); !ok {
			break
		}
	}
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the connection stayed open; want close %d %q", code, text)
	}
	var ce *websocket.CloseError
	if !errors.As(c.endErr, &ce) || ce.Code != code || !strings.Contains(ce.Text, text) {
		t.Fatalf("want close %d %q, got %v", code, text, c.endErr)
	}
}

// A request that is not a WebSocket handshake gets the API's error JSON.
func TestNotAWebSocket(t *testing.T) {
	h := newHub(t, pebble(t), Limits{})
	url := serve(t, h, Session{})
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"class":"bad_request"`) {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
}

// Closing the hub sends every client a close frame (1001) with a reason,
// ends in-process subscriptions, and refuses new connections.
func TestShutdownSendsCloseFrames(t *testing.T) {
	st := pebble(t)
	shop(t, st)
	h := newHub(t, st, Limits{})
	url := serve(t, h, Session{})
	var clients []*client
	for range 3 {
		c := dial(t, url)
		c.subscribe("s", `type = "service"`, nil)
		c.apply(c.must())
		clients = append(clients, c)
	}
	sub, err := h.Subscribe(context.Background(), Request{Query: `type = "service"`}, Session{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		expectClose(t, c, websocket.CloseGoingAway, "shutting down")
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("an in-process subscription after Close: %v, want ErrClosed", err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection after Close: %v %v, want 503", err, resp)
	}
	if _, err := h.Subscribe(context.Background(), Request{Query: `type = "service"`}, Session{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

// A client that answers no ping is closed with 4002; one that does stays.
func TestPingTimeoutClosesDeadConnections(t *testing.T) {
	st := pebble(t)
	h := newHub(t, st, Limits{PingInterval: 50 * time.Millisecond, PongTimeout: 400 * time.Millisecond})
	url := serve(t, h, Session{})
	live := dial(t, url) // gorilla answers pings while it reads
	dead := dialWith(t, websocket.DefaultDialer, url, false)
	dead.ws.SetPingHandler(func(string) error { return nil })
	dead.start()
	expectClose(t, dead, CloseNoPong, "not even a pong")
	time.Sleep(3 * 400 * time.Millisecond)
	live.barrier() // still connected
}

// smallBuffers makes the server's sockets hold little unsent data, so a
// client that stops reading blocks the server's writes at once.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// serveSmall is serve with small socket buffers on both ends.
func serveSmall(t testing.TB, h *Hub, sess Session) (string, *websocket.Dialer) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeWS(w, r, sess) }))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	d := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	return "ws" + strings.TrimPrefix(srv.URL, "http"), d
}

// many commits health changes of n services, one commit per round.
func churn(t testing.TB, st graphstore.Store, from, rounds, n int) {
	for i := range rounds {
		b := &graphstore.Batch{Time: graphtest.At(int64(from + i))}
		for j := range n {
			b.PutComponent("agent", fmt.Sprint("svc-", j), graphstore.ComponentData{
				Name: fmt.Sprint("svc-", j), Type: "service",
				Health:     graphstore.HealthState(1 + (i+j)%3),
				Properties: []byte(fmt.Sprintf(`{"round":%d,"note":%q}`, i, strings.Repeat("x", 200))),
			})
		}
		apply(t, st, b)
	}
}

// A client that stops reading gets, when it reads again, a few diffs that
// cover every change (coalesced), not one per commit: nothing queued up for
// it meanwhile. Its answer is then exact.
func TestSlowClientGetsCoalescedDiffs(t *testing.T) {
	st := pebble(t)
	churn(t, st, 10, 1, 30)
	// The client reads nothing while 200 commits are made, which takes
	// longer than the default WriteTimeout on a loaded machine under the
	// race detector: this test is about coalescing, not cutting off.
	h := newHub(t, st, Limits{MaxLag: time.Hour, WriteTimeout: time.Hour})
	url, dialer := serveSmall(t, h, Session{})
	c := dialWith(t, dialer, url, false)
	c.subscribe("s", `type = "service"`, nil)
	first, err := c.readOne()
	if err != nil || first.Type != "result" {
		t.Fatalf("first message: %v %s", err, first.raw)
	}
	c.apply(first)
	const rounds = 200
	churn(t, st, 20, rounds, 30) // each round changes every service: ~8 KB of diff
	syncHub(t, h)
	if sent := testutil.ToFloat64(h.metrics.messages.WithLabelValues("diff")); sent >= rounds/2 {
		t.Fatalf("%v diffs were written to a client that did not read, for %d commits: they queued", sent, rounds)
	}
	// Read again: a few coalesced diffs bring the answer up to date.
	c.start()
	got := c.barrier()
	if len(got) == 0 || len(got) >= rounds/2 {
		t.Fatalf("%d diffs for %d commits; want a few coalesced ones", len(got), rounds)
	}
	if d := sameAnswer(c.answers["s"], fresh(t, h.engine, `type = "service"`, nil, st.LastCommit())); d != "" {
		t.Fatalf("after coalesced diffs the answer differs:\n%s", d)
	}
	t.Logf("%d commits, %d diffs delivered", rounds, len(got))
}

// A client that stays too far behind is closed with 4001 and a reason it
// can read once it reads again.
func TestTooFarBehindIsClosed(t *testing.T) {
	const limit = 200 * time.Millisecond
	st := pebble(t)
	churn(t, st, 10, 1, 30)
	h := newHub(t, st, Limits{MaxLag: limit})
	url, dialer := serveSmall(t, h, Session{})
	c := dialWith(t, dialer, url, false)
	c.subscribe("s", `type = "service"`, nil)
	if first, err := c.readOne(); err != nil || first.Type != "result" {
		t.Fatalf("first message: %v", err)
	}
	// Commit until a change has waited past MaxLag undelivered. The client
	// reads nothing, so the server's writes block once the small socket
	// buffers are full, and the changes after that wait. (A hundred
	// commits and a sleep were flaky: the server coalesces what is
	// pending into one message, and when it had taken the last change in
	// a message the buffers still had room for, nothing was left waiting.)
	// The loop also ends if the server has closed the connection already
	// (its writer, not blocked but starved, found the lag itself).
	open := func() bool { return testutil.ToFloat64(h.metrics.connections) > 0 }
	for from, deadline := 20, time.Now().Add(10*time.Second); lagOf(h) <= limit && open(); from += 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no change waited past %s in ten seconds of commits to a client that reads nothing", limit)
		}
		churn(t, st, from, 3, 30) // three commits, each changing every service (a call's first from its last)
		syncHub(t, h)
		time.Sleep(20 * time.Millisecond)
	}
	c.start()
	expectClose(t, c, CloseTooSlow, "too far behind")
}

// lagOf is the longest a change has waited undelivered in any
// subscription of h's connections.
func lagOf(h *Hub) time.Duration {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	var lag time.Duration
	for _, c := range conns {
		c.mu.Lock()
		for _, s := range c.subs {
			if s != nil {
				lag = max(lag, s.lagging(time.Now()))
			}
		}
		c.mu.Unlock()
	}
	return lag
}

// A client that accepts no data at all is cut off after WriteTimeout.
func TestStuckClientIsCutOff(t *testing.T) {
	st := pebble(t)
	churn(t, st, 10, 1, 30)
	h := newHub(t, st, Limits{WriteTimeout: 200 * time.Millisecond, MaxLag: time.Hour})
	url, dialer := serveSmall(t, h, Session{})
	ws, _, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]any{"type": "subscribe", "id": "s", "query": `type = "service"`})
	churn(t, st, 20, 100, 30)
	syncHub(t, h)
	waitFor(t, "the server to drop a connection that accepted nothing", func() bool {
		return testutil.ToFloat64(h.metrics.connections) == 0
	})
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited ten seconds for %s", what)
		}
	}
}
