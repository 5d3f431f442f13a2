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
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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
