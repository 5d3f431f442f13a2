package receiver_test

import (
	"bytes"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tetrahq/tetra/ingest/receiver"
)

// The OTLP requests of the tests: one good item of each signal, at
// 2026-11-20T10:00:00Z, from the service checkout on the host web-1.
const otlpTime = 1795168800000000000

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func otlpResource(service string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", service), strAttr("host.name", "web-1")}}
}

func goodSpan(id byte) *tracepb.Span {
	return &tracepb.Span{TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: bytes.Repeat([]byte{id}, 8), Name: "GET /cart",
		Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: otlpTime, EndTimeUnixNano: otlpTime + 5e6}
}

func goodMetric() *metricspb.Metric {
	return &metricspb.Metric{Name: "queue.depth", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
		DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: otlpTime, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7}}}}}}
}

func goodLog() *logspb.LogRecord {
	return &logspb.LogRecord{TimeUnixNano: otlpTime, SeverityText: "ERROR",
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "payment failed"}}}
}

// nest wraps the wire form of items as the repeated field fields[0] of a
// message, that message as the field fields[1] of the next, and so on.
func nest(items [][]byte, fields ...protowire.Number) []byte {
	var b []byte
	for _, it := range items {
		b = protowire.AppendBytes(protowire.AppendTag(b, fields[0], protowire.BytesType), it)
	}
	for _, f := range fields[1:] {
		b = protowire.AppendBytes(protowire.AppendTag(nil, f, protowire.BytesType), b)
	}
	return b
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMalformedOTLP sends bad OTLP/HTTP exports of each signal, each with
// a good item beside the bad one: each gets a clear 4xx naming the field
// (and, for protobuf, the byte offset), and nothing of it is stored.
func TestMalformedOTLP(t *testing.T) {
	s := newServer(t, serverOpts{rc: receiver.Config{MaxBodyBytes: 64 << 10, MaxDecodedBytes: 128 << 10}})
	span, metric, log := mustMarshal(t, goodSpan(1)), mustMarshal(t, goodMetric()), mustMarshal(t, goodLog())
	// The items in their export request: the three signals' requests
	// number their fields alike (resource 1, scope 2, items 2).
	traces := func(items ...[]byte) []byte { return nest(items, 2, 2, 1) }
	metrics, logs := traces, traces
	field := func(b []byte, n protowire.Number, typ protowire.Type, v []byte) []byte {
		return append(protowire.AppendTag(bytes.Clone(b), n, typ), v...)
	}
	varint := protowire.AppendVarint(nil, 7)
	str := func(s string) []byte { return protowire.AppendString(nil, s) }
	bigName := strings.Repeat("x", 200<<10)
	pb := "application/x-protobuf"
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
		encoding, key     string
		status            int
		msg, problemPath  string
	}{
		{name: "garbage", path: "/v1/traces", body: []byte("\xff\xff\xff not protobuf"), status: 400,
			msg: "OTLP protobuf: at byte 0"},
		{name: "truncated", path: "/v1/traces", body: traces(span, span)[:40], status: 400,
			msg: "unexpected EOF", problemPath: "resourceSpans[0]"},
		{name: "span name a varint", path: "/v1/traces", body: traces(span, field(span, 5, protowire.VarintType, varint)), status: 400,
			msg: "want a string, got wire type varint", problemPath: "resourceSpans[0].scopeSpans[0].spans[1].name"},
		{name: "span name not UTF-8", path: "/v1/traces", body: traces(span, field(span, 5, protowire.BytesType, str("\xff\xfe"))), status: 400,
			msg: "not valid UTF-8", problemPath: "resourceSpans[0].scopeSpans[0].spans[1].name"},
		{name: "span without ids", path: "/v1/traces", body: traces(span, mustMarshal(t, &tracepb.Span{Name: "x", StartTimeUnixNano: otlpTime, EndTimeUnixNano: otlpTime})), status: 400,
			msg: "a span needs a traceId of 16 bytes", problemPath: "resourceSpans[0].scopeSpans[0].spans[1]"},
		{name: "span ends before it starts", path: "/v1/traces", body: traces(span, field(span, 8, protowire.Fixed64Type, protowire.AppendFixed64(nil, 1))), status: 400,
			msg: "the span ends before it starts", problemPath: "resourceSpans[0].scopeSpans[0].spans[1].endTimeUnixNano"},
		{name: "metric name a message", path: "/v1/metrics", body: metrics(metric, field(metric, 1, protowire.Fixed32Type, []byte{1, 2, 3, 4})), status: 400,
			msg: "want a string, got wire type fixed32", problemPath: "resourceMetrics[0].scopeMetrics[0].metrics[1].name"},
		{name: "gauge point without time", path: "/v1/metrics", body: metrics(metric, mustMarshal(t, &metricspb.Metric{Name: "m",
			Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{}}}}})), status: 400,
			msg: "missing", problemPath: "resourceMetrics[0].scopeMetrics[0].metrics[1].gauge.dataPoints[0].timeUnixNano"},
		{name: "log body a varint", path: "/v1/logs", body: logs(log, field(log, 5, protowire.VarintType, varint)), status: 400,
			msg: "want a message AnyValue, got wire type varint", problemPath: "resourceLogs[0].scopeLogs[0].logRecords[1].body"},
		{name: "log without time", path: "/v1/logs", body: logs(log, mustMarshal(t, &logspb.LogRecord{SeverityText: "INFO"})), status: 400,
			msg: "needs timeUnixNano or observedTimeUnixNano", problemPath: "resourceLogs[0].scopeLogs[0].logRecords[1]"},
		{name: "JSON wrong type", path: "/v1/logs", ctype: "application/json",
			body:   []byte(`{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "1795168800000000000", "droppedAttributesCount": "many"}]}]}]}`),
			status: 400, msg: "line 1:"},
		{name: "JSON truncated", path: "/v1/metrics", ctype: "application/json", body: []byte(`{"resourceMetrics": [{"scopeMet`),
			status: 400, msg: "invalid JSON at line 1"},
		{name: "JSON unknown fields only", path: "/v1/traces", ctype: "application/json", body: []byte(`{"spans": []}`),
			status: 400, msg: `got a key "spans"`},
		{name: "bad gzip", path: "/v1/metrics", body: metrics(metric), encoding: "raw-gzip", status: 400, msg: "is not gzip data"},
		{name: "text/plain", path: "/v1/logs", ctype: "text/plain", body: logs(log), status: 415, msg: "Content-Type"},
		{name: "too large", path: "/v1/logs", body: logs(log, mustMarshal(t, &logspb.LogRecord{TimeUnixNano: otlpTime,
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: bigName}}})), status: 413, msg: "larger than 65536 bytes"},
		{name: "no key", path: "/v1/traces", body: traces(span), key: "none", status: 401},
		{name: "reader key", path: "/v1/metrics", body: metrics(metric), key: "reader", status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rq := request{path: tc.path, body: tc.body, key: "agent", headers: map[string]string{"Content-Type": pb}}
			if tc.ctype != "" {
				rq.headers["Content-Type"] = tc.ctype
			}
			switch tc.key {
			case "none":
				rq.key = ""
			case "":
			default:
				rq.key = tc.key
			}
			if tc.encoding == "raw-gzip" {
				rq.headers["Content-Encoding"] = "gzip"
			}
			checkError(t, s.post(rq), tc.status, tc.msg, tc.problemPath)
		})
	}
	// Nothing of any refused export was stored, not the good items.
	for _, q := range []string{
		`TRACES FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`,
		`METRICS WHERE name = "queue.depth" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`,
		`EVENTS FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`,
	} {
		if got := s.query(q); got != "(no data)\n" {
			t.Errorf("%s: %s", q, got)
		}
	}
	// The good items alone are taken, answered with an empty response.
	for path, body := range map[string][]byte{"/v1/traces": traces(span), "/v1/metrics": metrics(metric), "/v1/logs": logs(log)} {
		r := s.post(request{path: path, body: body, key: "agent", headers: map[string]string{"Content-Type": pb}})
		if r.status != 200 || len(r.body) != 0 {
			t.Errorf("%s: %d %q", path, r.status, r.body)
		}
	}
	if got := s.query(`EVENTS FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`); !strings.Contains(got, `message="payment failed"`) {
		t.Errorf("the good log is not an event: %s", got)
	}
}

// TestOTLPProtobufAll: each signal's protobuf export, built with the
// proto module's request types, is stored and answered in protobuf.
func TestOTLPProtobufAll(t *testing.T) {
	s := newServer(t, serverOpts{})
	res := otlpResource("checkout")
	reqs := map[string]proto.Message{
		"/v1/traces": &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{Resource: res,
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{goodSpan(1)}}}}}},
		"/v1/metrics": &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{Resource: res,
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{goodMetric(), {Name: "nothing"}}}}}}},
		"/v1/logs": &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{Resource: res,
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{goodLog()}}}}}},
	}
	for path, m := range reqs {
		r := s.post(request{path: path, body: mustMarshal(t, m), key: "agent", encoding: "gzip",
			headers: map[string]string{"Content-Type": "application/x-protobuf"}})
		if r.status != 200 || r.header.Get("Content-Type") != "application/x-protobuf" {
			t.Fatalf("%s: %d %q", path, r.status, r.body)
		}
		// The metric without data is a warning, in OTLP's partial success.
		if path == "/v1/metrics" {
			var resp colmetricspb.ExportMetricsServiceResponse
			if err := proto.Unmarshal(r.body, &resp); err != nil {
				t.Fatal(err)
			}
			if got := resp.GetPartialSuccess(); got.GetRejectedDataPoints() != 0 ||
				!strings.Contains(got.GetErrorMessage(), `resourceMetrics[0].scopeMetrics[0].metrics[1]: the metric "nothing" has no data`) {
				t.Errorf("partial success %v", got)
			}
		} else if len(r.body) != 0 {
			t.Errorf("%s: a response with content %q", path, r.body)
		}
	}
	for q, want := range map[string]string{
		`TRACES WHERE service = "checkout" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`:  `span abababababababababababababababab/0101010101010101 parent="" service="checkout" name="GET /cart" kind="server" status="unset" start=2026-11-20T10:00:00Z duration=5ms`,
		`METRICS WHERE name = "queue.depth" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`: `series {host.name=web-1,name=queue.depth,service.name=checkout}: 2026-11-20T10:00:00Z=7`,
		`EVENTS WHERE source = "checkout" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`:   `name="payment failed" category="Others" type="ERROR" source="checkout" message="payment failed"`,
	} {
		if got := s.query(q); !strings.Contains(got, want) {
			t.Errorf("%s:\n%s\nwant %s", q, got, want)
		}
	}
}
