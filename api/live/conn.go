package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/tetrahq/tetra/api"
)

// Close codes the server ends a connection with, beside the API's for
// classes (api.Class.CloseCode: 1001 going away when the server shuts
// down, 1009 for a message over the size limit, 1011 for an internal
// error). These two are conditions of a connection rather than error
// classes, so they sit below the API's 4000 + HTTP status range. The close
// text says more.
const (
	// CloseTooSlow: the client stayed too far behind (a change waited
	// longer than Limits.MaxLag to be sent). Reconnect and resume.
	CloseTooSlow = 4001
	// CloseNoPong: nothing, not even a pong, came from the client within
	// Limits.PongTimeout.
	CloseNoPong = 4002
)

// closeWait bounds how long a close frame may take to write and how long
// the server waits for the client's close frame in reply.
const closeWait = time.Second

// ServeWS upgrades the request to a WebSocket connection and serves the
// subscription protocol (docs/websocket.md) on it for an authenticated
// session, until either side closes it or the hub does. It returns when
// the connection is closed.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, sess Session) {
	if h.closing.Load() {
		writeHTTPError(w, errorOf("", ErrClosed))
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the request
	}
	c := &conn{
		h: h, ws: ws, sess: sess, wake: make(chan struct{}, 1), ctl: make(chan outgoing, 16),
		closing: make(chan struct{}), writerDone: make(chan struct{}), finished: make(chan struct{}),
		subs: map[string]*Subscription{},
	}
	if !h.addConn(c) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(api.CloseGoingAway, "the server is shutting down"), time.Now().Add(closeWait))
		ws.Close()
		return
	}
	go c.writeLoop()
	c.readLoop()
	c.close(websocket.CloseNormalClosure, "")
	<-c.writerDone
	ws.Close()
	c.endSubscriptions()
	h.removeConn(c)
	close(c.finished)
}

func (h *Hub) addConn(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.conns[c] = struct{}{}
	h.metrics.connections.Inc()
	return true
}

func (h *Hub) removeConn(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	h.metrics.connections.Dec()
}

// conn is one WebSocket connection: a reader (the ServeWS goroutine) that
// handles client messages, and a writer that alone writes messages to the
// socket, as gorilla/websocket requires.
type conn struct {
	h    *Hub
	ws   *websocket.Conn
	sess Session
	wake chan struct{} // shared by the connection's subscriptions
	ctl  chan outgoing // replies to client messages, for the writer

	closeOn    sync.Once
	closing    chan struct{} // closed by close: the writer sends the close frame and stops
	code       int
	text       string
	writerDone chan struct{}
	finished   chan struct{} // closed when the connection is fully closed

	mu   sync.Mutex
	subs map[string]*Subscription // by client id; nil while a subscribe is in progress
}

// outgoing is a reply for the writer to send.
type outgoing struct {
	id string
	m  *Message
}

// close starts closing the connection with a code and a reason; the first
// call decides them.
func (c *conn) close(code int, text string) {
	c.closeOn.Do(func() {
		c.code, c.text = code, text
		c.h.metrics.closes.WithLabelValues(closeReason(code)).Inc()
		if code != websocket.CloseNormalClosure {
			c.h.log.Debug("live: closing a connection", "code", code, "reason", text)
		}
		close(c.closing)
	})
}

func closeReason(code int) string {
	switch code {
	case websocket.CloseNormalClosure:
		return "normal"
	case api.CloseGoingAway:
		return "shutdown"
	case api.CloseTooBig:
		return "too_big"
	case CloseTooSlow:
		return "too_slow"
	case CloseNoPong:
		return "no_pong"
	}
	return "error"
}

// readLoop reads client messages until the connection ends. Any frame,
// pongs included, proves the client alive.
func (c *conn) readLoop() {
	alive := func() { c.ws.SetReadDeadline(time.Now().Add(c.h.lim.PongTimeout)) }
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		alive()
		data, err := io.ReadAll(io.LimitReader(r, c.h.lim.MaxMessageBytes+1))
		if err != nil {
			c.readFailed(err)
			return
		}
		if int64(len(data)) > c.h.lim.MaxMessageBytes {
			c.close(api.CloseTooBig, fmt.Sprintf("a message may hold at most %d bytes", c.h.lim.MaxMessageBytes))
			return
		}
		if typ != websocket.TextMessage {
			c.replyError("", badRequest("binary messages are not part of the protocol; send JSON text messages"))
			continue
		}
		c.handle(data)
	}
}

// readFailed closes the connection after a failed read: a client that
// went silent past the pong timeout is told so.
func (c *conn) readFailed(err error) {
	var ne net.Error
	select {
	case <-c.closing:
		return
	default:
	}
	if errors.As(err, &ne) && ne.Timeout() {
		c.close(CloseNoPong, fmt.Sprintf("nothing, not even a pong, came from the client for %s", c.h.lim.PongTimeout))
		return
	}
	c.close(websocket.CloseNormalClosure, "")
}

// handle serves one client message.
func (c *conn) handle(data []byte) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		c.replyError("", badRequest(`a message is a JSON object such as {"type":"subscribe","id":"s1","query":"type = \"service\""}: %v`, err))
		return
	}
	switch m.Type {
	case "subscribe":
		c.subscribe(m)
	case "unsubscribe":
		c.unsubscribe(m.ID)
	case "ping":
		c.reply(outgoing{id: m.ID, m: &Message{Type: TypePong}})
	default:
		c.replyError(m.ID, badRequest("unknown message type %q; the types are subscribe, unsubscribe and ping", m.Type))
	}
}

// maxIDBytes bounds a client's subscription id.
const maxIDBytes = 128

func (c *conn) subscribe(m clientMessage) {
	if m.ID == "" || len(m.ID) > maxIDBytes {
		c.replyError(m.ID, badRequest("a subscription needs an id of 1 to %d bytes, chosen by the client", maxIDBytes))
		return
	}
	if err := c.reserve(m.ID); err != nil {
		c.replyError(m.ID, err)
		return
	}
	s, err := c.h.Subscribe(c.h.ctx, Request{Query: m.Query, Resume: m.Seq, Wake: c.wake}, c.sess)
	c.mu.Lock()
	if err != nil {
		delete(c.subs, m.ID)
	} else {
		c.subs[m.ID] = s
	}
	c.mu.Unlock()
	if err != nil {
		c.reply(outgoing{id: m.ID, m: &Message{Type: TypeError, Error: errorOf(m.Query, err)}})
		return
	}
	s.notify()
}

// reserve takes an id and a place under the connection's limit.
func (c *conn) reserve(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.subs[id]; dup {
		return badRequest("subscription id %q is in use on this connection", id)
	}
	if len(c.subs) >= c.h.lim.MaxSubscriptionsPerConn {
		return tooMany("this connection holds %d subscriptions, its limit; unsubscribe from one first", c.h.lim.MaxSubscriptionsPerConn)
	}
	c.subs[id] = nil
	return nil
}

func (c *conn) unsubscribe(id string) {
	c.mu.Lock()
	s, ok := c.subs[id]
	if ok && s != nil {
		delete(c.subs, id)
	}
	c.mu.Unlock()
	if !ok || s == nil {
		c.replyError(id, badRequest("no subscription %q on this connection", id))
		return
	}
	s.Close()
	c.reply(outgoing{id: id, m: &Message{Type: TypeUnsubscribed}})
}

func (c *conn) replyError(id string, err error) {
	c.reply(outgoing{id: id, m: &Message{Type: TypeError, Error: errorOf("", err)}})
}

// reply hands a message to the writer; it waits while the writer is
// behind, which stops reading from a client that does not read.
func (c *conn) reply(o outgoing) {
	select {
	case c.ctl <- o:
	case <-c.closing:
	}
}

// endSubscriptions closes every subscription of a closed connection.
func (c *conn) endSubscriptions() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*Subscription{}
	c.mu.Unlock()
	for _, s := range subs {
		if s != nil {
			s.Close()
		}
	}
}

// writeLoop is the only goroutine that writes to the socket. It sends
// what subscriptions have ready when woken, replies (after what was ready:
// a pong is a barrier), pings, and at the end the close frame.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.h.lim.PingInterval)
	defer ping.Stop()
	for {
		var err error
		select {
		case <-c.wake:
			err = c.flush()
		case o := <-c.ctl:
			if err = c.flush(); err == nil {
				err = c.send(o.id, o.m)
			}
		case <-ping.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.lim.WriteTimeout))
		case <-c.closing:
			c.sendClose()
			return
		}
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// flush sends every message the subscriptions have ready, in id order,
// and closes the connection when one has waited longer than MaxLag.
func (c *conn) flush() error {
	c.mu.Lock()
	ids := make([]string, 0, len(c.subs))
	for id, s := range c.subs {
		if s != nil {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		c.mu.Lock()
		s := c.subs[id]
		c.mu.Unlock()
		if s == nil {
			continue
		}
		if err := c.flushOne(id, s); err != nil {
			return err
		}
	}
	return nil
}

// flushOne sends what one subscription has ready. The lag is checked
// before each message: a send that blocked long is what makes it grow.
func (c *conn) flushOne(id string, s *Subscription) error {
	for {
		if lag := s.lagging(time.Now()); lag > c.h.lim.MaxLag {
			return &slowError{lag: lag, limit: c.h.lim.MaxLag}
		}
		m := s.Take()
		if m == nil {
			break
		}
		if err := c.send(id, m); err != nil {
			return err
		}
	}
	if s.Ended() {
		c.mu.Lock()
		if c.subs[id] == s {
			delete(c.subs, id)
		}
		c.mu.Unlock()
		s.Close()
	}
	return nil
}

// send writes one message; a client that accepts nothing for WriteTimeout
// is gone or hopelessly behind.
func (c *conn) send(id string, m *Message) error {
	frame, err := m.AppendJSON(nil, id)
	if err != nil {
		return err
	}
	c.ws.SetWriteDeadline(time.Now().Add(c.h.lim.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		return err
	}
	c.h.metrics.sent(m)
	return nil
}

// slowError is a client that stayed too far behind.
type slowError struct{ lag, limit time.Duration }

func (e *slowError) Error() string {
	return fmt.Sprintf("too far behind: a change waited %s (limit %s); reconnect and resume",
		e.lag.Round(time.Millisecond), e.limit)
}

// maxCloseText is the most a close frame's reason can hold: a control
// frame carries 125 bytes, two of them the code.
const maxCloseText = 123

// closeText cuts a reason to fit a close frame, at a character boundary.
func closeText(s string) string {
	if len(s) <= maxCloseText {
		return s
	}
	s = s[:maxCloseText]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// writeFailed ends the connection after a failed write. A slow client is
// told why; a socket that failed cannot be told anything.
func (c *conn) writeFailed(err error) {
	var slow *slowError
	if errors.As(err, &slow) {
		c.close(CloseTooSlow, err.Error())
		c.sendClose()
		return
	}
	code := api.CloseInternal
	if errors.Is(err, websocket.ErrCloseSent) {
		code = websocket.CloseNormalClosure
	}
	c.close(code, "write failed")
	c.ws.SetReadDeadline(time.Now()) // stop the reader
}

// sendClose writes the close frame and gives the client closeWait to
// answer with its own before the reader stops.
func (c *conn) sendClose() {
	if c.code != websocket.CloseNormalClosure || c.text != "" {
		msg := websocket.FormatCloseMessage(c.code, closeText(c.text))
		c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
	}
	c.ws.SetReadDeadline(time.Now().Add(closeWait))
}

// upgradeError answers a request that cannot become a WebSocket connection
// in the API's error shape.
func (h *Hub) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	class := api.ClassBadRequest
	if status >= 500 {
		class = api.ClassInternal
	}
	writeHTTPError(w, &api.Error{Class: class, Message: reason.Error()})
}
