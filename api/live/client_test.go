package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// serve starts an HTTP server whose every request is a WebSocket
// connection of sess, and returns its ws:// URL.
func serve(t testing.TB, h *Hub, sess Session) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeWS(w, r, sess) }))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// wire is a server message as a client decodes it.
type wire struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Seq    Seq    `json:"seq"`
	From   Seq    `json:"from"`
	Final  bool   `json:"final"`
	Resync string `json:"resync"`
	Result *struct {
		SchemaVersion int `json:"schemaVersion"`
		Topology      *struct {
			Components []map[string]any `json:"components"`
			Relations  []map[string]any `json:"relations"`
		} `json:"topology"`
	} `json:"result"`
	Added *struct {
		Components []map[string]any `json:"components"`
		Relations  []map[string]any `json:"relations"`
	} `json:"added"`
	Removed *struct {
		Components []json.Number `json:"components"`
		Relations  []json.Number `json:"relations"`
	} `json:"removed"`
	Changed *struct {
		Components []wireChange `json:"components"`
		Relations  []wireChange `json:"relations"`
	} `json:"changed"`
	Error *api.Error `json:"error"`
	raw   []byte
}

type wireChange struct {
	ID     json.Number    `json:"id"`
	Fields []string       `json:"fields"`
	Values map[string]any `json:"values"`
}

// answer is a client's copy of a subscription's answer, built only from
// the messages it got: elements as JSON objects by id.
type answer struct {
	seq   Seq
	comps map[string]map[string]any
	rels  map[string]map[string]any
}

// client is a WebSocket client of the protocol, as a program would write
// one: it keeps each subscription's answer from the messages it reads.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	in      chan wire
	closed  chan struct{}
	endErr  error // why reading ended, once closed is closed
	answers map[string]*answer
	pings   atomic.Int64
	onMsg   func(wire) // optional check of every message
}

func dial(t testing.TB, url string) *client {
	t.Helper()
	return dialWith(t, websocket.DefaultDialer, url, true)
}

// dialWith connects with a dialer; the client reads in the background
// when reading is set, else only once start is called.
func dialWith(t testing.TB, d *websocket.Dialer, url string, reading bool) *client {
	t.Helper()
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	c := &client{t: t, ws: ws, in: make(chan wire, 1024), closed: make(chan struct{}), answers: map[string]*answer{}}
	t.Cleanup(func() { ws.Close() })
	if reading {
		c.start()
	}
	return c
}

// start reads messages in the background.
func (c *client) start() { go c.read() }

func (c *client) read() {
	defer close(c.closed)
	for {
		m, err := c.readOne()
		if err != nil {
			c.endErr = err
			return
		}
		c.in <- m
	}
}

// readOne reads and decodes one message.
func (c *client) readOne() (wire, error) {
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return wire{}, err
	}
	return decodeWire(data)
}

func decodeWire(data []byte) (wire, error) {
	var m wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("undecodable message %s: %w", data, err)
	}
	m.raw = data
	return m, nil
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) subscribe(id, query string, seq *Seq) {
	m := map[string]any{"type": "subscribe", "id": id, "query": query}
	if seq != nil {
		m["seq"] = seq
	}
	c.send(m)
}

// next returns the next message, or false when none came within d or the
// connection ended.
func (c *client) next(d time.Duration) (wire, bool) {
	select {
	case m := <-c.in:
		return m, true
	case <-time.After(d):
		return wire{}, false
	case <-c.closed:
		select {
		case m := <-c.in:
			return m, true
		default:
			return wire{}, false
		}
	}
}

// must returns the next message or fails.
func (c *client) must() wire {
	c.t.Helper()
	m, ok := c.next(30 * time.Second)
	if !ok {
		c.t.Fatalf("no message (connection ended: %v)", c.endErr)
	}
	return m
}

// barrier pings and applies every message up to the pong, which the server
// sends after everything it had ready when it read the ping. It returns
// the messages before the pong.
func (c *client) barrier() []wire {
	c.t.Helper()
	id := fmt.Sprintf("barrier-%d", c.pings.Add(1))
	c.send(map[string]any{"type": "ping", "id": id})
	var got []wire
	for {
		m := c.must()
		if m.Type == "pong" && m.ID == id {
			return got
		}
		c.apply(m)
		got = append(got, m)
	}
}

// apply updates the subscription's answer with a message, checking that a
// diff applies to the answer the client holds.
func (c *client) apply(m wire) {
	c.t.Helper()
	if c.onMsg != nil {
		c.onMsg(m)
	}
	switch m.Type {
	case "result":
		a := &answer{seq: m.Seq, comps: map[string]map[string]any{}, rels: map[string]map[string]any{}}
		for _, x := range m.Result.Topology.Components {
			a.comps[idOf(x)] = x
		}
		for _, x := range m.Result.Topology.Relations {
			a.rels[idOf(x)] = x
		}
		c.answers[m.ID] = a
	case "diff":
		a := c.answers[m.ID]
		if a == nil {
			c.t.Fatalf("a diff for %s before its result: %s", m.ID, m.raw)
		}
		if m.From != a.seq || m.Seq < m.From {
			c.t.Fatalf("%s holds seq %s; got a diff from %s to %s", m.ID, a.seq, m.From, m.Seq)
		}
		applyDiff(c.t, a, m)
	case "error":
		delete(c.answers, m.ID)
	}
	if a := c.answers[m.ID]; a != nil {
		a.checkRelations(c.t, m.ID)
	}
}

func applyDiff(t testing.TB, a *answer, m wire) {
	t.Helper()
	for _, x := range m.Added.Components {
		a.comps[idOf(x)] = x
	}
	for _, x := range m.Added.Relations {
		a.rels[idOf(x)] = x
	}
	for _, id := range m.Removed.Components {
		delete(a.comps, id.String())
	}
	for _, id := range m.Removed.Relations {
		delete(a.rels, id.String())
	}
	change := func(els map[string]map[string]any, chs []wireChange) {
		for _, ch := range chs {
			el := els[ch.ID.String()]
			if el == nil {
				t.Fatalf("a change of %s, which the answer does not hold: %s", ch.ID, m.raw)
			}
			if len(ch.Fields) != len(ch.Values) {
				t.Fatalf("a change's fields and values differ: %s", m.raw)
			}
			for _, f := range ch.Fields {
				el[f] = ch.Values[f]
			}
		}
	}
	change(a.comps, m.Changed.Components)
	change(a.rels, m.Changed.Relations)
	a.seq = m.Seq
}

// checkRelations: an answer's relations join components of the answer.
func (a *answer) checkRelations(t testing.TB, id string) {
	for rid, r := range a.rels {
		for _, end := range []string{"source", "target"} {
			if _, ok := a.comps[fmt.Sprint(r[end])]; !ok {
				t.Fatalf("%s: relation %s has %s %v, which is not in the answer", id, rid, end, r[end])
			}
		}
	}
}

func idOf(x map[string]any) string { return fmt.Sprint(x["id"]) }

// fresh runs a query now, under a scope, and returns its answer as a
// client would decode it from a result message.
func fresh(t testing.TB, eng *exec.Engine, query string, scope lang.Expr, at time.Time) *answer {
	t.Helper()
	stmt, err := lang.Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.RunWith(context.Background(), stmt, exec.QueryOptions{Now: at, Scope: scope})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	msg := &Message{Type: TypeResult, Seq: Seq(at.UnixNano()), Result: res.Topology}
	data, err := msg.AppendJSON(nil, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeWire(data)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, answers: map[string]*answer{}}
	c.apply(m)
	return c.answers["fresh"]
}

// sameAnswer compares the elements of two answers; a field set to null by
// a diff is the same as one absent from a result.
func sameAnswer(got, want *answer) string {
	norm := func(els map[string]map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for id, el := range els {
			m := map[string]any{}
			for k, v := range el {
				if v != nil {
					m[k] = v
				}
			}
			out[id] = m
		}
		return out
	}
	var diffs []string
	for _, kind := range []struct {
		name      string
		got, want map[string]map[string]any
	}{{"component", norm(got.comps), norm(want.comps)}, {"relation", norm(got.rels), norm(want.rels)}} {
		ids := map[string]bool{}
		for id := range kind.got {
			ids[id] = true
		}
		for id := range kind.want {
			ids[id] = true
		}
		for id := range ids {
			if g, w := kind.got[id], kind.want[id]; !reflect.DeepEqual(g, w) {
				diffs = append(diffs, fmt.Sprintf("%s %s: client has %v, fresh answer %v", kind.name, id, g, w))
			}
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "\n")
}
