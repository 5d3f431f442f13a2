package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// IntakePath is where a StackState receiver takes agent payloads.
const IntakePath = "/stsAgent/intake"

// Target is the receiver the simulation reports to.
type Target struct {
	// URL is the server's base URL (http://127.0.0.1:7070); payloads go
	// to URL + IntakePath.
	URL string
	// Key is an API key of role ingest, sent as the agent sends it.
	Key string
	// Client sends the requests; nil is a client with a 10 s timeout.
	Client *http.Client
}

// Runner reports a simulation to a receiver at a steady pace.
type Runner struct {
	Sim    *Sim
	Target Target
	// Interval is the wall time between reports; 0 is 2 s.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu     sync.Mutex           // guards warned: the span exporter warns from its own goroutine
	warned map[string]time.Time // when each kind of failure was last logged
}

// Run reports every Interval until ctx is done. A report the receiver
// refuses or does not answer is logged, and the next one sends the whole
// topology again; Run itself only ends with ctx. onRound, when not nil,
// is called after each round with the number of reports accepted and
// the round's error.
func (r *Runner) Run(ctx context.Context, onRound func(accepted int, err error)) {
	interval := r.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := r.round(ctx)
		if err != nil && ctx.Err() == nil {
			r.warn("intake", "demo: report not delivered; the next one resends the whole topology", err)
			r.Sim.Reset()
		}
		if onRound != nil {
			onRound(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// warn logs a failure of a kind at most once a minute: a receiver that is
// down would otherwise fill the log every round.
func (r *Runner) warn(kind, msg string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.warned == nil {
		r.warned = map[string]time.Time{}
	}
	if last, ok := r.warned[kind]; ok && now.Sub(last) < time.Minute {
		return
	}
	r.warned[kind] = now
	r.logger().Warn(msg, "err", err)
}

// round sends one Step's reports, in order, stopping at the first
// failure.
func (r *Runner) round(ctx context.Context) (int, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	reports := r.Sim.Step(now())
	for i, rep := range reports {
		if err := r.Target.Send(ctx, rep); err != nil {
			return i, err
		}
	}
	return len(reports), nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Logger
}

// Send POSTs one report as the agent's transactional forwarder does:
// gzip-compressed JSON, the key in the sts-api-key header (and X-API-Key,
// the server's own).
func (t Target) Send(ctx context.Context, rep Report) error {
	body, err := gzipJSON(rep.Intake)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(t.URL, "/")+IntakePath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("sts-hostname", rep.Agent)
	if t.Key != "" {
		req.Header.Set("sts-api-key", t.Key)
		req.Header.Set("X-API-Key", t.Key)
	}
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", IntakePath, resp.Status, bytes.TrimSpace(msg))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

func gzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TracesPath is where an OTLP/HTTP receiver takes spans.
const TracesPath = "/v1/traces"

// NewOTLPExporter returns an exporter that sends spans to the target's
// OTLP/HTTP traces endpoint (protobuf, as the SDK's exporter sends it),
// with the target's key.
func NewOTLPExporter(ctx context.Context, t Target) (*otlptrace.Exporter, error) {
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(strings.TrimSuffix(t.URL, "/") + TracesPath),
		otlptracehttp.WithTimeout(10 * time.Second)}
	if t.Key != "" {
		opts = append(opts, otlptracehttp.WithHeaders(map[string]string{"X-API-Key": t.Key}))
	}
	return otlptracehttp.New(ctx, opts...)
}

// Options are what Start needs.
type Options struct {
	Config Config
	Target Target
	// Interval between reports (2 s when zero).
	Interval time.Duration
	Logger   *slog.Logger
	// OnRound, when not nil, is called after each round of reports.
	OnRound func(accepted int, err error)
}

// Start runs the demo environment until ctx is done: the simulation's
// reports go to the target's intake endpoint, its spans through the
// OpenTelemetry SDK's OTLP exporter to the target's traces endpoint. The
// returned function waits for the end and sends the spans still pending
// (for at most five seconds).
func Start(ctx context.Context, o Options) (wait func(), err error) {
	r := &Runner{Sim: New(o.Config, time.Now()), Target: o.Target, Interval: o.Interval, Logger: o.Logger}
	exp, err := NewOTLPExporter(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	tr := NewTracing(o.Config.Seed, &quietExporter{SpanExporter: exp, r: r})
	r.Sim.Trace(tr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, o.OnRound)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			r.logger().Warn("demo: sending the last spans", "err", err)
		}
	}()
	return func() { <-done }, nil
}

// quietExporter logs export failures through the runner (at most once a
// minute) instead of the SDK's global error handler, and drops the spans:
// a demo that cannot reach the receiver has nothing better to do with
// them.
type quietExporter struct {
	sdktrace.SpanExporter
	r *Runner
}

func (q *quietExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := q.SpanExporter.ExportSpans(ctx, spans); err != nil && ctx.Err() == nil {
		q.r.warn("traces", "demo: spans not delivered", err)
	}
	return nil
}
