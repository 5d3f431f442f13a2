package receiver

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
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/traces"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes    = 32 << 20
	DefaultMaxDecodedBytes = ingest.DefaultMaxBytes
)

// Config configures a receiver.
type Config struct {
	// Log takes the validated records (required).
	Log ingest.Log
	// MaxBodyBytes bounds a request body as sent, compressed or not.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds a body once decompressed.
	MaxDecodedBytes int64
	// Logger receives a line per refused payload (slog.Default() when nil).
	Logger *slog.Logger
	// Metrics, Events and Spans keep the data of accepted payloads: the
	// stores themselves (embedded mode), or an ingest.LogWriter over Log
	// (Kafka mode: the node's consumers write them to the stores). A nil
	// one leaves its kind unstored: the answer's warnings name it.
	Metrics ingest.MetricWriter
	Events  ingest.EventWriter
	Spans   SpanWriter
	// NoServiceTopology turns off the topology spans make (services,
	// instances, hosts, calls): for senders that report it themselves.
	NoServiceTopology bool
	// ServiceSource is the topology source of the services, instances,
	// hosts and calls that spans show (ingest.DefaultServiceMapSource
	// when empty).
	ServiceSource string
}

// SpanWriter is what the receiver needs of a span store (traces.Store
// has it); safe for concurrent use.
type SpanWriter = ingest.SpanWriter

// Receiver serves the intake routes. Create it with New, then Mount it.
type Receiver struct {
	cfg      Config
	srv      *api.Server
	m        *metrics
	services *ingest.ServiceMap
}

// New returns a receiver writing to cfg.Log.
func New(cfg Config) (*Receiver, error) {
	if cfg.Log == nil {
		return nil, errors.New("receiver: no log to append to")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxDecodedBytes <= 0 {
		cfg.MaxDecodedBytes = DefaultMaxDecodedBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Receiver{cfg: cfg, services: ingest.NewServiceMap(cfg.ServiceSource, 0)}, nil
}

// intakePaths are where agents POST the intake object.
var intakePaths = []string{"/stsAgent/intake", "/stsAgent/intake/", "/receiver/stsAgent/intake", "/receiver/stsAgent/intake/",
	"/stsAgent/api/v1/series", "/receiver/stsAgent/api/v1/series"}

// Mount mounts the receiver's routes on srv and registers its metrics in
// srv's registry.
func (rc *Receiver) Mount(srv *api.Server) error {
	m, err := newMetrics(srv.Registry(), rc.cfg.Log)
	if err != nil {
		return err
	}
	rc.srv, rc.m = srv, m
	for _, p := range intakePaths {
		path := p
		srv.HandleFunc("POST "+path, api.RoleIngest, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path { // a trailing-slash pattern matches the subtree too
				srv.WriteError(w, r, api.Errorf(api.ClassNotFound, "%s", "no route "+r.URL.Path))
				return
			}
			rc.handleIntake(w, r)
		})
	}
	for _, sig := range []ingest.Signal{ingest.SignalTraces, ingest.SignalMetrics, ingest.SignalLogs} {
		srv.HandleFunc("POST /v1/"+sig.String(), api.RoleIngest, func(w http.ResponseWriter, r *http.Request) { rc.handleOTLP(w, r, sig) })
	}
	return nil
}

// Accepted is the answer of an accepted payload (202).
type Accepted struct {
	// Version is the time of the graph version the payload's topology is
	// in (absent when it carried none, or in the Kafka mode).
	Version *time.Time       `json:"version,omitempty"`
	Sources []AcceptedSource `json:"sources"`
	// Streams are the health streams whose check states the payload
	// changed.
	Streams []AcceptedStream `json:"streams,omitempty"`
	// Warnings are what was accepted but odd, each with its path.
	Warnings        []api.Problem `json:"warnings"`
	WarningsDropped int           `json:"warningsDropped,omitempty"`
	// Samples, Events and Spans count the data stored.
	Samples int `json:"samples,omitempty"`
	Events  int `json:"events,omitempty"`
	Spans   int `json:"spans,omitempty"`
}

// AcceptedSource is what the payload did for one topology source.
type AcceptedSource struct {
	Source     string `json:"source"`
	Components int    `json:"components"`
	Relations  int    `json:"relations"`
	DeleteIDs  int    `json:"deleteIds"`
	Duplicates int    `json:"duplicates,omitempty"`
	// The snapshot's events in this payload and its state after it, and
	// the elements its stop deleted.
	SnapshotStarted bool `json:"snapshotStarted,omitempty"`
	SnapshotStopped bool `json:"snapshotStopped,omitempty"`
	SnapshotOpen    bool `json:"snapshotOpen,omitempty"`
	SnapshotDeleted int  `json:"snapshotDeleted,omitempty"`
}

// AcceptedStream is what the payload did to one health stream.
type AcceptedStream struct {
	Stream   string `json:"stream"`
	Replaced bool   `json:"replaced,omitempty"` // its states were replaced by the snapshot's
	Put      int    `json:"put"`
	Deleted  int    `json:"deleted"`
	Expired  int    `json:"expired,omitempty"` // REPEAT_STATES states not repeated in time
}

func (rc *Receiver) handleIntake(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := rc.readBody(w, r)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	dc := ingest.Decoder{MaxBytes: rc.cfg.MaxDecodedBytes, DefaultSource: defaultSource(r)}
	pl, warns, err := dc.DecodePayloadChecked(body)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	ans := &Accepted{Sources: []AcceptedSource{}, Warnings: []api.Problem{}}
	for _, e := range warns.List {
		ans.Warnings = append(ans.Warnings, api.Problem{Path: e.Path, Message: e.Msg})
	}
	ans.WarningsDropped = warns.Dropped
	ans.Warnings = append(ans.Warnings, rc.unstored(body, pl)...)
	// The data goes first: its appends are idempotent, so a client that
	// retries after a failure of either step stores everything once.
	if err := rc.appendData(r.Context(), pl, ans); err != nil {
		rc.fail(w, r, err)
		return
	}
	if topos := pl.Topologies; len(topos) > 0 {
		rec := ingest.NewTopologyRecord(topos)
		ack, err := rc.cfg.Log.Append(r.Context(), rec)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		rc.m.elements(rec)
		ans.fill(ack)
	}
	rc.m.accepted(len(ans.Warnings)+ans.WarningsDropped, time.Since(start))
	api.WriteJSON(w, http.StatusAccepted, ans)
}

// defaultSource names the source of topologies without an instance after
// the key that sent them.
func defaultSource(r *http.Request) string {
	if p := api.PrincipalFrom(r.Context()); p != nil && p.KeyName != "" {
		return "intake:" + p.KeyName
	}
	return "intake:default"
}

func (a *Accepted) fill(ack *ingest.Ack) {
	if ack == nil || ack.Summary == nil {
		return
	}
	if c := ack.Summary.Commit; c != nil {
		t := c.Time.UTC()
		a.Version = &t
	}
	for _, s := range ack.Summary.Sources {
		a.Sources = append(a.Sources, AcceptedSource{Source: s.Source, Components: s.Components, Relations: s.Relations,
			DeleteIDs: s.DeleteIDs, Duplicates: s.Duplicates, SnapshotStarted: s.SnapshotStarted,
			SnapshotStopped: s.SnapshotStopped, SnapshotOpen: s.SnapshotOpen,
			SnapshotDeleted: s.SnapshotDeletedComponents + s.SnapshotDeletedRelations})
	}
	for _, s := range ack.Summary.Streams {
		a.Streams = append(a.Streams, AcceptedStream{Stream: s.Stream, Replaced: s.Replaced, Put: s.Put, Deleted: s.Deleted, Expired: s.Expired})
	}
}

// appendData appends the payload's metrics, events and spans to their
// stores (those without a store were named in the warnings) and counts
// them in the answer. Each append returns once its data is durable.
func (rc *Receiver) appendData(ctx context.Context, pl *ingest.Payload, ans *Accepted) error {
	if len(pl.Metrics) > 0 && rc.cfg.Metrics != nil {
		if err := rc.cfg.Metrics.AppendMetrics(ctx, pl.Metrics); err != nil {
			return fmt.Errorf("storing metrics: %w", err)
		}
		ans.Samples = pl.Samples()
	}
	if len(pl.Events) > 0 && rc.cfg.Events != nil {
		if err := rc.cfg.Events.AppendEvents(ctx, pl.Events); err != nil {
			return fmt.Errorf("storing events: %w", err)
		}
		ans.Events = len(pl.Events)
	}
	if len(pl.Spans) > 0 && rc.cfg.Spans != nil {
		if err := rc.cfg.Spans.AppendSpans(ctx, pl.Spans); err != nil {
			return fmt.Errorf("storing spans: %w", err)
		}
		ans.Spans = len(pl.Spans)
		return rc.appendServices(ctx, pl.Spans)
	}
	return nil
}

// appendServices commits the services, instances, hosts and calls the
// spans add or change (ingest.ServiceMap) through the log, as any
// topology; usually there are none. A failure is the request's: the
// client retries, the spans are stored once, and the map returns what it
// could not commit again.
func (rc *Receiver) appendServices(ctx context.Context, spans []traces.Span) error {
	if rc.cfg.NoServiceTopology {
		return nil
	}
	t := rc.services.Observe(spans)
	if t == nil {
		return nil
	}
	rec := ingest.NewTopologyRecord([]ingest.Topology{*t})
	if _, err := rc.cfg.Log.Append(ctx, rec); err != nil {
		rc.services.Forget(t)
		return fmt.Errorf("storing the services of the spans: %w", err)
	}
	rc.m.elements(rec)
	return nil
}

// alwaysUnstored are the parts of the intake object this build never
// stores.
var alwaysUnstored = []string{}

// unstored names the non-empty parts of a payload that this receiver does
// not store (never read, or of a kind it has no store for), so that the
// sender is told rather than left to guess.
func (rc *Receiver) unstored(body []byte, pl *ingest.Payload) []api.Problem {
	var out []api.Problem
	var top map[string]json.RawMessage
	// Parsing the body again costs as much as a tenth of the request:
	// only when there is a part to look for.
	if len(alwaysUnstored) > 0 && json.Unmarshal(body, &top) == nil { // else a list or another form: no intake parts at its top
		for _, k := range alwaysUnstored {
			v := bytes.TrimSpace(top[k])
			if len(v) == 0 || string(v) == "null" || string(v) == "[]" || string(v) == "{}" {
				continue
			}
			out = append(out, api.Problem{Path: k, Message: "not stored: this build's receiver does not read this part of an intake payload"})
		}
	}
	noStore := func(n int, missing bool, what string) {
		if n > 0 && missing {
			out = append(out, api.Problem{Message: fmt.Sprintf("not stored: %d %s, and this server has no store for them", n, what)})
		}
	}
	noStore(pl.Samples(), rc.cfg.Metrics == nil, "metric samples")
	noStore(len(pl.Events), rc.cfg.Events == nil, "events")
	noStore(len(pl.Spans), rc.cfg.Spans == nil, "spans")
	return out
}

// readBody reads and decompresses a request body within the limits.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	raw, err := readAll(http.MaxBytesReader(w, r.Body, rc.cfg.MaxBodyBytes), min(r.ContentLength, maxSizeHint))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, api.Errorf(api.ClassTooLarge, "%s", fmt.Sprintf("the request body is larger than %d bytes, the receiver's limit", rc.cfg.MaxBodyBytes))
	case err != nil:
		return nil, api.Errorf(api.ClassBadRequest, "%s", "reading the request body: "+err.Error())
	}
	rc.m.bodyBytes.Add(float64(len(raw)))
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	var zr io.Reader
	switch enc {
	case "", "identity":
		if int64(len(raw)) > rc.cfg.MaxDecodedBytes {
			return nil, tooLarge(rc.cfg.MaxDecodedBytes)
		}
		return raw, nil
	case "gzip", "x-gzip":
		g, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, api.Errorf(api.ClassBadRequest, "%s", "the body is not gzip data (Content-Encoding: gzip): "+err.Error())
		}
		zr = g
	case "deflate":
		// HTTP's deflate is zlib (RFC 9110); some clients send raw deflate.
		if z, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			zr = z
		} else {
			zr = flate.NewReader(bytes.NewReader(raw))
		}
	default:
		return nil, api.Errorf(api.ClassMediaType, "%s", fmt.Sprintf("Content-Encoding %q is not supported; send gzip, deflate or identity", enc))
	}
	b, err := io.ReadAll(io.LimitReader(zr, rc.cfg.MaxDecodedBytes+1))
	if err != nil {
		return nil, api.Errorf(api.ClassBadRequest, "%s", fmt.Sprintf("the body does not decompress (Content-Encoding: %s): %v", enc, err))
	}
	if int64(len(b)) > rc.cfg.MaxDecodedBytes {
		return nil, tooLarge(rc.cfg.MaxDecodedBytes)
	}
	return b, nil
}

// maxSizeHint bounds the buffer readAll allocates on a client's word (its
// Content-Length) before the bytes arrive.
const maxSizeHint = 4 << 20

// readAll is io.ReadAll starting with a buffer of hint bytes (the body's
// Content-Length), so that a body is read into one allocation instead of
// one that doubles from 512 bytes.
func readAll(r io.Reader, hint int64) ([]byte, error) {
	if hint <= 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, hint+1) // +1: the read that meets the end needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // the client sent more than it said
		}
	}
}

func tooLarge(limit int64) error {
	return api.Errorf(api.ClassTooLarge, "%s", fmt.Sprintf("the decompressed body is larger than %d bytes, the receiver's limit", limit))
}

// fail answers with the API error of err: the receiver's classes of its
// own errors, the server's (api.Classify) for the rest.
func (rc *Receiver) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	rc.m.refused(e.Class)
	if e.Class == api.ClassBadRequest || e.Class == api.ClassTooLarge {
		rc.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "intake refused", slog.String("path", r.URL.Path),
			slog.String("request", api.RequestID(r.Context())), slog.String("error", e.Message))
	}
	rc.srv.WriteError(w, r, e)
}

// classify maps the ingest package's errors to the API's classes.
func classify(err error) *api.Error {
	var list *ingest.ErrorList
	var busy *ingest.BusyError
	var refused *ingest.RefusedError
	var unavailable *ingest.UnavailableError
	var ie *ingest.Error
	switch {
	case errors.As(err, &list):
		e := api.Errorf(api.ClassBadRequest, "%s", "the payload is invalid: "+strings.TrimPrefix(list.Error(), "ingest: "))
		for _, x := range list.Errs {
			e.Problems = append(e.Problems, api.Problem{Path: x.Path, Message: x.Msg})
		}
		e.ProblemsDropped = list.Dropped
		return e
	case errors.Is(err, ingest.ErrTooLarge):
		return api.Errorf(api.ClassTooLarge, "%s", strings.TrimPrefix(err.Error(), "ingest: "))
	case errors.As(err, &busy):
		e := api.Errorf(api.ClassTooMany, "%s", strings.TrimPrefix(err.Error(), "ingest: "))
		e.RetryAfter = busy.RetryAfter
		return e
	case errors.As(err, &unavailable):
		e := api.Errorf(api.ClassUnavailable, "%s", "the payload was not accepted: "+strings.TrimPrefix(unavailable.Error(), "ingest: ")+"; retry later")
		e.RetryAfter = unavailable.RetryAfter
		return e
	case errors.Is(err, ingest.ErrClosed):
		e := api.Errorf(api.ClassUnavailable, "%s", "the receiver is shutting down; retry on another node or later")
		e.RetryAfter = 5 * time.Second
		return e
	case errors.As(err, &refused) && errors.As(err, &ie):
		e := api.Errorf(api.ClassBadRequest, "%s", "the payload was refused, nothing of it was applied: "+strings.TrimPrefix(ie.Error(), "ingest: "))
		e.Problems = []api.Problem{{Path: ie.Path, Message: ie.Msg}}
		return e
	}
	return api.Classify(err)
}

// metrics are the receiver's self-metrics.
type metrics struct {
	requests  *prometheus.CounterVec
	bodyBytes prometheus.Counter
	elems     *prometheus.CounterVec
	warnings  prometheus.Counter
	latency   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, log ingest.Log) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tetra_ingest_requests_total",
			Help: "Intake requests by outcome: accepted, or the error class they were refused with."}, []string{"outcome"}),
		bodyBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tetra_ingest_body_bytes_total",
			Help: "Bytes of intake request bodies as sent (compressed or not)."}),
		elems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tetra_ingest_elements_total",
			Help: "Topology elements accepted, by kind (component, relation, delete)."}, []string{"kind"}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{Name: "tetra_ingest_warnings_total",
			Help: "Warnings reported in accepted payloads (duplicate keys or external ids, invalid UTF-8, parts not stored)."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tetra_ingest_append_seconds",
			Help:    "Time from receiving an intake request to its payload being durable.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
	}
	cs := []prometheus.Collector{m.requests, m.bodyBytes, m.elems, m.warnings, m.latency}
	if q, ok := log.(interface{ QueueDepth() int }); ok {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tetra_ingest_queue_depth",
			Help: "Payloads waiting for the writer."}, func() float64 { return float64(q.QueueDepth()) }))
	}
	if p, ok := log.(interface{ Stats() *ingest.PipelineStats }); ok {
		st := p.Stats()
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tetra_ingest_group_commits_total",
			Help: "Group commits of the embedded writer (one synced store commit each)."}, func() float64 { return float64(st.Groups.Load()) }))
		for outcome, v := range map[string]func() int64{"committed": st.Records.Load, "refused": st.Refused.Load,
			"failed": st.Failed.Load, "busy": st.Busy.Load} {
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tetra_ingest_records_total",
				Help:        "Payloads through the embedded writer by outcome (busy: turned away by a full queue).",
				ConstLabels: prometheus.Labels{"outcome": outcome}}, func() float64 { return float64(v()) }))
		}
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) accepted(warnings int, d time.Duration) {
	m.requests.WithLabelValues("accepted").Inc()
	m.warnings.Add(float64(warnings))
	m.latency.Observe(d.Seconds())
}

func (m *metrics) refused(c api.Class) { m.requests.WithLabelValues(string(c)).Inc() }

func (m *metrics) elements(rec *ingest.Record) {
	var c, r, d int
	for i := range rec.Topologies {
		t := &rec.Topologies[i]
		c, r, d = c+len(t.Components), r+len(t.Relations), d+len(t.DeleteIDs)
	}
	m.elems.WithLabelValues("component").Add(float64(c))
	m.elems.WithLabelValues("relation").Add(float64(r))
	m.elems.WithLabelValues("delete").Add(float64(d))
}
