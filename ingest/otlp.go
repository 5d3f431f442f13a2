package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// OTLP/JSON documents ({"resourceSpans": …}, {"resourceMetrics": …},
// {"resourceLogs": …}, the bodies of OTLP/HTTP export requests) are decoded
// with the OpenTelemetry proto module's types and protojson. OTLP/JSON
// writes trace and span ids in hexadecimal where protojson expects base64,
// so ids are rewritten first (and checked, with their path). The mapping:
//
//   - spans: the resource's service.name is the service; the resource
//     attributes are the span's resource, its attributes its attributes;
//     SPAN_KIND_SERVER → server (and so on); STATUS_CODE_ERROR → error,
//     _OK → ok, else unset; duration = end − start.
//   - metrics: gauges and sums give one series per data point attribute
//     set, named by the metric, tagged with the resource and point
//     attributes; histograms give <name>.count and <name>.sum, summaries
//     those and <name> tagged quantile=<q>. Times become milliseconds.
//   - logs become events: the name is the event.name attribute, else the
//     body's first line (at most 120 bytes); the message is the body; the
//     type is the severity text; the category is the event.category
//     attribute (else Others); the source is the service.name.

var otlpKeys = []string{"resourceSpans", "resourceMetrics", "resourceLogs"}

// otlp decodes an OTLP/JSON document.
func (w *walker) otlp(p *path, raw json.RawMessage) {
	fixed, ok := w.hexToBase64(p, raw)
	if !ok {
		return
	}
	o := splitObject(raw)
	var msg proto.Message
	switch {
	case o.has("resourceSpans"):
		msg = &tracepb.TracesData{}
	case o.has("resourceMetrics"):
		msg = &metricspb.MetricsData{}
	default:
		msg = &logspb.LogsData{}
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, msg); err != nil {
		w.failf(p, "OTLP: %v", err)
		return
	}
	switch m := msg.(type) {
	case *tracepb.TracesData:
		w.otlpTraces(p.field("resourceSpans"), m)
	case *metricspb.MetricsData:
		w.otlpMetrics(p.field("resourceMetrics"), m)
	case *logspb.LogsData:
		w.otlpLogs(p.field("resourceLogs"), m)
	}
}

var idKeys = map[string]int{"traceId": 16, "spanId": 8, "parentSpanId": 8}

// hexToBase64 rewrites the hexadecimal ids of an OTLP/JSON document into
// the base64 protojson reads.
func (w *walker) hexToBase64(p *path, raw json.RawMessage) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		w.failf(p, "%v", err)
		return nil, false
	}
	ok := w.rewriteIDs(p, v)
	out, err := json.Marshal(v)
	if err != nil {
		w.failf(p, "%v", err)
		return nil, false
	}
	return out, ok
}

func (w *walker) rewriteIDs(p *path, v any) bool {
	ok := true
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			n, isID := idKeys[k]
			s, isString := x.(string)
			if !isID || !isString {
				ok = w.rewriteIDs(p.field(k), x) && ok
				continue
			}
			if s == "" {
				continue
			}
			b, err := hex.DecodeString(s)
			if err != nil || len(b) != n {
				w.failf(p.field(k), "%q is not %d hexadecimal bytes", s, n)
				ok = false
				continue
			}
			v[k] = base64.StdEncoding.EncodeToString(b)
		}
	case []any:
		for i, x := range v {
			ok = w.rewriteIDs(p.at(i), x) && ok
		}
	}
	return ok
}

// attrs turns OTLP attributes into tags.
func attrs(kvs []*commonpb.KeyValue) telemetry.Tags {
	out := make(telemetry.Tags, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, telemetry.Tag{Key: kv.GetKey(), Value: anyString(kv.GetValue())})
	}
	return out
}

func resourceAttrs(r *resourcepb.Resource) telemetry.Tags { return attrs(r.GetAttributes()) }

// anyString prints an attribute value.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case nil:
		return ""
	}
	b, _ := protojson.Marshal(v)
	return string(b)
}

var spanKinds = map[tracepb.Span_SpanKind]string{
	tracepb.Span_SPAN_KIND_SERVER: "server", tracepb.Span_SPAN_KIND_CLIENT: "client",
	tracepb.Span_SPAN_KIND_PRODUCER: "producer", tracepb.Span_SPAN_KIND_CONSUMER: "consumer",
	tracepb.Span_SPAN_KIND_INTERNAL: "internal",
}

func (w *walker) otlpTraces(p *path, td *tracepb.TracesData) {
	for i, rs := range td.GetResourceSpans() {
		res := sortedTags(resourceAttrs(rs.GetResource()))
		service, _ := res.First("service.name")
		for j, ss := range rs.GetScopeSpans() {
			sp := p.at(i).field("scopeSpans").at(j).field("spans")
			for k, s := range ss.GetSpans() {
				w.otlpSpan(sp.at(k), s, service, res)
			}
		}
	}
}

func (w *walker) otlpSpan(p *path, s *tracepb.Span, service string, res telemetry.Tags) {
	out := traces.Span{
		TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentID: hex.EncodeToString(s.GetParentSpanId()), Service: service, Name: s.GetName(),
		Kind: spanKinds[s.GetKind()], Start: int64(s.GetStartTimeUnixNano()),
		Attributes: sortedTags(attrs(s.GetAttributes())), Resource: res,
		StatusMessage: s.GetStatus().GetMessage(),
	}
	switch s.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_ERROR:
		out.Status = "error"
	case tracepb.Status_STATUS_CODE_OK:
		out.Status = "ok"
	default:
		out.Status = "unset"
	}
	ok := true
	if end := s.GetEndTimeUnixNano(); end < s.GetStartTimeUnixNano() {
		w.failf(p.field("endTimeUnixNano"), "the span ends before it starts")
		ok = false
	} else {
		out.Duration = int64(end - s.GetStartTimeUnixNano())
	}
	if len(s.GetTraceId()) != 16 || len(s.GetSpanId()) != 8 {
		w.failf(p, "a span needs a traceId of 16 bytes and a spanId of 8")
		ok = false
	}
	w.addSpan(p, out, ok)
}

func (w *walker) otlpMetrics(p *path, md *metricspb.MetricsData) {
	for i, rm := range md.GetResourceMetrics() {
		res := resourceAttrs(rm.GetResource())
		for j, sm := range rm.GetScopeMetrics() {
			mp := p.at(i).field("scopeMetrics").at(j).field("metrics")
			for k, m := range sm.GetMetrics() {
				w.otlpMetric(mp.at(k), m, res)
			}
		}
	}
}

// otlpMetric decodes one metric's data points.
func (w *walker) otlpMetric(p *path, m *metricspb.Metric, res telemetry.Tags) {
	name := m.GetName()
	if name == "" {
		w.failf(p.field("name"), "missing")
		return
	}
	point := func(dp string, attrsOf []*commonpb.KeyValue, t uint64, series string, v float64, extra ...telemetry.Tag) {
		tags := append(append(append(telemetry.Tags{}, res...), attrs(attrsOf)...), extra...)
		ms := int64(t / uint64(time.Millisecond))
		w.addSeriesSample(p.field(dp), telemetry.Series{Name: series, Tags: tags}, telemetry.Sample{T: ms, V: v}, true)
	}
	for _, dp := range append(m.GetGauge().GetDataPoints(), m.GetSum().GetDataPoints()...) {
		v := dp.GetAsDouble()
		if _, isInt := dp.GetValue().(*metricspb.NumberDataPoint_AsInt); isInt {
			v = float64(dp.GetAsInt())
		}
		point("dataPoints", dp.GetAttributes(), dp.GetTimeUnixNano(), name, v)
	}
	for _, dp := range m.GetHistogram().GetDataPoints() {
		point("histogram", dp.GetAttributes(), dp.GetTimeUnixNano(), name+".count", float64(dp.GetCount()))
		point("histogram", dp.GetAttributes(), dp.GetTimeUnixNano(), name+".sum", dp.GetSum())
	}
	for _, dp := range m.GetSummary().GetDataPoints() {
		point("summary", dp.GetAttributes(), dp.GetTimeUnixNano(), name+".count", float64(dp.GetCount()))
		point("summary", dp.GetAttributes(), dp.GetTimeUnixNano(), name+".sum", dp.GetSum())
		for _, q := range dp.GetQuantileValues() {
			point("summary", dp.GetAttributes(), dp.GetTimeUnixNano(), name, q.GetValue(),
				telemetry.Tag{Key: "quantile", Value: strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)})
		}
	}
}

func (w *walker) otlpLogs(p *path, ld *logspb.LogsData) {
	for i, rl := range ld.GetResourceLogs() {
		res := resourceAttrs(rl.GetResource())
		service, _ := sortedTags(append(telemetry.Tags{}, res...)).First("service.name")
		for j, sl := range rl.GetScopeLogs() {
			lp := p.at(i).field("scopeLogs").at(j).field("logRecords")
			for k, r := range sl.GetLogRecords() {
				w.otlpLog(lp.at(k), r, res, service)
			}
		}
	}
}

func (w *walker) otlpLog(p *path, r *logspb.LogRecord, res telemetry.Tags, service string) {
	t := r.GetTimeUnixNano()
	if t == 0 {
		t = r.GetObservedTimeUnixNano()
	}
	body := anyString(r.GetBody())
	rec := attrs(r.GetAttributes())
	e := telemetry.Event{Time: int64(t / uint64(time.Millisecond)), Message: body, Type: r.GetSeverityText(), Source: service}
	if e.Source == "" {
		e.Source = "opentelemetry"
	}
	all := sortedTags(append(append(telemetry.Tags{}, res...), rec...))
	e.Name, _ = all.First("event.name")
	if e.Name == "" {
		e.Name, _, _ = strings.Cut(body, "\n")
		if len(e.Name) > 120 {
			e.Name = e.Name[:120]
		}
	}
	cat, _ := all.First("event.category")
	e.Category = telemetry.CanonicalCategory(cat)
	e.Tags = all
	if e.Time == 0 {
		w.failf(p, "a log record needs timeUnixNano or observedTimeUnixNano")
		return
	}
	e.ID = telemetry.EventID(&e)
	if w.checkData(p, telemetry.CheckEvent(&e)) {
		w.tel.events = append(w.tel.events, e)
	}
}

// DecodeOTLPTraces decodes the protobuf body of an OTLP/HTTP trace export
// (an ExportTraceServiceRequest, which has TracesData's wire form) into
// spans, mapped as OTLP/JSON documents are; errors name the span's path.
func (dc Decoder) DecodeOTLPTraces(b []byte) (*Payload, error) {
	if limit := dc.maxBytes(); int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	w := &walker{dec: &dec{}, defaultSource: dc.DefaultSource}
	var td tracepb.TracesData
	if err := proto.Unmarshal(b, &td); err != nil {
		w.failf(nil, "OTLP protobuf: %v", err)
		return nil, w.errs.err()
	}
	w.otlpTraces((&path{}).field("resourceSpans"), &td)
	if err := w.errs.err(); err != nil {
		return nil, err
	}
	return w.payload(), nil
}
