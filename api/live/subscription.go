package live

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// Request asks for a subscription.
type Request struct {
	// Query is a TQL topology statement without CHANGES. With AT it gets
	// one result and ends.
	Query string
	// Resume, when not nil, is the seq of the answer the client holds: the
	// first message is then a diff from it (empty when nothing changed),
	// or a full result with Resync set when the server cannot bring that
	// answer up to date.
	Resume *Seq
	// Wake, when not nil, is signalled (without blocking; give it room for
	// one) whenever a message of the subscription may be ready; one
	// consumer of many subscriptions passes the same channel to all and
	// calls Take on each when woken. When nil, use Next.
	Wake chan struct{}
}

// Subscription is one client's subscription to a query. Take and Next are
// used by one goroutine at a time; Close may be called from any.
type Subscription struct {
	h       *Hub
	sess    Session
	view    *view // nil for a one-shot (AT) subscription; set once attached
	wake    chan struct{}
	lag     atomic.Int64 // when the oldest answer not yet taken was published (unix ns), 0 when none
	rel     func()       // gives back the place under the key's limit
	relOn   sync.Once
	closeOn sync.Once

	mu       sync.Mutex // guards the fields below
	final    *Message   // the last message, once known (an error, a one-shot result)
	resuming bool       // the answer to resume from is being evaluated
	handoff  *handoff   // a finished resume for the consumer to take
	ended    bool       // the last message was taken, or Close was called

	// Owned by the consumer goroutine (Take).
	sent    *version // the answer the client holds; nil before the first message
	seq     int64    // the seq of the last message the client got
	confirm bool     // send the next diff even if empty: it confirms a resume
	resync  string   // why the next full result replaces the client's answer
}

// handoff is what a resume found: the answer the client holds (base), or
// why it must take a full result instead.
type handoff struct {
	base   *version
	resync string
}

// Subscribe subscribes to a query under a session. A query that does not
// parse, cannot be followed live, or goes over a limit fails here with a
// positioned error where one applies; an error found when the query first
// runs (the element limit, a timeout) arrives as its first message.
func (h *Hub) Subscribe(ctx context.Context, req Request, sess Session) (*Subscription, error) {
	if h.closing.Load() {
		return nil, ErrClosed
	}
	stmt, err := lang.Parse(req.Query)
	if err != nil {
		return nil, err
	}
	ts, err := liveStatement(stmt)
	if err != nil {
		return nil, err
	}
	if ts.At == nil {
		if err := validate(ts, sess.Scope); err != nil {
			return nil, err
		}
	}
	rel, err := h.acquire(sess)
	if err != nil {
		return nil, err
	}
	s := &Subscription{h: h, sess: sess, wake: req.Wake, rel: rel}
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	h.metrics.subscriptions.Inc()
	if ts.At != nil {
		if !h.task(func() { h.once(s, req.Query, ts) }) {
			s.release()
			return nil, ErrClosed
		}
		return s, nil
	}
	s.resuming = req.Resume != nil
	key := lang.Format(ts) + "\x00" + lang.Format(sess.Scope)
	match, err := h.matcher(ts, sess.Scope)
	if err != nil {
		s.release()
		return nil, err
	}
	if err := h.do(func() { h.d.attach(s, key, ts, sess.Scope, match) }); err != nil {
		s.release()
		return nil, err
	}
	if req.Resume != nil {
		seq := int64(*req.Resume)
		if !h.task(func() { h.resume(s, seq) }) {
			s.Close()
			return nil, ErrClosed
		}
	}
	return s, nil
}

// matcher returns the compiled filter of a query whose answer can be
// maintained in place, nil for one that must run again on each change that
// hits what it read.
func (h *Hub) matcher(ts *lang.TopologyStmt, scope lang.Expr) (*exec.Matcher, error) {
	if h.noMaintain {
		return nil, nil
	}
	m, ok, err := h.engine.Matcher(ts, exec.QueryOptions{Scope: scope})
	if err != nil || !ok {
		return nil, err
	}
	return m, nil
}

// liveStatement returns the topology statement a subscription follows, or
// why a statement cannot be followed.
func liveStatement(stmt lang.Statement) (*lang.TopologyStmt, error) {
	ts, ok := stmt.(*lang.TopologyStmt)
	if !ok {
		return nil, &notLiveError{span: stmt.Span(), msg: "only topology queries can be subscribed to for now; " +
			"METRICS, EVENTS and TRACES statements run once, with POST /api/query"}
	}
	if ts.Changes != nil {
		return nil, &notLiveError{span: ts.Changes.Src, msg: "CHANGES compares two fixed times and cannot be followed live; " +
			"subscribe to the query without CHANGES and the diffs are its changes"}
	}
	return ts, nil
}

// validate plans the statement as the engine will, so an error about part
// of the query is reported now, positioned in this subscriber's text,
// rather than when the shared view first runs.
func validate(ts *lang.TopologyStmt, scope lang.Expr) error {
	_, err := planner.Build(ts, noEstimates{}, planner.Options{Scope: scope})
	return err
}

// noEstimates is a planner catalog for validation: estimates only choose
// between plans.
type noEstimates struct{}

func (noEstimates) Estimate(planner.Field, string) (int, error) { return 1, nil }
func (noEstimates) Total() (int, error)                         { return 1, nil }

// once runs a time-travel query: one result, and the subscription ends.
func (h *Hub) once(s *Subscription, src string, ts *lang.TopologyStmt) {
	res, err := h.engine.RunWith(h.ctx, ts, exec.QueryOptions{Scope: s.sess.Scope})
	h.metrics.evaluations.WithLabelValues("once").Inc()
	if err != nil {
		s.fail(errorOf(src, err))
		return
	}
	s.finish(&Message{Type: TypeResult, Seq: Seq(nanos(res.Topology.EvaluatedAt)), Result: res.Topology, Final: true})
}

// resume finds the answer at seq for a client that holds it: the current
// answer when seq is its seq, else the query run at that time (the store
// keeps history for its retention period).
func (h *Hub) resume(s *Subscription, seq int64) {
	ho := &handoff{}
	cur := s.view.cur.Load()
	switch {
	case seq > h.pos.Load():
		ho.resync = fmt.Sprintf("seq %d is ahead of the latest commit this server has seen", seq)
	case cur != nil && cur.seq == seq:
		ho.base = cur
	default:
		h.metrics.evaluations.WithLabelValues("resume").Inc()
		res, err := h.engine.RunWith(h.ctx, s.view.stmt, exec.QueryOptions{Now: time.Unix(0, seq), Scope: s.view.scope})
		if err != nil {
			ho.resync = "cannot resume from seq " + Seq(seq).String() + ": " + err.Error()
		} else {
			ho.base = newVersion(seq, 0, res.Topology, nil, time.Time{})
		}
	}
	s.mu.Lock()
	s.resuming, s.handoff = false, ho
	s.mu.Unlock()
	s.notify()
}

// notify says a new answer (or a last message) is ready.
func (s *Subscription) notify() {
	s.lag.CompareAndSwap(0, time.Now().UnixNano())
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lagging returns how long the oldest answer not yet taken has waited.
func (s *Subscription) lagging(now time.Time) time.Duration {
	if t := s.lag.Load(); t != 0 {
		return now.Sub(time.Unix(0, t))
	}
	return 0
}

// fail ends the subscription with an error as its last message.
func (s *Subscription) fail(b *api.Error) {
	s.finish(&Message{Type: TypeError, Error: b})
}

func (s *Subscription) finish(m *Message) {
	s.mu.Lock()
	if s.final == nil {
		s.final = m
	}
	s.mu.Unlock()
	s.release()
	s.notify()
}

// release gives back the subscription's place under its key's limit.
func (s *Subscription) release() {
	s.relOn.Do(func() {
		s.rel()
		s.h.metrics.subscriptions.Dec()
	})
}

// Take returns the next message if one is ready, without blocking: the
// first answer, or a diff from the answer the client holds to the current
// one. A client that takes slowly gets one diff that covers every change
// since its last message (coalesced), never a queue of them. After the last
// message it returns nil; Ended then reports true.
func (s *Subscription) Take() *Message {
	s.mu.Lock()
	switch {
	case s.ended:
		s.mu.Unlock()
		return nil
	case s.final != nil:
		m := s.final
		s.ended = true
		s.mu.Unlock()
		return m
	case s.resuming:
		s.mu.Unlock()
		return nil
	}
	if ho := s.handoff; ho != nil {
		s.handoff = nil
		s.sent, s.resync = ho.base, ho.resync
		if ho.base != nil {
			s.seq, s.confirm = ho.base.seq, true
		}
	}
	s.mu.Unlock()
	s.lag.Store(0) // before loading the answer: one published after this marks it again
	if s.view == nil {
		return nil
	}
	cur := s.view.cur.Load()
	if cur == nil {
		return nil
	}
	return s.next(cur)
}

// next is the message that brings the client from its answer to cur.
func (s *Subscription) next(cur *version) *Message {
	if s.sent == nil {
		m := &Message{Type: TypeResult, Seq: Seq(cur.seq), Result: cur.result, Resync: s.resync, body: cur.resultJSON}
		s.sent, s.seq, s.resync = cur, cur.seq, ""
		return m
	}
	if cur == s.sent && !s.confirm {
		return nil
	}
	d, body := cur.diff, cur.diffJSON
	if d == nil || cur.from != s.sent.seq {
		// Behind by more than one answer (or resuming): one diff from what
		// the client holds, whatever happened in between, shared with the
		// subscribers behind by as much.
		d, body = cur.diffFrom(s.sent)
	}
	s.sent = cur
	if d.Empty() && !s.confirm {
		return nil // changes that cancelled out: the client's answer is current
	}
	m := &Message{Type: TypeDiff, From: Seq(s.seq), Seq: Seq(cur.seq), Diff: d, body: body, observed: cur.observed}
	s.seq, s.confirm = cur.seq, false
	return m
}

// Ended reports whether the subscription's last message was taken or it
// was closed.
func (s *Subscription) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Next waits for the next message. It returns ErrEnded after the last one
// and ErrClosed when the hub closes. Do not use it with a shared Wake
// channel.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	for {
		if m := s.Take(); m != nil {
			return m, nil
		}
		if s.Ended() {
			return nil, ErrEnded
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.h.stopped:
			return nil, ErrClosed
		}
	}
}

// Close ends the subscription. It is safe to call more than once, from
// any goroutine.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.release()
	s.closeOn.Do(func() {
		if s.view != nil {
			s.h.do(func() { s.h.d.detach(s) })
		}
	})
}
