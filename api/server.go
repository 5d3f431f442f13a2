package api

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetrahq/tetra/exec"
)

// Limits bound what one request, one key and the whole server may use.
// The zero value of a field takes its default (DefaultLimits).
type Limits struct {
	// MaxBodyBytes bounds a request body (413 past it).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxResponseBytes bounds a query's JSON answer (422 past it).
	MaxResponseBytes int64 `yaml:"maxResponseBytes"`
	// QueryTimeout is a query's timeout when the request names none, and
	// the most a request may ask for.
	QueryTimeout time.Duration `yaml:"queryTimeout"`
	// MaxElements is a query's element limit when the request names none,
	// and the most a request may ask for.
	MaxElements int `yaml:"maxElements"`
	// MaxConnections bounds open connections; more wait to be accepted.
	MaxConnections int `yaml:"maxConnections"`
	// ReadHeaderTimeout cuts off a client that sends its headers slowly.
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `yaml:"readTimeout"`
	// IdleTimeout closes keep-alive connections that stay idle.
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// MaxConcurrentPerKey bounds the requests one key runs at once (429
	// past it); a key may set its own.
	MaxConcurrentPerKey int `yaml:"maxConcurrentPerKey"`
	// MaxSubscriptionsPerKey bounds a key's live subscriptions; a key may
	// set its own.
	MaxSubscriptionsPerKey int `yaml:"maxSubscriptionsPerKey"`
	// DrainTimeout bounds the graceful shutdown.
	DrainTimeout time.Duration `yaml:"drainTimeout"`
}

// DefaultLimits are the limits a server runs with unless configured.
var DefaultLimits = Limits{
	MaxBodyBytes:           1 << 20,
	MaxResponseBytes:       64 << 20,
	QueryTimeout:           exec.DefaultTimeout,
	MaxElements:            exec.DefaultMaxElements,
	MaxConnections:         1024,
	ReadHeaderTimeout:      5 * time.Second,
	ReadTimeout:            30 * time.Second,
	IdleTimeout:            2 * time.Minute,
	MaxConcurrentPerKey:    64,
	MaxSubscriptionsPerKey: 100,
	DrainTimeout:           20 * time.Second,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	fill := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	fillInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fillDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.MaxBodyBytes, d.MaxBodyBytes)
	fill(&l.MaxResponseBytes, d.MaxResponseBytes)
	fillDur(&l.QueryTimeout, d.QueryTimeout)
	fillInt(&l.MaxElements, d.MaxElements)
	fillInt(&l.MaxConnections, d.MaxConnections)
	fillDur(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	fillDur(&l.ReadTimeout, d.ReadTimeout)
	fillDur(&l.IdleTimeout, d.IdleTimeout)
	fillInt(&l.MaxConcurrentPerKey, d.MaxConcurrentPerKey)
	fillInt(&l.MaxSubscriptionsPerKey, d.MaxSubscriptionsPerKey)
	fillDur(&l.DrainTimeout, d.DrainTimeout)
	return l
}

// Config configures a server.
type Config struct {
	// Engine runs the queries.
	Engine *exec.Engine
	// Keys are the API keys; nil or empty means no key checks, which the
	// server allows only on a loopback address.
	Keys *KeyRing
	// Store reports the store's health and statistics (optional).
	Store StoreInfo
	Limits
	// Logger receives structured logs (slog.Default() when nil).
	Logger *slog.Logger
	// Version is the build's version, reported by /api/server/info.
	Version string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// StoreInfo is what the server asks of the store beyond queries: whether
// it is healthy, and statistics for /metrics. Implemented in cmd/tetra
// over the concrete store.
type StoreInfo interface {
	// Check returns an error when the store cannot serve (closed, or
	// damaged data found).
	Check() error
	// Stats returns the store's statistics.
	Stats() StoreStats
}

// StoreStats are the store's figures that /metrics exports.
type StoreStats struct {
	DiskBytes        uint64
	Compactions      int64
	CompactionDebt   uint64
	BlockCacheHits   int64
	BlockCacheMisses int64
	BlockCacheBytes  int64
	MemtableBytes    uint64
	ReadAmp          int
	LastCommit       time.Time
	Horizon          time.Time
	// HeldSince is the oldest time with data (GET /api/info); Retention
	// how long history is kept.
	HeldSince time.Time
	Retention time.Duration
}

// Server is Tetra's HTTP server: the routes of this package plus what
// other packages mount with Handle. Create it with New, mount, then Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	routes   []route
	metrics  *metrics
	usage    sync.Map // key id → *keyUsage
	hooks    []func(context.Context)
	corrupt  atomic.Pointer[string] // set once the store reported damaged data
	loopback atomic.Bool            // whether the listener is on a loopback address
	serving  atomic.Bool
	draining atomic.Bool
	started  time.Time

	handlerOnce sync.Once
	handler     http.Handler
	stmts       *stmtCache // POST /api/query's and /api/explain's statements by text
	encoded     *exec.EncodeCache
	ids         requestIDs
	// open and public are the callers without a key: everyone while the
	// server checks no keys, and a public route's caller. Shared by their
	// requests: a principal is never modified.
	open, public *Principal
}

// route is one mounted route, for the OpenAPI check.
type route struct {
	pattern string
	role    Role
	page    bool // a page of the web view (HandlePage), not API
}

// New returns a server with the API's own routes mounted.
func New(cfg Config) *Server {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), started: cfg.Now(), stmts: newStmtCache(),
		encoded: exec.NewEncodeCache(),
		open: &Principal{Role: RoleAdmin, MaxConcurrent: cfg.MaxConcurrentPerKey,
			MaxSubscriptions: cfg.MaxSubscriptionsPerKey, usage: openUsage},
		public: &Principal{Role: RolePublic, MaxConcurrent: cfg.MaxConcurrentPerKey, usage: openUsage}}
	s.metrics = newMetrics(s)
	s.ids.start()
	s.loopback.Store(true) // until Serve knows the address; tests serve on loopback
	s.routesOwn()
	return s
}

// Handle mounts handler at pattern (a net/http ServeMux pattern such as
// "POST /api/query" or "GET /api/subscribe") for keys whose role allows
// role. The handler finds the caller with PrincipalFrom. Mount before
// Serve; Handle is not safe to call concurrently with requests.
func (s *Server) Handle(pattern string, role Role, h http.Handler) {
	s.routes = append(s.routes, route{pattern: pattern, role: role})
	s.mux.Handle(pattern, s.authorize(role, true, h))
}

// HandleStream is Handle for a route whose requests become long-lived
// connections (WebSocket): they do not count against the key's concurrent
// requests while open. The server's connection limit bounds them, and
// the mounted component its own use (live subscriptions: the key's
// subscription limit).
func (s *Server) HandleStream(pattern string, role Role, h http.Handler) {
	s.routes = append(s.routes, route{pattern: pattern, role: role})
	s.mux.Handle(pattern, s.authorize(role, false, h))
}

// HandlePage mounts a public page route: the web view's HTML and assets.
// Pages are not API, so openapi.json does not describe them (see
// APIRoutes); the pattern must be a GET outside /api/ and the server's
// operational paths, and mounting anything else panics, as ServeMux does
// for a bad pattern: it is a programming error.
func (s *Server) HandlePage(pattern string, h http.Handler) {
	if !pageRoute(pattern) {
		panic("api: HandlePage(" + pattern + "): a page is a GET outside /api/, /healthz, /readyz and /metrics")
	}
	s.routes = append(s.routes, route{pattern: pattern, role: RolePublic, page: true})
	s.mux.Handle(pattern, s.authorize(RolePublic, true, h))
}

// HandleFunc is Handle for a function.
func (s *Server) HandleFunc(pattern string, role Role, h http.HandlerFunc) {
	s.Handle(pattern, role, h)
}

// OnShutdown registers a hook that runs when the server starts to drain,
// before the store closes: a mounted component closes its long-lived
// connections there (live subscriptions send their close frames). The
// hook should return once done or when ctx ends.
func (s *Server) OnShutdown(hook func(ctx context.Context)) { s.hooks = append(s.hooks, hook) }

// Registry is the server's Prometheus registry, for mounted components to
// register their own metrics in (no global registry is used).
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Routes returns the mounted routes' patterns, in the order mounted.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.pattern
	}
	return out
}

// APIRoutes returns the mounted API routes' patterns, in the order
// mounted: every route but the pages. openapi.json documents exactly these.
func (s *Server) APIRoutes() []string {
	var out []string
	for _, r := range s.routes {
		if !r.page {
			out = append(out, r.pattern)
		}
	}
	return out
}

// OpenAPI returns the server's OpenAPI 3 document (openapi.json), which
// GET /api/openapi.json serves. The caller must not modify it.
func OpenAPI() []byte { return openapiJSON }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Limits returns the limits in force.
func (s *Server) Limits() Limits { return s.cfg.Limits }

// Handler returns the server's handler with every middleware: request
// ids, logs, metrics, panics turned into 500s.
// The first call fixes the routes: a path no route matches is answered
// with a JSON 404 or 405, unless a component mounted "/".
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		if !slices.ContainsFunc(s.routes, func(r route) bool { return r.pattern == "/" }) {
			s.mux.HandleFunc("/", s.notFound)
		}
		s.handler = s.observe(s.mux)
	})
	return s.handler
}

// Serve serves on ln until ctx ends, then drains: it stops accepting,
// runs the shutdown hooks, waits for requests in flight (at most
// DrainTimeout) and returns. The caller closes the store after it
// returns. With no keys it refuses a listener that is not on loopback.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCert, tlsKey string) error {
	loop := isLoopback(ln.Addr())
	if !loop && s.keyCount() == 0 {
		return fmt.Errorf("refusing to listen on %s without API keys: anyone who reaches it could read everything; "+
			"create a key first (tetra key create --role admin NAME) or listen on 127.0.0.1", ln.Addr())
	}
	s.loopback.Store(loop)
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       withConn,
	}
	ln = limitListener(ln, s.cfg.MaxConnections)
	errc := make(chan error, 1)
	s.serving.Store(true)
	go func() {
		if tlsCert != "" {
			errc <- hs.ServeTLS(ln, tlsCert, tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	stopRefresh := s.refreshKeys(ctx)
	defer stopRefresh()
	select {
	case err := <-errc:
		s.serving.Store(false)
		return err
	case <-ctx.Done():
	}
	return s.drain(hs, errc)
}

// drain shuts down: hooks and in-flight requests within DrainTimeout.
func (s *Server) drain(hs *http.Server, errc chan error) error {
	s.draining.Store(true)
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	s.log.Info("draining", "timeout", s.cfg.DrainTimeout.String())
	var wg sync.WaitGroup
	for _, h := range s.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h(dctx)
		}()
	}
	err := hs.Shutdown(dctx)
	wg.Wait()
	s.serving.Store(false)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	if err != nil {
		return fmt.Errorf("drain: %w (requests still running were cut off)", err)
	}
	s.log.Info("drained")
	return nil
}

// refreshKeys rereads the keys file every second while serving, so tetra
// key create and revoke take effect in a running server.
func (s *Server) refreshKeys(ctx context.Context) func() {
	if s.cfg.Keys == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				changed, err := s.cfg.Keys.Refresh()
				switch {
				case err != nil:
					s.log.Error("keys file not reloaded; the previous keys stay in force", "err", err)
				case changed:
					s.log.Info("keys reloaded", "keys", s.cfg.Keys.Len())
				}
			}
		}
	}()
	return func() { close(done) }
}

func (s *Server) keyCount() int {
	if s.cfg.Keys == nil {
		return 0
	}
	return s.cfg.Keys.Len()
}

// isLoopback reports whether addr is a loopback address.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// IsLoopbackHost reports whether a listen address (host:port) names a
// loopback host, for checks before listening.
func IsLoopbackHost(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requestIDs hands out request ids: 16 hex digits that look random and
// never repeat within a process. Each is a counter mixed by a bijection
// of 64-bit integers (SplitMix64's finalizer) from a random start, so
// taking one is an atomic add, not a read of the system's randomness per
// request. Safe for concurrent use.
type requestIDs struct {
	n atomic.Uint64
}

// start begins at a random point.
func (ids *requestIDs) start() {
	var b [8]byte
	rand.Read(b[:])
	ids.n.Store(binary.LittleEndian.Uint64(b[:]))
}

func (ids *requestIDs) next() string {
	x := ids.n.Add(1)
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[x&0xf]
		x >>= 4
	}
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

// limitListener accepts at most n connections at once; more wait in the
// kernel's backlog until one closes.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem   chan struct{}
	done  chan struct{} // closed by Close, so a full Accept gives up
	close sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
	// While gathering (see gatherWrites), writes are held in held, to be
	// sent in one system call; a write of a suffix of body is held as
	// it is, others are copied into copies.
	gathering bool
	body      []byte
	held      net.Buffers
	copies    []byte
}

type connKey struct{}

// withConn is the http.Server's ConnContext: it gives handlers the
// connection, for gatherWrites. A TLS connection is not a *limitedConn
// and is left alone.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// gatherWrites makes the writes to the request's connection until the
// returned function runs one system call: write(body) answers with a
// Content-Length and one Write of body, but net/http sends the headers and
// the first bytes from its 4 KiB connection buffer and the rest of a
// larger body with a second write, and the client, woken by the first,
// often has to wait for the second (5 µs more per answer of 35 KB on
// loopback, measured 2026-12-02). The writes are held in order and sent
// with one writev when write returns; bytes net/http buffers beyond
// that are written by net/http after, as always. The serve goroutine is the
// only writer of a connection, and it runs the handler, so no lock is
// needed. Outside Serve (httptest) it simply calls write(body).
func gatherWrites(r *http.Request, body []byte, write func([]byte)) {
	c, _ := r.Context().Value(connKey{}).(*limitedConn)
	if c == nil || len(body) == 0 {
		write(body)
		return
	}
	c.gathering, c.body = true, body
	write(body)
	c.gathering, c.body = false, nil
	held := c.held
	if len(held) > 0 {
		bufs := held
		bufs.WriteTo(c.Conn) // an error fails the connection's next read too
	}
	clear(held) // no references to body or old copies
	c.held, c.copies = held[:0], c.copies[:0]
	if cap(c.copies) > 64<<10 {
		c.copies = nil
	}
}

func (c *limitedConn) Write(p []byte) (int, error) {
	if !c.gathering {
		return c.Conn.Write(p)
	}
	if len(p) > 0 && cap(c.body) >= cap(p) && &p[:cap(p)][cap(p)-1] == &c.body[:cap(c.body)][cap(c.body)-1] {
		c.held = append(c.held, p) // a suffix of body: alive until gatherWrites returns
		return len(p), nil
	}
	start := len(c.copies)
	c.copies = append(c.copies, p...) // the writer may reuse p
	c.held = append(c.held, c.copies[start:len(c.copies):len(c.copies)])
	return len(p), nil
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
