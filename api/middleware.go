package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetrahq/tetra/lang"
)

// Principal is who a request is from: the key it authenticated with, what
// that key may do and see, and its limits. Mounted handlers read it with
// PrincipalFrom; live subscriptions take their scope and per-key limit
// from it.
type Principal struct {
	// KeyID and KeyName are empty when the server checks no keys.
	KeyID   string
	KeyName string
	Role    Role
	// Scope confines everything the key sees (nil: the whole topology);
	// pass it as exec.QueryOptions.Scope. ScopeText is its source.
	Scope     lang.Expr
	ScopeText string
	// MaxConcurrent and MaxSubscriptions are this key's limits.
	MaxConcurrent    int
	MaxSubscriptions int
	usage            *keyUsage
}

// keyUsage counts what one key has running, across its requests and
// connections.
type keyUsage struct {
	inFlight      atomic.Int64
	subscriptions atomic.Int64
}

// AcquireSubscription counts one more live subscription of this key and
// returns the function that releases it, or a ClassTooMany *Error when the
// key holds its limit already. Safe for concurrent use.
func (p *Principal) AcquireSubscription() (release func(), err error) {
	if n := p.usage.subscriptions.Add(1); n > int64(p.MaxSubscriptions) {
		p.usage.subscriptions.Add(-1)
		return nil, errorf(ClassTooMany, fmt.Sprintf("this key holds %d live subscriptions, its limit", p.MaxSubscriptions))
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			p.usage.subscriptions.Add(-1)
		}
	}, nil
}

// Subscriptions returns how many live subscriptions the key holds now.
func (p *Principal) Subscriptions() int { return int(p.usage.subscriptions.Load()) }

type principalKey struct{}

// PrincipalFrom returns the principal of a request's context. Every
// request through a route mounted with Handle has one.
func PrincipalFrom(ctx context.Context) *Principal {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok {
		return p
	}
	if info := requestInfoFrom(ctx); info != nil {
		return info.principal // set by authorize, without another context
	}
	return nil
}

// WithPrincipal returns ctx carrying p (for tests of mounted handlers).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// token returns the key a request carries: X-API-Key, X-API-Token,
// "Authorization: ApiKey …" (or Bearer), a WebSocket handshake's
// "tetra.key.…" subprotocol (browsers can set no header there), and
// ?api_key= for the routes of agents, which send it that way (the receiver
// routes, role ingest).
func token(r *http.Request, role Role) string {
	if t := r.Header.Get("X-API-Key"); t != "" {
		return t
	}
	if t := r.Header.Get("X-API-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, t, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, "ApiKey") || strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t)
		}
	}
	if t := webSocketKey(r); t != "" {
		return t
	}
	if role == RoleIngest {
		// StackState agents: sts-api-key (the transactional client),
		// DD-Api-Key (the classic forwarder), ?api_key=.
		for _, h := range []string{"sts-api-key", "DD-Api-Key"} {
			if t := r.Header.Get(h); t != "" {
				return t
			}
		}
		return r.URL.Query().Get("api_key")
	}
	return ""
}

// openUsage counts what callers use when the server checks no keys:
// everything is allowed (the server is on loopback, see Serve).
var openUsage = &keyUsage{}

// authorize checks the caller's key against the role a route needs and
// puts the principal in the request's context. A counted request holds
// one of the key's concurrent requests while it runs; a stream (a
// long-lived connection) does not, or a key's open subscriptions would
// starve its queries.
func (s *Server) authorize(need Role, counted bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r, need)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if counted {
			if p.usage.inFlight.Add(1) > int64(p.MaxConcurrent) && need != RolePublic {
				p.usage.inFlight.Add(-1)
				s.writeError(w, r, errorf(ClassTooMany, fmt.Sprintf("this key runs %d requests at once, its limit; retry when one finishes", p.MaxConcurrent)))
				return
			}
			defer p.usage.inFlight.Add(-1)
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.key, info.principal = p.KeyID, p
		} else {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	})
}

// authenticate finds the principal of a request and checks its role.
func (s *Server) authenticate(r *http.Request, need Role) (*Principal, error) {
	if s.keyCount() == 0 {
		// No keys: a trial setup. A key that is sent is accepted unread,
		// as a trial StackState receiver accepts any. Only on loopback:
		// if every key was revoked on a server listening elsewhere,
		// nobody gets in.
		if !s.loopback.Load() && need != RolePublic {
			return nil, errorf(ClassUnauthorized, "this server has no API keys and listens beyond loopback, so it lets nobody in; create a key with tetra key create")
		}
		return s.open, nil
	}
	t := token(r, need)
	if t == "" {
		if need == RolePublic {
			return s.public, nil
		}
		how := "X-API-Key, X-API-Token or Authorization: ApiKey …"
		if need == RoleIngest {
			how = "?api_key=, sts-api-key, DD-Api-Key or " + how
		}
		return nil, errorf(ClassUnauthorized, "this route needs an API key: send it as "+how)
	}
	k := s.cfg.Keys.lookup(t)
	if k == nil {
		return nil, errorf(ClassUnauthorized, "unknown or revoked API key")
	}
	if !k.Role.Allows(need) {
		return nil, errorf(ClassForbidden, fmt.Sprintf("key %s has role %s; this route needs role %s", k.ID, k.Role, need))
	}
	return s.principalOf(k), nil
}

func (s *Server) principalOf(k *loadedKey) *Principal {
	u, _ := s.usage.LoadOrStore(k.ID, &keyUsage{})
	p := &Principal{KeyID: k.ID, KeyName: k.Name, Role: k.Role, Scope: k.scope, ScopeText: k.Key.Scope,
		MaxConcurrent: s.cfg.MaxConcurrentPerKey, MaxSubscriptions: s.cfg.MaxSubscriptionsPerKey, usage: u.(*keyUsage)}
	if k.MaxConcurrent > 0 {
		p.MaxConcurrent = k.MaxConcurrent
	}
	if k.MaxSubscriptions > 0 {
		p.MaxSubscriptions = k.MaxSubscriptions
	}
	return p
}

// requestInfo is what the outer middleware learns about a request from the
// inner layers, for its log line and metrics, and the principal authorize
// found (PrincipalFrom).
type requestInfo struct {
	id        string
	key       string
	principal *Principal
	err       *Error
	cause     error // err as the handler had it, package prefixes and all
}

// requestState is what observe keeps of one request, in one allocation.
type requestState struct {
	sw   statusWriter
	info requestInfo
	id   [1]string // the X-Request-Id header's value
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return i
}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if i := requestInfoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// statusWriter records the status a handler wrote. It passes Flush and
// Hijack (WebSocket upgrades) through via Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection over for a WebSocket upgrade;
// gorilla/websocket asks for an http.Hijacker itself, not through Unwrap.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// observe is the outermost middleware: a request id (X-Request-Id), one
// log line per request, the request metrics, and a panic turned into a 500
// that is logged with its stack instead of killing the connection.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{sw: statusWriter{ResponseWriter: w}}
		info, sw := &st.info, &st.sw
		info.id = s.ids.next()
		st.id[0] = info.id
		w.Header()["X-Request-Id"] = st.id[:] // canonical already: no Set
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving a request", "request_id", info.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, errorf(ClassInternal, "internal error (request "+info.id+"); the server log has the details"))
				}
			}
			s.finish(r, sw, info, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// finish logs a request and records its metrics.
func (s *Server) finish(r *http.Request, sw *statusWriter, info *requestInfo, d time.Duration) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.request(route, status, d)
	level := slog.LevelInfo
	if info.err != nil && status >= 500 {
		level = slog.LevelError
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	var buf [11]slog.Attr // on the stack: LogAttrs does not keep them
	attrs := append(buf[:0], slog.String("request_id", info.id), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("route", route), slog.Int("status", status),
		slog.Int64("bytes", sw.bytes), slog.Duration("duration", d), slog.String("remote", r.RemoteAddr))
	if info.key != "" {
		attrs = append(attrs, slog.String("key", info.key))
	}
	if info.err != nil {
		msg := info.err.Message
		if info.cause != nil {
			msg = info.cause.Error()
		}
		attrs = append(attrs, slog.String("error_class", string(info.err.Class)), slog.String("error", msg))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// writeError answers with {"error": {...}} and the class's status. A
// corrupt store is remembered for /readyz.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.withOldest(err)
	e := Classify(err)
	if info := requestInfoFrom(r.Context()); info != nil {
		info.err, info.cause = e, err
	}
	if e.Class == ClassCorrupt {
		msg := e.Message
		s.corrupt.CompareAndSwap(nil, &msg)
	}
	if e.Class == ClassUnauthorized {
		w.Header().Set("WWW-Authenticate", `ApiKey realm="tetra"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeJSON(w, e.Class.Status(), struct {
		Error *Error `json:"error"`
	}{e})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":{"class":"internal","message":"encoding the answer failed"}}`, http.StatusInternalServerError)
		return
	}
	writeBody(w, status, buf.Bytes())
}

// jsonContentType is the Content-Type header's value of every JSON
// answer. Handlers replace header values, never modify them in place,
// so one slice serves every response.
var jsonContentType = []string{"application/json"}

// writeBody answers with a JSON document of a known length: one Write, so
// net/http sends it with a Content-Length, never chunked. The header keys
// are canonical already: no Set, which would canonicalize them again.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}
