package receiver_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/receiver"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// fixtures is the repository's shared test data.
const fixtures = "../../testdata"

// base is the store's clock: versions are stamped from it, so answers are
// stable.
var base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// server is tetra serve's stack in-process: a Pebble store, the engine, the
// API server with keys, and the receiver writing through the embedded
// pipeline, behind a real HTTP listener.
type server struct {
	t        testing.TB
	dir      string
	st       *pebblestore.Store
	pipe     *ingest.Pipeline
	srv      *api.Server
	hs       *httptest.Server
	hub      *live.Hub
	tel      *telpebble.Store
	spans    *tracepebble.Store
	grpc     *receiver.GRPC // with serverOpts.grpc
	grpcAddr string
	grpcDone chan struct{}
	token    map[string]string // key name → token
	opts     serverOpts
	clockMu  sync.Mutex
	clock    time.Time // the store's and the pipeline's clock; base until advanced
}

// now is the server's clock.
func (s *server) now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	return s.clock
}

// advance moves the server's clock on and (tick) has the pipeline look
// for expired check states, as its ticker does every second.
func (s *server) advance(d time.Duration, tick bool) (bool, error) {
	s.clockMu.Lock()
	s.clock = s.clock.Add(d)
	s.clockMu.Unlock()
	if !tick {
		return false, nil
	}
	return s.pipe.Tick(context.Background())
}

type serverOpts struct {
	fs       vfs.FS                                    // the store's file system (the OS's when nil); the store lives in /db on it
	sync     bool                                      // sync commits (the product's setting; off by default to spare the shared disk)
	live     bool                                      // mount live subscriptions (GET /api/subscribe) as tetra serve does
	store    func(*pebblestore.Store) graphstore.Store // wraps the store the processor writes to
	pipeline ingest.PipelineOptions
	rc       receiver.Config
	noData   bool // open no metric, event or span store (the receiver keeps topology only)
	grpc     bool // serve OTLP/gRPC too, on a loopback port (server.grpcAddr)
}

// newServer starts a server over a new data directory with two keys:
// "agent" (role ingest) and "reader" (role read).
func newServer(t testing.TB, o serverOpts) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), token: map[string]string{}, opts: o, clock: base}
	kf := api.NewKeyFile(s.dir)
	for name, role := range map[string]api.Role{"agent": api.RoleIngest, "reader": api.RoleRead} {
		_, tok, err := kf.Create(api.NewKey{Name: name, Role: role}, base)
		if err != nil {
			t.Fatal(err)
		}
		s.token[name] = tok
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start opens the store and serves; stop undoes it. Together they are a
// restart of the process.
func (s *server) start() {
	t := s.t
	dir := s.dir
	if s.opts.fs != nil {
		dir = "/db"
	}
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: s.now, NoSync: !s.opts.sync, FS: s.opts.fs})
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	var target graphstore.Store = st
	if s.opts.store != nil {
		target = s.opts.store(st)
	}
	proc, err := ingest.NewTopologyProcessor(target)
	if err != nil {
		t.Fatal(err)
	}
	po := s.opts.pipeline
	if po.Now == nil {
		po.Now = s.now
	}
	s.pipe = ingest.NewPipeline(proc, po)
	ring, err := api.NewKeyRing(api.NewKeyFile(s.dir))
	if err != nil {
		t.Fatal(err)
	}
	data := s.openData()
	eng := exec.New(st, exec.Options{Now: func() time.Time { return base.Add(time.Hour) }, Data: data})
	s.srv = api.New(api.Config{Engine: eng, Keys: ring, Now: func() time.Time { return base },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := s.opts.rc
	cfg.Log = s.pipe
	if s.tel != nil {
		cfg.Metrics, cfg.Events, cfg.Spans = s.tel, s.tel, s.spans
	}
	rc, err := receiver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Mount(s.srv); err != nil {
		t.Fatal(err)
	}
	if s.opts.grpc {
		s.startGRPC(rc)
	}
	if s.opts.live {
		hub, err := live.New(live.Config{Engine: eng, Store: st, Logger: s.srv.Logger(), Registerer: s.srv.Registry()})
		if err != nil {
			t.Fatal(err)
		}
		hub.Mount(s.srv)
		s.hub = hub
	}
	s.hs = httptest.NewServer(s.srv.Handler())
}

func (s *server) stop() {
	if s.hs == nil {
		return
	}
	if s.hub != nil {
		s.hub.Close(context.Background())
	}
	s.hs.Close()
	if s.grpc != nil {
		s.grpc.Stop(context.Background())
		<-s.grpcDone
		s.grpc = nil
	}
	s.pipe.Close()
	if err := s.st.Close(); err != nil {
		s.t.Error(err)
	}
	if s.tel != nil {
		if err := errors.Join(s.tel.Close(), s.spans.Close()); err != nil {
			s.t.Error(err)
		}
	}
	s.hs = nil
}

// openData opens the metric/event and span stores as tetra serve does,
// beside the graph store, unless the options say none.
func (s *server) openData() exec.DataStores {
	if s.opts.noData || s.opts.fs != nil {
		s.tel, s.spans = nil, nil
		return exec.DataStores{}
	}
	tel, err := telpebble.Open(filepath.Join(s.dir, "telemetry"), telpebble.Options{Now: func() time.Time { return base }, NoSync: !s.opts.sync})
	if err != nil {
		s.t.Fatal(err)
	}
	spans, err := tracepebble.Open(filepath.Join(s.dir, "traces"), tracepebble.Options{NoSync: !s.opts.sync})
	if err != nil {
		s.t.Fatal(err)
	}
	s.tel, s.spans = tel, spans
	return exec.DataStores{Metrics: tel, Events: tel, Traces: spans}
}

// startGRPC serves the receiver's OTLP/gRPC services on a loopback port,
// a new one at each start.
func (s *server) startGRPC(rc *receiver.Receiver) {
	g, err := rc.NewGRPC(receiver.GRPCOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.grpc, s.grpcAddr, s.grpcDone = g, ln.Addr().String(), make(chan struct{})
	go func() {
		defer close(s.grpcDone)
		if err := g.Serve(ln); err != nil {
			s.t.Error(err)
		}
	}()
}

func (s *server) restart() {
	s.stop()
	s.start()
}

// request is one POST to the receiver.
type request struct {
	path     string // default /stsAgent/intake
	body     []byte
	encoding string // gzip, deflate (zlib), rawdeflate, or a Content-Encoding sent as is
	key      string // key name; "" none, "bad" an unknown key
	keyVia   string // header (X-API-Key, default), query (?api_key=), sts (sts-api-key), dd (DD-Api-Key)
	headers  map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) post(rq request) response {
	s.t.Helper()
	path := rq.path
	if path == "" {
		path = "/stsAgent/intake"
	}
	body := encode(s.t, rq.body, rq.encoding)
	tok := s.token[rq.key]
	if rq.key == "bad" {
		tok = "tetra_nosuchkey"
	}
	if rq.keyVia == "query" && tok != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api_key=" + tok
	}
	req, err := http.NewRequest("POST", s.hs.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range rq.headers {
		req.Header.Set(k, v)
	}
	if tok != "" {
		switch rq.keyVia {
		case "", "header":
			req.Header.Set("X-API-Key", tok)
		case "sts":
			req.Header.Set("sts-api-key", tok)
		case "dd":
			req.Header.Set("DD-Api-Key", tok)
		}
	}
	switch rq.encoding {
	case "":
	case "rawdeflate":
		req.Header.Set("Content-Encoding", "deflate")
	default:
		req.Header.Set("Content-Encoding", rq.encoding)
	}
	return s.do(req)
}

// agentClient is the tests' and benchmarks' HTTP client. It keeps a
// connection per concurrent sender alive, as an agent or an exporter does:
// http.DefaultClient keeps two per host, so eight senders at once made
// the benchmarks dial (and the server accept) a new connection for most
// requests, a cost no agent imposes.
var agentClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

func (s *server) do(req *http.Request) response {
	s.t.Helper()
	resp, err := agentClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// encode compresses a body as a client would.
func encode(t testing.TB, b []byte, enc string) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "rawdeflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	default:
		return b
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// query runs a TQL statement through POST /api/query with the reader key
// and renders its topology compactly: one line per component (name, type,
// layer, domain, environments, identifiers, labels, sources) and per
// relation (type, endpoints by name, sources), sorted.
func (s *server) query(q string) string { return s.queryAt(q, "") }

// queryAt is query at a time (RFC 3339; "" the present).
func (s *server) queryAt(q, at string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"query": q, "at": at})
	req, _ := http.NewRequest("POST", s.hs.URL+"/api/query", bytes.NewReader(body))
	req.Header.Set("X-API-Key", s.token["reader"])
	req.Header.Set("Content-Type", "application/json")
	r := s.do(req)
	if r.status != 200 {
		return fmt.Sprintf("status %d: %s", r.status, r.body)
	}
	var res struct {
		Metrics  *exec.MetricsResult
		Events   *exec.EventsResult
		Traces   *exec.TracesResult
		Topology struct {
			Components []struct {
				ID           uint64
				Name, Type   string
				Layer        string
				Domain       string
				Environments []string
				Identifiers  []string
				Labels       []string
				Sources      []struct{ Source, ExternalID string }
				HealthState  string
			}
			Relations []struct {
				Type           string
				Source, Target uint64
				Sources        []struct{ Source, ExternalID string }
			}
		}
	}
	if err := json.Unmarshal(r.body, &res); err != nil {
		s.t.Fatalf("%v: %s", err, r.body)
	}
	if res.Metrics != nil || res.Events != nil || res.Traces != nil {
		return dataLines(res.Metrics, res.Events, res.Traces)
	}
	names := map[uint64]string{}
	var lines []string
	srcs := func(l []struct{ Source, ExternalID string }) string {
		var out []string
		for _, x := range l {
			out = append(out, x.Source+"/"+x.ExternalID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range res.Topology.Components {
		names[c.ID] = c.Name
		line := fmt.Sprintf("component %q type=%q layer=%q domain=%q env=%q ids=%q labels=%q sources=%s",
			c.Name, c.Type, c.Layer, c.Domain, c.Environments, c.Identifiers, c.Labels, srcs(c.Sources))
		if c.HealthState != "" && c.HealthState != "UNKNOWN" { // only components with check states
			line += " health=" + c.HealthState
		}
		lines = append(lines, line)
	}
	for _, r := range res.Topology.Relations {
		lines = append(lines, fmt.Sprintf("relation %q %q -> %q sources=%s", r.Type, nameOr(names, r.Source), nameOr(names, r.Target), srcs(r.Sources)))
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "(empty)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}

// dataLines renders a METRICS, EVENTS or TRACES answer a line per series,
// event or span, with the concrete values.
func dataLines(m *exec.MetricsResult, e *exec.EventsResult, tr *exec.TracesResult) string {
	var b strings.Builder
	if m != nil {
		for _, x := range m.Series {
			fmt.Fprintf(&b, "series %s:", tagText(x.Labels))
			for _, p := range x.Points {
				fmt.Fprintf(&b, " %s=%g", time.UnixMilli(p.T).UTC().Format(time.RFC3339), p.V)
			}
			b.WriteString("\n")
		}
	}
	if e != nil {
		for _, x := range e.Events {
			fmt.Fprintf(&b, "event %s %s name=%q category=%q type=%q source=%q message=%q tags=%s ids=%q\n", x.ID,
				time.UnixMilli(x.Timestamp).UTC().Format(time.RFC3339), x.Name, x.Category, x.Type, x.Source, x.Message, tagText(x.Tags), x.Identifiers)
		}
	}
	if tr != nil {
		for _, x := range tr.Traces {
			for _, sp := range x.Spans {
				fmt.Fprintf(&b, "span %s/%s parent=%q service=%q name=%q kind=%q status=%q start=%s duration=%s attributes=%s\n",
					sp.TraceID, sp.SpanID, sp.ParentID, sp.Service, sp.Name, sp.Kind, sp.Status,
					time.Unix(0, sp.StartTimeUnixNano).UTC().Format(time.RFC3339Nano), time.Duration(sp.DurationNano), tagText(sp.Attributes))
			}
		}
	}
	if b.Len() == 0 {
		return "(no data)\n"
	}
	return b.String()
}

func tagText(tags telemetry.Tags) string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Key+"="+t.Value)
	}
	return "{" + strings.Join(out, ",") + "}"
}

func nameOr(names map[uint64]string, id uint64) string {
	if n, ok := names[id]; ok {
		return n
	}
	return fmt.Sprintf("#%d", id)
}

// readFixture reads a file of the repository's testdata.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkError checks an error answer: its status, that its message says
// msg, and, when path is given, that its first problem is at path.
func checkError(t *testing.T, r response, status int, msg, path string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e struct {
		Error struct {
			Message  string
			Problems []struct{ Path, Message string }
		}
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.body)
	}
	if !strings.Contains(e.Error.Message, msg) {
		t.Errorf("message %q does not say %q", e.Error.Message, msg)
	}
	if path != "" && (len(e.Error.Problems) == 0 || e.Error.Problems[0].Path != path) {
		t.Errorf("problems %+v, want the first at %s", e.Error.Problems, path)
	}
}
