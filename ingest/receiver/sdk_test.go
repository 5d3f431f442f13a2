package receiver_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
)

// provider is a tracer provider of one service on one host, exporting
// through exp (the SDK's own OTLP exporter) in one batch at Shutdown.
func provider(t *testing.T, exp sdktrace.SpanExporter, service, host string) *sdktrace.TracerProvider {
	t.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("host.name", host),
		attribute.String("service.instance.id", service+"-1"))
	return sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
}

// at is the tests' clock: base plus milliseconds.
func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

// TestOpenTelemetrySDK sends through the OpenTelemetry Go SDK's own OTLP
// exporters, otlptracehttp to the HTTP receiver and otlptracegrpc to the
// gRPC one, and OTLP metrics and logs through the proto module's gRPC
// clients and OTLP/HTTP protobuf (the SDK's metric and log exporters are
// not among the accepted modules), then reads everything back through
// TRACES, METRICS and EVENTS with concrete values.
func TestOpenTelemetrySDK(t *testing.T) {
	s := newServer(t, serverOpts{grpc: true})
	ctx := context.Background()
	// An agent reports the host web-1, the service checkout and the
	// database payments: the components the spans describe merge with
	// them by identifier, and the call to payments (peer.service) meets
	// the database.
	if r := s.post(request{key: "agent", body: []byte(`{"topologies":[{"instance":{"type":"agent","url":"integrations"},
		"start_snapshot":true,"stop_snapshot":true,"components":[
		{"externalId":"urn:host:/web-1","type":{"name":"host"},"data":{"name":"web-1","layer":"Machines","labels":["os:linux"]}},
		{"externalId":"k8s-svc-checkout","type":{"name":"service"},"data":{"name":"checkout","identifiers":["urn:service:/checkout"]}},
		{"externalId":"payments-db","type":{"name":"database"},"data":{"name":"payments","identifiers":["urn:service:/payments"]}}]}]}`)}); r.status != 202 {
		t.Fatalf("the agent's topology: %d %s", r.status, r.body)
	}
	u, _ := url.Parse(s.hs.URL)
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": s.token["agent"]}))
	if err != nil {
		t.Fatal(err)
	}
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + s.token["agent"]}))
	if err != nil {
		t.Fatal(err)
	}
	frontend := provider(t, httpExp, "frontend", "web-1")
	checkout := provider(t, grpcExp, "checkout", "app-1")
	// frontend's GET /cart calls checkout over HTTP (a client span in
	// frontend, its server span in checkout, which calls payments, an
	// uninstrumented service named by peer.service).
	rootCtx, root := frontend.Tracer("shop").Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)))
	callCtx, call := frontend.Tracer("shop").Start(rootCtx, "POST checkout", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(10)))
	srvCtx, srv := checkout.Tracer("shop").Start(callCtx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(12)),
		trace.WithAttributes(attribute.Int("http.response.status_code", 200)))
	_, pay := checkout.Tracer("shop").Start(srvCtx, "charge", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(20)),
		trace.WithAttributes(attribute.String("peer.service", "payments")))
	pay.End(trace.WithTimestamp(at(60)))
	srv.End(trace.WithTimestamp(at(70)))
	call.End(trace.WithTimestamp(at(75)))
	root.End(trace.WithTimestamp(at(80)))
	// checkout exports first: its server span arrives before the client
	// span that is its parent.
	for _, tp := range []*sdktrace.TracerProvider{checkout, frontend} {
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("export: %v", err)
		}
	}
	traceID := root.SpanContext().TraceID().String()
	got := s.query(`TRACES WHERE trace_id = "` + traceID + `" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`)
	for _, want := range []string{
		fmt.Sprintf(`span %s/%s parent="" service="frontend" name="GET /cart" kind="server" status="unset" start=2026-11-20T10:00:00Z duration=80ms`, traceID, root.SpanContext().SpanID()),
		fmt.Sprintf(`span %s/%s parent="%s" service="frontend" name="POST checkout" kind="client" status="unset" start=2026-11-20T10:00:00.01Z duration=65ms`, traceID, call.SpanContext().SpanID(), root.SpanContext().SpanID()),
		fmt.Sprintf(`span %s/%s parent="%s" service="checkout" name="POST /checkout" kind="server" status="unset" start=2026-11-20T10:00:00.012Z duration=58ms attributes={http.response.status_code=200}`, traceID, srv.SpanContext().SpanID(), call.SpanContext().SpanID()),
		fmt.Sprintf(`span %s/%s parent="%s" service="checkout" name="charge" kind="client" status="unset" start=2026-11-20T10:00:00.02Z duration=40ms attributes={peer.service=payments}`, traceID, pay.SpanContext().SpanID(), srv.SpanContext().SpanID()),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("TRACES lacks\n%s\ngot\n%s", want, got)
		}
	}

	// The services, their instances and hosts are components, merged with
	// the agent's; the calls between services relations, though the
	// client span of frontend → checkout arrived after its server span,
	// in another request over another transport.
	const spanSrc = "opentelemetry:spans"
	topo := s.query(`type IN ("service", "service-instance", "host", "database")`)
	wantTopo := `component "checkout on app-1" type="service-instance" layer="Service Instances" domain="" env=[] ids=["urn:service-instance:/checkout:/app-1"] labels=["service.instance.id:checkout-1"] sources=` + spanSrc + `/urn:service-instance:/checkout:/app-1
component "frontend on web-1" type="service-instance" layer="Service Instances" domain="" env=[] ids=["urn:service-instance:/frontend:/web-1"] labels=["service.instance.id:frontend-1"] sources=` + spanSrc + `/urn:service-instance:/frontend:/web-1
component "app-1" type="host" layer="Machines" domain="" env=[] ids=["urn:host:/app-1"] labels=[] sources=` + spanSrc + `/urn:host:/app-1
component "checkout" type="service" layer="Services" domain="" env=[] ids=["k8s-svc-checkout" "urn:service:/checkout"] labels=[] sources=agent:integrations/k8s-svc-checkout,` + spanSrc + `/urn:service:/checkout
component "frontend" type="service" layer="Services" domain="" env=[] ids=["urn:service:/frontend"] labels=[] sources=` + spanSrc + `/urn:service:/frontend
component "payments" type="database" layer="" domain="" env=[] ids=["payments-db" "urn:service:/payments"] labels=[] sources=agent:integrations/payments-db
component "web-1" type="host" layer="Machines" domain="" env=[] ids=["urn:host:/web-1"] labels=["os:linux"] sources=agent:integrations/urn:host:/web-1,` + spanSrc + `/urn:host:/web-1
relation "calls" "checkout" -> "payments" sources=` + spanSrc + `/urn:service:/checkout-calls-urn:service:/payments
relation "calls" "frontend" -> "checkout" sources=` + spanSrc + `/urn:service:/frontend-calls-urn:service:/checkout
relation "has" "checkout" -> "checkout on app-1" sources=` + spanSrc + `/urn:service:/checkout-has-urn:service-instance:/checkout:/app-1
relation "has" "frontend" -> "frontend on web-1" sources=` + spanSrc + `/urn:service:/frontend-has-urn:service-instance:/frontend:/web-1
relation "runs_on" "checkout on app-1" -> "app-1" sources=` + spanSrc + `/urn:service-instance:/checkout:/app-1-runs_on-urn:host:/app-1
relation "runs_on" "frontend on web-1" -> "web-1" sources=` + spanSrc + `/urn:service-instance:/frontend:/web-1-runs_on-urn:host:/web-1
`
	if !sameLines(topo, wantTopo) {
		t.Errorf("the service topology:\n%s\nwant\n%s", topo, wantTopo)
	}
	// The same calls again change nothing: no new version is written.
	last := s.st.LastCommit()
	again := provider(t, httpExp2(t, s), "frontend", "web-1")
	c2, sp := again.Tracer("shop").Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(100)))
	_, cl := again.Tracer("shop").Start(c2, "POST checkout", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(110)))
	cl.End(trace.WithTimestamp(at(150)))
	sp.End(trace.WithTimestamp(at(160)))
	if err := again.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.query(`TRACES WHERE service = "frontend" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`); strings.Count(got, "span ") != 4 {
		t.Errorf("the second export's spans are not stored:\n%s", got)
	}
	if !s.st.LastCommit().Equal(last) {
		t.Errorf("spans that change no topology wrote a version")
	}

	// Metrics and logs over gRPC, with the key in x-api-key.
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keyed := metadata.AppendToOutgoingContext(ctx, "x-api-key", s.token["agent"])
	res := otlpResource("checkout")
	_, err = colmetricspb.NewMetricsServiceClient(conn).Export(keyed, &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: res, ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{goodMetric(), {Name: "http.server.duration",
			Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: []*metricspb.HistogramDataPoint{{
				TimeUnixNano: otlpTime, Count: 3, Sum: ptr(30.0), ExplicitBounds: []float64{10}, BucketCounts: []uint64{1, 2}}}}}}}}}}}},
		grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatalf("metrics over gRPC: %v", err)
	}
	_, err = collogspb.NewLogsServiceClient(conn).Export(keyed, &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: res, ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{goodLog()}}}}}})
	if err != nil {
		t.Fatalf("logs over gRPC: %v", err)
	}
	for q, want := range map[string]string{
		`METRICS WHERE service.name = "checkout" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z" AGGREGATE max GROUP BY name, le`: "" +
			"series {name=http.server.duration.count}: 2026-11-20T09:00:00Z=3\n" +
			"series {le=+Inf,name=http.server.duration.bucket}: 2026-11-20T09:00:00Z=3\n" +
			"series {le=10,name=http.server.duration.bucket}: 2026-11-20T09:00:00Z=1\n" +
			"series {name=http.server.duration.sum}: 2026-11-20T09:00:00Z=30\n" +
			"series {name=queue.depth}: 2026-11-20T09:00:00Z=7\n",
		`EVENTS WHERE source = "checkout" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`: `name="payment failed" category="Others" type="ERROR" source="checkout" message="payment failed" tags={host.name=web-1,service.name=checkout} ids=["urn:host:/web-1" "urn:service:/checkout"]`,
	} {
		if got := s.query(q); !sameLines(got, want) && !strings.Contains(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", q, got, want)
		}
	}
}

// httpExp2 is another OTLP/HTTP exporter to the server (an exporter is
// shut down with its provider).
func httpExp2(t *testing.T, s *server) sdktrace.SpanExporter {
	u, _ := url.Parse(s.hs.URL)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": s.token["agent"]}))
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// sameLines reports whether two texts have the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	if len(la) != len(lb) {
		return false
	}
	seen := map[string]int{}
	for _, l := range la {
		seen[l]++
	}
	for _, l := range lb {
		if seen[l]--; seen[l] < 0 {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// rawBytes is a gRPC codec that sends a request's bytes as they are, so
// that a test can send what no generated client would.
type rawBytes struct{}

func (rawBytes) Name() string { return "proto" }
func (rawBytes) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawBytes) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// TestGRPCErrors: the gRPC receiver answers with OTLP's status codes and
// stores nothing of a refused export.
func TestGRPCErrors(t *testing.T) {
	s := newServer(t, serverOpts{grpc: true})
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	span := mustMarshal(t, goodSpan(1))
	export := func(key string, body []byte) error {
		ctx := context.Background()
		if key != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "ApiKey "+key)
		}
		var out []byte
		return conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", body, &out, grpc.ForceCodecV2(rawBytes{}))
	}
	bad := append(nest([][]byte{span}, 2, 2, 1), nest([][]byte{append(span, 0x2a, 0x01, 0xff)}, 2, 2, 1)...) // a second span named "\xff"
	for _, tc := range []struct {
		name, key string
		body      []byte
		code      codes.Code
		msg       string
	}{
		{"no key", "", nest([][]byte{span}, 2, 2, 1), codes.Unauthenticated, "needs an API key"},
		{"unknown key", "tetra_nosuchkey", nest([][]byte{span}, 2, 2, 1), codes.Unauthenticated, "unknown or revoked"},
		{"reader key", s.token["reader"], nest([][]byte{span}, 2, 2, 1), codes.PermissionDenied, "needs role ingest"},
		{"not UTF-8", s.token["agent"], bad, codes.InvalidArgument, "resourceSpans[1].scopeSpans[0].spans[0].name: OTLP protobuf: at byte"},
		{"garbage", s.token["agent"], []byte("\xff\xff\xff"), codes.InvalidArgument, "OTLP protobuf: at byte 0"},
	} {
		err := export(tc.key, tc.body)
		if st, _ := status.FromError(err); st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.code, tc.msg)
		}
	}
	if got := s.query(`TRACES FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`); got != "(no data)\n" {
		t.Errorf("a refused export was stored: %s", got)
	}
	if err := export(s.token["agent"], nest([][]byte{span}, 2, 2, 1)); err != nil {
		t.Fatal(err)
	}
	// Stopped, the receiver answers Unavailable, which exporters retry.
	s.grpc.Stop(context.Background())
	err = export(s.token["agent"], nest([][]byte{span}, 2, 2, 1))
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable {
		t.Errorf("after Stop: %v", err)
	}
}

// TestGRPCBackPressure: spans whose services are new go through the
// writer as topology; with its queue full, the gRPC receiver answers
// ResourceExhausted with RetryInfo (which OTLP exporters honour), and
// the map returns those services again on the retry.
func TestGRPCBackPressure(t *testing.T) {
	bs := &blockingStore{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := newServer(t, serverOpts{grpc: true,
		store:    func(st *pebblestore.Store) graphstore.Store { bs.Store = st; return bs },
		pipeline: ingest.PipelineOptions{QueueLen: 1, AdmitWait: 20 * time.Millisecond, RetryAfter: 3 * time.Second},
	})
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	export := func(service string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", s.token["agent"])
		_, err := client.Export(ctx, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: otlpResource(service), ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{goodSpan(service[0])}}}}}})
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- export("a") }()
	<-bs.entered // the writer holds a's services
	go func() { errs <- export("b") }()
	waitFor(t, func() bool { return s.pipe.QueueDepth() == 1 })
	err = export("c")
	st, _ := status.FromError(err)
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if st.Code() != codes.ResourceExhausted || delay != 3*time.Second {
		t.Fatalf("with a full queue: %v, retry delay %v", err, delay)
	}
	close(bs.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("a queued export: %v", err)
		}
	}
	if err := export("c"); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got := s.query(`type = "service"`); strings.Count(got, `type="service"`) != 3 || !strings.Contains(got, `component "c"`) {
		t.Errorf("the services after the retry:\n%s", got)
	}
}

// TestOpenTelemetrySDKServerAddress: a call whose two spans are not
// parent and child (the callee's server span is in a trace of its own, as
// when a proxy or an uninstrumented hop is between them) is found through
// the address: the caller's client span names the server.address, and a
// server span of the callee gives it as its own. The client span comes
// first, over gRPC; the server span later, over HTTP.
func TestOpenTelemetrySDKServerAddress(t *testing.T) {
	s := newServer(t, serverOpts{grpc: true})
	ctx := context.Background()
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + s.token["agent"]}))
	if err != nil {
		t.Fatal(err)
	}
	web := provider(t, grpcExp, "web", "web-1")
	_, call := web.Tracer("shop").Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(0)),
		trace.WithAttributes(attribute.String("server.address", "cart.shop.svc"), attribute.Int("server.port", 8080)))
	call.End(trace.WithTimestamp(at(30)))
	if err := web.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.query(`type = "service"`); strings.Contains(got, `"cart"`) || !strings.Contains(got, `"web"`) {
		t.Fatalf("before cart's spans: %s", got)
	}
	cart := provider(t, httpExp2(t, s), "cart", "app-2")
	_, srv := cart.Tracer("shop").Start(ctx, "GET /items", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(5)),
		trace.WithAttributes(attribute.String("server.address", "cart.shop.svc")))
	srv.End(trace.WithTimestamp(at(25)))
	if err := cart.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := s.query(`type = "service"`)
	for _, want := range []string{`component "cart" type="service"`, `component "web" type="service"`,
		`relation "calls" "web" -> "cart" sources=opentelemetry:spans/urn:service:/web-calls-urn:service:/cart`} {
		if !strings.Contains(got, want) {
			t.Errorf("the services lack %s:\n%s", want, got)
		}
	}
}
