package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Traces: the shop's services are instrumented with the OpenTelemetry Go
// SDK, one tracer provider per service (its resource names the service),
// all feeding one span processor, whose exporter sends OTLP to the
// receiver. A request is a tree of spans: a server span per service it
// reaches, a client span per call, and a client span per database query
// or queue publish, whose duration is the backend's latency at that
// moment, so the degraded database slows (and, when critical, fails)
// checkout and the frontend requests that wait for it.

// flow is one kind of request the shop serves: the entry route and the
// services the frontend calls for it (each callee then calls all of its
// own).
type flow struct {
	route   string
	calls   []string
	perTick int // requests of this flow per tick
}

var flows = []flow{
	{"GET /products", []string{"catalog", "ads", "recommendations", "currency"}, 4},
	{"GET /search", []string{"search", "currency"}, 2},
	{"POST /checkout", []string{"auth", "cart", "checkout", "currency"}, 2},
}

// Tracing records the shop's requests through the OpenTelemetry SDK. It is
// safe for concurrent use only as the SDK is: Record is meant to be called
// from one goroutine (the Runner's), which also keeps span ids
// deterministic.
type Tracing struct {
	seed      uint64
	ids       *idGenerator
	providers map[string]*sdktrace.TracerProvider
	processor sdktrace.SpanProcessor
}

// NewTracing returns tracer providers for every service, all ending in
// exporter (an OTLP exporter in tetra serve --demo, an in-memory one in
// tests). Spans are batched; Flush and Shutdown send what is pending.
func NewTracing(seed uint64, exporter sdktrace.SpanExporter) *Tracing {
	tr := &Tracing{seed: seed, ids: &idGenerator{seed: seed}, providers: map[string]*sdktrace.TracerProvider{},
		processor: sdktrace.NewBatchSpanProcessor(exporter, sdktrace.WithBatchTimeout(time.Second))}
	for _, svc := range services {
		// A schemaless resource of what the SDK's resource detectors would
		// find in the pod; not resource.Default, whose host and process
		// attributes would make the spans differ from one machine to the
		// next.
		res := resource.NewSchemaless(
			attribute.String("service.name", svc.name),
			attribute.String("service.namespace", svc.namespace),
			attribute.String("telemetry.sdk.language", svc.lang),
			attribute.String("k8s.cluster.name", cluster),
			attribute.String("k8s.namespace.name", svc.namespace),
			attribute.String("deployment.environment", environment))
		tr.providers[svc.name] = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
			sdktrace.WithSpanProcessor(tr.processor), sdktrace.WithIDGenerator(tr.ids),
			sdktrace.WithSampler(sdktrace.AlwaysSample()))
	}
	return tr
}

// Flush sends the spans recorded so far.
func (tr *Tracing) Flush(ctx context.Context) error { return tr.processor.ForceFlush(ctx) }

// Shutdown sends what is pending and stops the exporter.
func (tr *Tracing) Shutdown(ctx context.Context) error {
	var errs []error
	for _, p := range tr.providers {
		// The providers share the processor: the first shutdown stops it,
		// the others find it stopped.
		if err := p.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) && len(errs) == 0 {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Record records the requests of one tick ending at now, at state s.
func (tr *Tracing) Record(s *state, now time.Time, tick time.Duration) {
	n := 0
	for _, f := range flows {
		for i := 0; i < f.perTick; i++ {
			// Spread the requests over the tick, each a little apart.
			at := now.Add(-tick + time.Duration(float64(tick)*unit(tr.seed, now.UnixMilli(), f.route, i)))
			tr.ids.reset(now.UnixMilli(), n)
			tr.request(s, f, at, n)
			n++
		}
	}
}

// request records one request of flow f starting at start.
func (tr *Tracing) request(s *state, f flow, start time.Time, n int) {
	method, path, _ := strings.Cut(f.route, " ")
	ctx, span := tr.providers["frontend"].Tracer("shop").Start(context.Background(), f.route,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", path),
			attribute.String("k8s.pod.name", podOf(s, "frontend", n))))
	end, failed := tr.calls(ctx, s, "frontend", f.calls, start.Add(ms(1)), n)
	end = end.Add(ms(findService("frontend").baseLatency * tr.jitter(start, "frontend")))
	finish(span, end, failed, 200)
}

// calls records caller's calls to callees one after the other from at;
// it returns when the last one ended and whether one failed.
func (tr *Tracing) calls(ctx context.Context, s *state, caller string, callees []string, at time.Time, n int) (time.Time, bool) {
	failed := false
	tracer := tr.providers[caller].Tracer("shop")
	for _, callee := range callees {
		var end time.Time
		var err bool
		if bk := findBackend(callee); bk != nil {
			end, err = tr.backendCall(ctx, tracer, s, bk, at)
		} else {
			cctx, client := tracer.Start(ctx, "call "+callee, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at),
				trace.WithAttributes(attribute.String("peer.service", callee), attribute.String("server.address", callee+"."+findService(callee).namespace)))
			end, err = tr.serve(cctx, s, callee, at.Add(ms(0.3)), n)
			end = end.Add(ms(0.3))
			finish(client, end, err, 200)
		}
		failed = failed || err
		at = end.Add(ms(0.1))
	}
	return at, failed
}

// serve records a service's server span and its own calls.
func (tr *Tracing) serve(ctx context.Context, s *state, name string, at time.Time, n int) (time.Time, bool) {
	svc := findService(name)
	ctx, span := tr.providers[name].Tracer("shop").Start(ctx, "handle "+name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(at), trace.WithAttributes(attribute.String("k8s.pod.name", podOf(s, name, n))))
	end, failed := tr.calls(ctx, s, name, svc.calls, at.Add(ms(svc.baseLatency*tr.jitter(at, name)/2)), n)
	end = end.Add(ms(svc.baseLatency * tr.jitter(at, name+"2") / 2))
	finish(span, end, failed, 200)
	return end, failed
}

// backendCall records a query or publish: the backend's latency, failing
// now and then while the database is critical.
func (tr *Tracing) backendCall(ctx context.Context, tracer trace.Tracer, s *state, bk *backendSpec, at time.Time) (time.Time, bool) {
	name, attrs := "SELECT "+bk.name, []attribute.KeyValue{attribute.String("db.system", bk.kind), attribute.String("db.name", bk.name)}
	if bk.typ == "queue" {
		name, attrs = "publish orders", []attribute.KeyValue{attribute.String("messaging.system", bk.kind), attribute.String("messaging.destination.name", "orders")}
	}
	attrs = append(attrs, attribute.String("peer.service", bk.name), attribute.String("server.address", hostName(bk.host)))
	_, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	end := at.Add(ms(backendLatency(bk, s.level) * tr.jitter(at, bk.name)))
	failed := bk.name == degraded && s.dbHealth == critical && unit(tr.seed, at.UnixNano(), "fail") < 0.3
	if failed {
		span.SetStatus(codes.Error, "canceling statement due to lock timeout")
	}
	span.End(trace.WithTimestamp(end))
	return end, failed
}

// jitter is a factor around 1 for one span.
func (tr *Tracing) jitter(at time.Time, key string) float64 {
	return 0.7 + 0.6*unit(tr.seed, at.UnixNano(), key)
}

// finish ends a span, as an error when a call under it failed.
func finish(span trace.Span, end time.Time, failed bool, status int) {
	if failed {
		status = 500
		span.SetStatus(codes.Error, "upstream request failed")
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	span.End(trace.WithTimestamp(end))
}

// podOf picks the ready pod of a service that served request n.
func podOf(s *state, name string, n int) string {
	for _, d := range s.deploys {
		if d.svc.name != name {
			continue
		}
		var ready []string
		for _, p := range d.pods {
			if p.ready {
				ready = append(ready, p.name)
			}
		}
		if len(ready) > 0 {
			return ready[n%len(ready)]
		}
	}
	return ""
}

func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

// idGenerator draws trace and span ids from the seed, the tick and the
// request's number, so that a seed's traces are the same each run.
type idGenerator struct {
	mu          sync.Mutex
	seed        uint64
	tick        int64
	req, spanNo int
}

// reset starts the ids of request req of the tick at ms.
func (g *idGenerator) reset(tick int64, req int) {
	g.mu.Lock()
	g.tick, g.req, g.spanNo = tick, req, 0
	g.mu.Unlock()
}

func (g *idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var tid trace.TraceID
	binary.BigEndian.PutUint64(tid[:8], hash(g.seed, g.tick, g.req, "trace"))
	binary.BigEndian.PutUint64(tid[8:], hash(g.seed, g.tick, g.req, "trace2"))
	return tid, g.nextSpanLocked()
}

func (g *idGenerator) NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nextSpanLocked()
}

// nextSpanLocked draws the next span id. REQUIRES: g.mu.
func (g *idGenerator) nextSpanLocked() trace.SpanID {
	g.spanNo++
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], hash(g.seed, g.tick, g.req, g.spanNo)|1) // never the invalid zero id
	return sid
}

// String names the generator in the SDK's debug output.
func (g *idGenerator) String() string { return fmt.Sprintf("demo ids (seed %d)", g.seed) }
