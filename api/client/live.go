package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// The client side of live subscriptions (GET /api/subscribe, the protocol
// of docs/websocket.md): LiveConn speaks the protocol on one connection;
// Tracker keeps a subscription's answer from its messages; Watch follows
// one query, reconnecting and resuming from its last seq when the
// connection drops.

// SubscribePath is where a server serves live subscriptions.
const SubscribePath = "/api/subscribe"

// Seq is a subscription's sequence number: the commit time, in
// nanoseconds since 1970, of the last commit an answer reflects. The
// protocol sends it as a decimal string.
type Seq int64

// Time is the commit time the seq stands for.
func (s Seq) Time() time.Time { return time.Unix(0, int64(s)) }

func (s Seq) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(s), 10)), nil
}

func (s *Seq) UnmarshalJSON(b []byte) error {
	str := string(b)
	if u, err := strconv.Unquote(str); err == nil {
		str = u
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return fmt.Errorf("client: a seq must be a decimal string, got %s", b)
	}
	*s = Seq(n)
	return nil
}

// Message is a server message of the protocol.
type Message struct {
	Type string `json:"type"` // result, diff, error, unsubscribed, pong
	ID   string `json:"id"`
	Seq  Seq    `json:"seq"`
	From Seq    `json:"from"`
	// Result is the full answer of a result message.
	Result *exec.TopologyResult `json:"-"`
	Final  bool                 `json:"final"`
	Resync string               `json:"resync"`
	// Diff is what a diff message changes.
	Diff  *Diff      `json:"-"`
	Error *api.Error `json:"error"`
}

// Diff is a diff message's change from the answer at From to the answer
// at Seq.
type Diff struct {
	Added   exec.Elements `json:"added"`
	Removed struct {
		Components []uint64 `json:"components"`
		Relations  []uint64 `json:"relations"`
	} `json:"removed"`
	Changed struct {
		Components []FieldChange `json:"components"`
		Relations  []FieldChange `json:"relations"`
	} `json:"changed"`
}

// FieldChange is an element that stayed in the answer with different
// fields: their names and new values (JSON; null for a field now absent).
type FieldChange struct {
	ID     uint64                     `json:"id"`
	Fields []string                   `json:"fields"`
	Values map[string]json.RawMessage `json:"values"`
}

// Empty reports whether the diff changes nothing.
func (d *Diff) Empty() bool {
	return len(d.Added.Components)+len(d.Added.Relations)+len(d.Removed.Components)+len(d.Removed.Relations)+
		len(d.Changed.Components)+len(d.Changed.Relations) == 0
}

// DecodeMessage decodes one server message.
func DecodeMessage(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("client: reading a live message: %w", err)
	}
	switch m.Type {
	case "result":
		var doc struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("client: reading a live result: %w", err)
		}
		res, err := exec.DecodeJSON(doc.Result)
		if err != nil {
			return nil, err
		}
		if res.Topology == nil {
			return nil, errors.New("client: a live result without a topology")
		}
		m.Result = res.Topology
	case "diff":
		var d Diff
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("client: reading a live diff: %w", err)
		}
		m.Diff = &d
	}
	return &m, nil
}

// Apply changes an answer by the diff: removes the removed elements, adds
// the added ones and sets the changed fields. Elements stay ordered by id,
// as results list them.
func (d *Diff) Apply(r *exec.TopologyResult) error {
	comps := slices.DeleteFunc(r.Components.Slice(), func(c exec.Component) bool { return slices.Contains(d.Removed.Components, c.ID) })
	rels := slices.DeleteFunc(r.Relations.Slice(), func(x exec.Relation) bool { return slices.Contains(d.Removed.Relations, x.ID) })
	for _, ch := range d.Changed.Components {
		i := slices.IndexFunc(comps, func(c exec.Component) bool { return c.ID == ch.ID })
		if i < 0 {
			return fmt.Errorf("client: a diff changes component %d, which the answer does not hold", ch.ID)
		}
		if err := setFields(&comps[i], ch.Values); err != nil {
			return err
		}
	}
	for _, ch := range d.Changed.Relations {
		i := slices.IndexFunc(rels, func(x exec.Relation) bool { return x.ID == ch.ID })
		if i < 0 {
			return fmt.Errorf("client: a diff changes relation %d, which the answer does not hold", ch.ID)
		}
		if err := setFields(&rels[i], ch.Values); err != nil {
			return err
		}
	}
	comps = append(comps, d.Added.Components...)
	rels = append(rels, d.Added.Relations...)
	slices.SortFunc(comps, func(a, b exec.Component) int { return cmpID(a.ID, b.ID) })
	slices.SortFunc(rels, func(a, b exec.Relation) int { return cmpID(a.ID, b.ID) })
	r.Components, r.Relations = exec.RowsOf(comps), exec.RowsOf(rels)
	return nil
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setFields sets the named JSON fields of an element (a pointer to an
// exec.Component or exec.Relation) to new values; a null value makes the
// field absent.
func setFields(elem any, values map[string]json.RawMessage) error {
	b, err := json.Marshal(elem)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	for k, v := range values {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	if b, err = json.Marshal(fields); err != nil {
		return err
	}
	// Decode into a zeroed element: a field made absent must not keep its
	// old value.
	switch e := elem.(type) {
	case *exec.Component:
		*e = exec.Component{}
	case *exec.Relation:
		*e = exec.Relation{}
	}
	return json.Unmarshal(b, elem)
}

// Update is what one message did to a tracked answer.
type Update struct {
	// Answer is the answer after the message: the client's copy, which
	// the next update changes (copy what you keep).
	Answer *exec.TopologyResult
	// Before is the answer before a diff (nil for a full result).
	Before *exec.TopologyResult
	// Diff is the diff applied, nil for a full result.
	Diff *Diff
	Seq  Seq
	// Final is set on the last message of a subscription (a query AT a
	// fixed time); Resync says why a full result replaced the answer.
	Final  bool
	Resync string
}

// Tracker keeps one subscription's answer from its messages. It is used
// by one goroutine.
type Tracker struct {
	answer *exec.TopologyResult
	seq    Seq
}

// Seq is the seq of the answer held (0 before the first result), to
// resume from.
func (t *Tracker) Seq() Seq { return t.seq }

// Take applies a result or diff message and returns the update. An error
// message comes back as its *api.Error.
func (t *Tracker) Take(m *Message) (*Update, error) {
	switch m.Type {
	case "result":
		t.answer, t.seq = m.Result, m.Seq
		return &Update{Answer: t.answer, Seq: m.Seq, Final: m.Final, Resync: m.Resync}, nil
	case "diff":
		if t.answer == nil || m.From != t.seq {
			return nil, fmt.Errorf("client: a diff from seq %d, but the answer held is at %d", m.From, t.seq)
		}
		before := cloneResult(t.answer)
		if err := m.Diff.Apply(t.answer); err != nil {
			return nil, err
		}
		t.seq = m.Seq
		return &Update{Answer: t.answer, Before: before, Diff: m.Diff, Seq: m.Seq}, nil
	case "error":
		if m.Error != nil {
			return nil, m.Error
		}
		return nil, errors.New("client: the server ended the subscription")
	}
	return nil, nil
}

// cloneResult copies an answer. Its rows are shared: Apply never modifies
// an answer's rows, it replaces the lists with new ones.
func cloneResult(r *exec.TopologyResult) *exec.TopologyResult {
	c := *r
	return &c
}

// LiveConn is one WebSocket connection to a server's live subscriptions.
// Subscribe, Unsubscribe and Ping may be called from any goroutine; Next
// from one at a time.
type LiveConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex // serialises writes, as gorilla/websocket requires
	url  string
	read func() (*Message, error)
}

// maxLiveMessage bounds a server message the client reads (a full answer
// of the server's element limit fits many times over).
const maxLiveMessage = 256 << 20

// Live opens a connection to the server's live subscriptions, with the
// client's key.
func (c *Client) Live(ctx context.Context) (*LiveConn, error) {
	u := *c.base
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path += SubscribePath
	h := http.Header{}
	if c.key != "" {
		h.Set("X-API-Key", c.key)
	}
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, Proxy: http.ProxyFromEnvironment}
	if t, ok := c.hc.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		d.TLSClientConfig = t.TLSClientConfig
	}
	ws, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			body := make([]byte, 64<<10)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			return nil, decodeError(resp.StatusCode, body[:n])
		}
		return nil, &ConnError{URL: c.base.String(), Err: err}
	}
	ws.SetReadLimit(maxLiveMessage)
	lc := &LiveConn{ws: ws, url: c.base.String()}
	return lc, nil
}

// Subscribe subscribes to a query under an id; with resume, from the
// answer at that seq (the first message is then a diff from it).
func (lc *LiveConn) Subscribe(id, query string, resume *Seq) error {
	msg := struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Query string `json:"query"`
		Seq   *Seq   `json:"seq,omitempty"`
	}{"subscribe", id, query, resume}
	return lc.write(msg)
}

// Unsubscribe ends a subscription; the server confirms with an
// "unsubscribed" message.
func (lc *LiveConn) Unsubscribe(id string) error {
	return lc.write(map[string]string{"type": "unsubscribe", "id": id})
}

// Ping asks for a pong, which comes after every message the server had
// ready.
func (lc *LiveConn) Ping(id string) error {
	return lc.write(map[string]string{"type": "ping", "id": id})
}

func (lc *LiveConn) write(v any) error {
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	lc.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := lc.ws.WriteJSON(v); err != nil {
		return &ConnError{URL: lc.url, Err: err}
	}
	return nil
}

// Next reads the next server message. It returns when one comes, the
// connection fails or closes (a *CloseError says the server's code and
// reason), or ctx is done (which closes the connection).
func (lc *LiveConn) Next(ctx context.Context) (*Message, error) {
	stop := context.AfterFunc(ctx, func() { lc.ws.Close() })
	defer stop()
	_, b, err := lc.ws.ReadMessage()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &CloseError{Code: ce.Code, Reason: ce.Text}
		}
		return nil, &ConnError{URL: lc.url, Err: err}
	}
	return DecodeMessage(b)
}

// Close closes the connection with a normal close frame.
func (lc *LiveConn) Close() error {
	lc.wmu.Lock()
	lc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	lc.wmu.Unlock()
	return lc.ws.Close()
}

// CloseError is the server closing the connection: its close code and
// reason (docs/websocket.md lists them).
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("the server closed the connection (%d)", e.Code)
	}
	return fmt.Sprintf("the server closed the connection (%d): %s", e.Code, e.Reason)
}

// resumable reports whether a subscription can go on after err on a new
// connection: the connection broke, or the server closed it for reasons a
// client recovers from (shutting down, too far behind, no pong).
func resumable(err error) bool {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code == websocket.CloseGoingAway || ce.Code == 4001 || ce.Code == 4002 || ce.Code == websocket.CloseAbnormalClosure
	}
	var conn *ConnError
	return errors.As(err, &conn)
}

// Watch follows one query on a server: its full answer, then an update for
// every diff. When the connection drops it reconnects and resumes from the
// answer it holds, so a watch survives a server restart. It is used by one
// goroutine.
type Watch struct {
	c       *Client
	query   string
	conn    *LiveConn
	tracker Tracker
	// Retry bounds the attempts to reconnect after a drop, a second apart
	// (DefaultWatchRetries when zero).
	Retry int
}

// DefaultWatchRetries is how many times a Watch tries to reconnect.
const DefaultWatchRetries = 30

// Watch subscribes to a query. A query the server refuses (it does not
// parse, cannot be followed live) fails here, with its position.
func (c *Client) Watch(ctx context.Context, query string) (*Watch, error) {
	w := &Watch{c: c, query: query}
	if err := w.connect(ctx, nil); err != nil {
		return nil, err
	}
	return w, nil
}

const watchID = "w"

func (w *Watch) connect(ctx context.Context, resume *Seq) error {
	conn, err := w.c.Live(ctx)
	if err != nil {
		return err
	}
	if err := conn.Subscribe(watchID, w.query, resume); err != nil {
		conn.Close()
		return err
	}
	w.conn = conn
	return nil
}

// Next waits for the next change of the answer: the first full answer,
// then one update per diff. It returns the server's error that ended the
// subscription (as an *api.Error), ctx's error, or the last connection
// error once reconnecting has failed.
func (w *Watch) Next(ctx context.Context) (*Update, error) {
	for {
		m, err := w.conn.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || !resumable(err) {
				return nil, err
			}
			if err := w.reconnect(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if m.ID != watchID {
			continue
		}
		u, err := w.tracker.Take(m)
		if err != nil || u != nil {
			return u, err
		}
	}
}

// reconnect opens a new connection and resumes from the answer held.
func (w *Watch) reconnect(ctx context.Context, cause error) error {
	w.conn.ws.Close()
	tries := w.Retry
	if tries <= 0 {
		tries = DefaultWatchRetries
	}
	var resume *Seq
	if s := w.tracker.Seq(); s != 0 {
		resume = &s
	}
	for i := 0; i < tries; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if err := w.connect(ctx, resume); err == nil {
			return nil
		} else if !resumable(err) && !isUnavailable(err) {
			return err
		}
	}
	return fmt.Errorf("%w; reconnecting failed %d times", cause, tries)
}

func isUnavailable(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Class == api.ClassUnavailable
}

// Close ends the watch and its connection.
func (w *Watch) Close() error {
	if w.conn == nil {
		return nil
	}
	w.conn.Unsubscribe(watchID)
	return w.conn.Close()
}

// String names the query watched.
func (w *Watch) String() string { return strings.TrimSpace(w.query) }
