package live

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// Protocol is the WebSocket subprotocol of docs/websocket.md. A client
// that offers it gets it selected; one that offers none is served the
// same. Browsers, which cannot set headers on a WebSocket, offer it beside
// their API key as "tetra.key.<key>" (api.WebSocketKeyProtocol), which the
// API reads and the upgrader never selects.
const Protocol = "tetra.live.v1"

// Store is what the hub needs of the topology store: reads at a time and
// the change feed. graphstore.Store implementations satisfy it.
type Store interface {
	Snapshot(t time.Time) (graphstore.Snapshot, error)
	Subscribe(from time.Time) (graphstore.Feed, error)
	LastCommit() time.Time
}

// Config configures a hub.
type Config struct {
	// Engine runs the queries; its element limit and timeout apply to
	// every evaluation.
	Engine *exec.Engine
	// Store is the store the engine reads, for the change feed.
	Store Store
	// Logger receives connection and feed problems (slog.Default when nil).
	Logger *slog.Logger
	// Registerer receives the hub's metrics; none are registered when nil.
	Registerer prometheus.Registerer
	Limits     Limits
	// CheckOrigin decides whether a browser page from another origin may
	// connect (gorilla's default when nil: only the same origin).
	CheckOrigin func(r *http.Request) bool
}

// Limits bound what clients can make the hub hold or do. A zero field takes
// its default.
type Limits struct {
	// MaxSubscriptionsPerConn bounds one connection's subscriptions (100).
	MaxSubscriptionsPerConn int
	// MaxSubscriptionsPerKey bounds an API key's subscriptions over all its
	// connections, unless the session says otherwise (1,000).
	MaxSubscriptionsPerKey int
	// MaxMessageBytes bounds a client message; a bigger one closes the
	// connection with 1009 (128 KiB, room for the longest query).
	MaxMessageBytes int64
	// PingInterval is how often the server pings (30 s).
	PingInterval time.Duration
	// PongTimeout closes a connection the server has heard nothing from,
	// not even a pong, for this long (60 s).
	PongTimeout time.Duration
	// WriteTimeout closes a connection that accepts no data for this long
	// while a message waits (10 s).
	WriteTimeout time.Duration
	// MaxLag closes a connection whose oldest undelivered change has
	// waited this long: the client keeps up with no coalescing (30 s).
	MaxLag time.Duration
	// Evaluators bounds the evaluations running at once (GOMAXPROCS).
	Evaluators int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxSubscriptionsPerConn, 100)
	def(&l.MaxSubscriptionsPerKey, 1000)
	def(&l.Evaluators, runtime.GOMAXPROCS(0))
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 128 << 10
	}
	defDur(&l.PingInterval, 30*time.Second)
	defDur(&l.PongTimeout, 60*time.Second)
	defDur(&l.WriteTimeout, 10*time.Second)
	defDur(&l.MaxLag, 30*time.Second)
	return l
}

// Session is an authenticated client as the server established it.
type Session struct {
	// KeyID names the API key; subscriptions are counted per key ("" is
	// one anonymous key, as when the server checks no keys).
	KeyID string
	// Scope, when not nil, confines every answer and diff of the session
	// (lang.ParseFilter of the key's scope).
	Scope lang.Expr
	// MaxSubscriptions overrides Limits.MaxSubscriptionsPerKey for this
	// key when positive.
	MaxSubscriptions int
	// Acquire, when set, counts one more subscription of the key against
	// its limit and returns what releases it (the API server's count,
	// api.Principal.AcquireSubscription); the hub then counts none itself.
	Acquire func() (release func(), err error)
}

// SessionOf is the session of a request the API server authorized: the
// principal's key, scope and subscription count. A nil principal (no
// server in front) is an anonymous session with no scope.
func SessionOf(p *api.Principal) Session {
	if p == nil {
		return Session{}
	}
	return Session{KeyID: p.KeyID, Scope: p.Scope, MaxSubscriptions: p.MaxSubscriptions, Acquire: p.AcquireSubscription}
}

// Route is where the API server serves live subscriptions.
const Route = "GET /api/subscribe"

// Handler serves the protocol to requests the API server authorized, with
// the session of their principal.
func (h *Hub) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeWS(w, r, SessionOf(api.PrincipalFrom(r.Context())))
	})
}

// Mount serves the hub at Route on srv, for keys with the read role, and
// closes its connections with 1001 when srv drains. Register the hub's
// metrics in srv.Registry() (Config.Registerer) so /metrics shows them.
func (h *Hub) Mount(srv *api.Server) {
	srv.HandleStream(Route, api.RoleRead, h.Handler())
	srv.OnShutdown(func(ctx context.Context) {
		if err := h.Close(ctx); err != nil {
			h.log.Warn("live: closing subscriptions", "err", err)
		}
	})
}

// Hub follows the store's change feed and keeps every subscribed query's
// answer current. It is safe for concurrent use.
//
// Goroutines: one reads the feed; one dispatcher owns the views (one per
// distinct query and scope), the index of what each read, and the commit
// log evaluations still need; evaluations run on up to Limits.Evaluators
// goroutines of their own; each WebSocket connection has a reader and a
// writer. The dispatcher never blocks on a subscriber: it publishes a new
// answer by swapping a pointer and waking the subscribers, which encode and
// send on their own goroutines.
type Hub struct {
	engine   *exec.Engine
	store    Store
	log      *slog.Logger
	lim      Limits
	metrics  *metrics
	upgrader websocket.Upgrader

	ctx    context.Context // cancelled by Close: stops the feed and evaluations
	cancel context.CancelFunc

	commits chan commitMsg   // feed reader → dispatcher
	done    chan *evaluation // evaluations → dispatcher
	ops     chan func()      // anyone → dispatcher: run on the dispatcher
	stopped chan struct{}    // closed when the dispatcher has returned
	wg      sync.WaitGroup   // feed reader, dispatcher, tasks
	tasks   atomic.Int64     // resumes and one-shot queries running
	pos     atomic.Int64     // time of the last commit the dispatcher took (ns)
	nextID  atomic.Uint64    // in-process subscription ids
	closing atomic.Bool
	// noMaintain runs every query again on each change that hits it, even
	// those maintained in place: tests compare the two.
	noMaintain bool

	mu    sync.Mutex     // guards keys and conns; never held while blocking
	keys  map[string]int // subscriptions per key, for sessions without Acquire
	conns map[*conn]struct{}

	d dispatcher // owned by the dispatcher goroutine
}

// New starts a hub at the store's latest commit.
func New(cfg Config) (*Hub, error) {
	if cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("live: a hub needs an engine and a store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Hub{
		engine: cfg.Engine, store: cfg.Store, log: cfg.Logger, lim: cfg.Limits.withDefaults(),
		commits: make(chan commitMsg), done: make(chan *evaluation), ops: make(chan func()),
		stopped: make(chan struct{}), keys: map[string]int{}, conns: map[*conn]struct{}{},
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	h.upgrader = websocket.Upgrader{CheckOrigin: cfg.CheckOrigin, Error: h.upgradeError, Subprotocols: []string{Protocol}}
	from := cfg.Store.LastCommit()
	feed, err := cfg.Store.Subscribe(from)
	if err != nil {
		return nil, err
	}
	h.pos.Store(nanos(from))
	h.d = newDispatcher(h, nanos(from))
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.wg.Add(2)
	go h.readFeed(feed)
	go h.d.run()
	return h, nil
}

// nanos is a commit time as the hub counts it; the zero time (an empty
// store) is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// commitMsg is a commit from the feed, or (resync) the news that the feed
// was reopened at Time and every answer must be evaluated again.
type commitMsg struct {
	ev       *graphstore.CommitEvent
	observed time.Time // wall time the hub read it
	resync   bool
}

// readFeed hands every commit to the dispatcher, in order. A feed that
// fails (its position fell behind the retention horizon) is reopened at
// the latest commit, and every view is evaluated again there.
func (h *Hub) readFeed(feed graphstore.Feed) {
	defer h.wg.Done()
	defer func() { feed.Close() }()
	for {
		ev, err := feed.Next(h.ctx)
		msg := commitMsg{ev: ev, observed: time.Now()}
		if err != nil {
			if h.ctx.Err() != nil || errors.Is(err, graphstore.ErrClosed) {
				return
			}
			h.log.Warn("live: the change feed failed; reopening it at the latest commit", "err", err)
			feed.Close()
			if feed, err = h.reopenFeed(); err != nil {
				return
			}
			last := h.store.LastCommit()
			msg = commitMsg{ev: &graphstore.CommitEvent{Time: last}, observed: time.Now(), resync: true}
		}
		select {
		case h.commits <- msg:
		case <-h.ctx.Done():
			return
		}
	}
}

// reopenFeed subscribes at the latest commit, retrying once a second until
// it works or the hub closes.
func (h *Hub) reopenFeed() (graphstore.Feed, error) {
	for {
		feed, err := h.store.Subscribe(h.store.LastCommit())
		if err == nil {
			return feed, nil
		}
		h.log.Warn("live: reopening the change feed", "err", err)
		select {
		case <-time.After(time.Second):
		case <-h.ctx.Done():
			return nil, h.ctx.Err()
		}
	}
}

// task runs f on a goroutine of its own that Close waits for and sync
// counts.
func (h *Hub) task(f func()) bool {
	// Under h.mu, against Close: a task starts before Close waits for the
	// tasks, or not at all.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.wg.Add(1)
	h.tasks.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.tasks.Add(-1)
		f()
	}()
	return true
}

// do runs f on the dispatcher and waits for it to return.
func (h *Hub) do(f func()) error {
	ran := make(chan struct{})
	select {
	case h.ops <- func() { f(); close(ran) }:
	case <-h.stopped:
		return ErrClosed
	}
	select {
	case <-ran:
		return nil
	case <-h.stopped:
		return ErrClosed
	}
}

// sync waits until the dispatcher has taken every commit up to the store's
// latest and no evaluation is queued or running: every subscriber has then
// been woken for every answer up to that commit. Tests use it as a
// barrier.
func (h *Hub) sync(ctx context.Context) error {
	target := nanos(h.store.LastCommit())
	for {
		idle := false
		if err := h.do(func() { idle = h.d.pos >= target && h.d.idle() && h.tasks.Load() == 0 }); err != nil {
			return err
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Close closes every connection with 1001 (going away), ends every
// subscription and stops following the store. It waits for the
// connections to finish closing until ctx is done.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closing.Swap(true) {
		h.mu.Unlock()
		return nil
	}
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(api.CloseGoingAway, "the server is shutting down; reconnect and resume with your last seq")
	}
	var err error
	for _, c := range conns {
		select {
		case <-c.finished:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	h.cancel()
	h.wg.Wait()
	return err
}

// acquire reserves a place for one more subscription under the session's
// key's limit and returns what gives it back: the server's count when the
// session has one (Session.Acquire), else the hub's.
func (h *Hub) acquire(s Session) (release func(), err error) {
	if s.Acquire != nil {
		return s.Acquire()
	}
	max := s.MaxSubscriptions
	if max <= 0 {
		max = h.lim.MaxSubscriptionsPerKey
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys[s.KeyID] >= max {
		return nil, tooMany("this key holds %d live subscriptions, its limit; unsubscribe from one first", max)
	}
	h.keys[s.KeyID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.keys[s.KeyID]--; h.keys[s.KeyID] <= 0 {
				delete(h.keys, s.KeyID)
			}
		})
	}, nil
}
