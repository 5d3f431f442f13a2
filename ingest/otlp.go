package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
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

// OTLP documents are decoded with the OpenTelemetry proto module's types:
// protobuf export requests (DecodeOTLP), the same requests already decoded
// by gRPC (DecodeOTLPRequest), and OTLP/JSON documents ({"resourceSpans":
// …}, {"resourceMetrics": …}, {"resourceLogs": …}) with protojson. OTLP/JSON
// writes trace and span ids in hexadecimal where protojson expects base64,
// so ids are rewritten first (and checked, with their path). Spans map so
// (metrics and logs: otlpdata.go):
//
//   - the resource's service.name is the service; the resource
//     attributes are the span's resource, its attributes its attributes;
//     SPAN_KIND_SERVER → server (and so on); STATUS_CODE_ERROR → error,
//     _OK → ok, else unset; duration = end − start.

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
		w.failf(p, "OTLP: %s", protoMessage(err))
		return
	}
	switch m := msg.(type) {
	case *tracepb.TracesData:
		w.otlpTraces(p.field("resourceSpans"), m.GetResourceSpans())
	case *metricspb.MetricsData:
		w.otlpMetrics(p.field("resourceMetrics"), m.GetResourceMetrics())
	case *logspb.LogsData:
		w.otlpLogs(p.field("resourceLogs"), m.GetResourceLogs())
	}
}

var idKeys = map[string]int{"traceId": 16, "spanId": 8, "parentSpanId": 8}

// hexToBase64 rewrites the hexadecimal ids of an OTLP/JSON document into
// the base64 protojson reads, in place: each id keeps its bytes' length
// (the base64 is shorter; spaces after the closing quote make up the
// rest), so that the line and column of any error protojson reports are
// those of the document as sent.
func (w *walker) hexToBase64(p *path, raw json.RawMessage) ([]byte, bool) {
	out := bytes.Clone(raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	type level struct {
		p      *path
		object bool
		key    string // the member whose value comes next; "" when a key comes next
		index  int
	}
	stack := []level{{p: p}}
	ok := true
	for {
		tok, err := dec.Token()
		if err != nil {
			if err != io.EOF {
				w.failf(p, "%v", err)
				return nil, false
			}
			return out, ok
		}
		top := &stack[len(stack)-1]
		if top.object && top.key == "" {
			if k, isKey := tok.(string); isKey {
				top.key = k
				continue
			}
		}
		here := top.p // where this value is
		if top.object {
			here = top.p.field(top.key)
		} else if len(stack) > 1 {
			here = top.p.at(top.index)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, level{p: here, object: tok == json.Delim('{')})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if s, isString := tok.(string); isString && top.object && idKeys[top.key] > 0 && s != "" {
				ok = rewriteID(w, here, out, int(dec.InputOffset()), s, idKeys[top.key]) && ok
			}
		}
		// a value ended: the container's next one
		top = &stack[len(stack)-1]
		top.key = ""
		top.index++
	}
}

// rewriteID writes the base64 of the hexadecimal id s, of n bytes, over
// its string literal, which ends at end in b.
func rewriteID(w *walker, p *path, b []byte, end int, s string, n int) bool {
	id, err := hex.DecodeString(s)
	if err != nil || len(id) != n {
		w.failf(p, "%q is not %d hexadecimal bytes", s, n)
		return false
	}
	start := end - len(s) - 2 // hexadecimal digits need no escapes
	enc := `"` + base64.StdEncoding.EncodeToString(id) + `"`
	copy(b[start:end], enc+strings.Repeat(" ", len(s)+2-len(enc)))
	return true
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

// anyString prints an attribute value: a scalar as text, a list or a
// map as plain JSON (["a",1], {"k":"v"}).
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
	b, _ := json.Marshal(anyPlain(v, 0))
	return string(b)
}

// anyPlain turns a value into what encoding/json prints plainly. Nesting
// past 64 levels is cut (protobuf allows 100).
func anyPlain(v *commonpb.AnyValue, depth int) any {
	if depth > 64 {
		return "…"
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, anyPlain(e, depth+1))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = anyPlain(kv.GetValue(), depth+1)
		}
		return out
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	}
	return anyString(v)
}

var spanKinds = map[tracepb.Span_SpanKind]string{
	tracepb.Span_SPAN_KIND_SERVER: "server", tracepb.Span_SPAN_KIND_CLIENT: "client",
	tracepb.Span_SPAN_KIND_PRODUCER: "producer", tracepb.Span_SPAN_KIND_CONSUMER: "consumer",
	tracepb.Span_SPAN_KIND_INTERNAL: "internal",
}

func (w *walker) otlpTraces(p *path, rss []*tracepb.ResourceSpans) {
	n := 0
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	w.tel.spans = slices.Grow(w.tel.spans, n)
	for i, rs := range rss {
		res := sortedTags(resourceAttrs(rs.GetResource()))
		service, _ := res.First("service.name")
		for j, ss := range rs.GetScopeSpans() {
			sp := p.at(i).field("scopeSpans").at(j).field("spans")
			for k, s := range ss.GetSpans() {
				f := otlpSpanFields{traceID: s.GetTraceId(), spanID: s.GetSpanId(), parentID: s.GetParentSpanId(),
					name: s.GetName(), kind: s.GetKind(), start: s.GetStartTimeUnixNano(), end: s.GetEndTimeUnixNano(),
					attrs: attrs(s.GetAttributes()), statusCode: s.GetStatus().GetCode(), statusMessage: s.GetStatus().GetMessage()}
				w.otlpSpan(func() *path { return sp.at(k) }, &f, service, res)
			}
		}
	}
}

// otlpSpanFields are the fields of an OTLP span that are mapped, from a
// decoded message (otlpTraces) or straight from the wire (wireTraces).
type otlpSpanFields struct {
	traceID, spanID, parentID []byte
	name                      string
	kind                      tracepb.Span_SpanKind
	start, end                uint64
	attrs                     telemetry.Tags
	statusCode                tracepb.Status_StatusCode
	statusMessage             string
}

// otlpSpan maps a span and adds it; p is its path, built only for an
// error.
func (w *walker) otlpSpan(p func() *path, s *otlpSpanFields, service string, res telemetry.Tags) {
	tid, sid, pid := hexIDs(s.traceID, s.spanID, s.parentID)
	out := traces.Span{
		TraceID: tid, SpanID: sid, ParentID: pid, Service: service, Name: s.name,
		Kind: spanKinds[s.kind], Start: int64(s.start),
		Attributes: sortedTags(s.attrs), Resource: res,
		StatusMessage: s.statusMessage,
	}
	switch s.statusCode {
	case tracepb.Status_STATUS_CODE_ERROR:
		out.Status = "error"
	case tracepb.Status_STATUS_CODE_OK:
		out.Status = "ok"
	default:
		out.Status = "unset"
	}
	ok := true
	if s.end < s.start {
		w.failf(p().field("endTimeUnixNano"), "the span ends before it starts")
		ok = false
	} else {
		out.Duration = int64(s.end - s.start)
	}
	if len(s.traceID) != 16 || len(s.spanID) != 8 {
		w.failf(p(), "a span needs a traceId of 16 bytes and a spanId of 8")
		ok = false
	}
	w.addSpan(p, &out, ok)
}

// hexIDs prints a span's three ids in hexadecimal, in one allocation.
func hexIDs(trace, span, parent []byte) (string, string, string) {
	all := string(hex.AppendEncode(hex.AppendEncode(hex.AppendEncode(make([]byte, 0, 2*(len(trace)+len(span)+len(parent))), trace), span), parent))
	a, b := 2*len(trace), 2*(len(trace)+len(span))
	return all[:a], all[a:b], all[b:]
}

// Signal is one of OTLP's kinds of data: each has its export route
// (/v1/traces, /v1/metrics, /v1/logs), its gRPC service and its request.
type Signal uint8

// The signals.
const (
	SignalTraces Signal = iota + 1
	SignalMetrics
	SignalLogs
)

func (s Signal) String() string {
	switch s {
	case SignalTraces:
		return "traces"
	case SignalMetrics:
		return "metrics"
	case SignalLogs:
		return "logs"
	}
	return fmt.Sprintf("Signal(%d)", uint8(s))
}

// key is the top-level key of the signal's export request in OTLP/JSON.
func (s Signal) key() string { return otlpKeys[s-1] }

// request names the signal's export request, for errors.
func (s Signal) request() string {
	return [...]string{"ExportTraceServiceRequest", "ExportMetricsServiceRequest", "ExportLogsServiceRequest"}[s-1]
}

// message returns an empty export request of the signal; its wire form
// is the same as TracesData's, MetricsData's and LogsData's.
func (s Signal) message() proto.Message {
	switch s {
	case SignalTraces:
		return &coltracepb.ExportTraceServiceRequest{}
	case SignalMetrics:
		return &colmetricspb.ExportMetricsServiceRequest{}
	}
	return &collogspb.ExportLogsServiceRequest{}
}

// DecodeOTLP decodes the protobuf body of an OTLP/HTTP export request of
// a signal into spans, samples or events (the mapping above). A body that
// does not parse, a string that is not UTF-8 or a field of the wrong wire
// type is an error naming the field and the byte offset; one with
// unmappable data an *ErrorList with the path of each problem.
func (dc Decoder) DecodeOTLP(sig Signal, b []byte) (*Payload, *Warnings, error) {
	if limit := dc.maxBytes(); int64(len(b)) > limit {
		return nil, nil, &TooLargeError{Limit: limit}
	}
	if sig == SignalTraces {
		w := &walker{dec: &dec{}, defaultSource: dc.DefaultSource}
		if w.wireTraces(b) {
			return w.result()
		}
		// The wire form has a problem: the checked path below names it.
	}
	msg := sig.message()
	if pr := checkWire(msg.ProtoReflect().Descriptor(), b); pr != nil {
		d := &dec{}
		d.failf(pr.path, "OTLP protobuf: at byte %d: %s", pr.offset, protoMessage(errors.New(pr.msg)))
		return nil, nil, d.errs.err()
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		d := &dec{}
		d.failf(nil, "OTLP protobuf: %s", protoMessage(err))
		return nil, nil, d.errs.err()
	}
	return dc.DecodeOTLPRequest(msg)
}

// protoMessage is a protobuf error's message without its "proto:" prefix,
// whose space the protobuf module randomizes (a non-breaking one at times)
// so that nobody relies on its text: ours must be stable.
func protoMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	return strings.TrimPrefix(msg, "proto: ")
}

// DecodeOTLPRequest maps an export request already decoded (what an
// OTLP/gRPC service receives): an *ExportTraceServiceRequest,
// *ExportMetricsServiceRequest or *ExportLogsServiceRequest.
func (dc Decoder) DecodeOTLPRequest(msg proto.Message) (*Payload, *Warnings, error) {
	w := &walker{dec: &dec{}, defaultSource: dc.DefaultSource}
	switch m := msg.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		w.otlpTraces((&path{}).field("resourceSpans"), m.GetResourceSpans())
	case *colmetricspb.ExportMetricsServiceRequest:
		w.otlpMetrics((&path{}).field("resourceMetrics"), m.GetResourceMetrics())
	case *collogspb.ExportLogsServiceRequest:
		w.otlpLogs((&path{}).field("resourceLogs"), m.GetResourceLogs())
	default:
		return nil, nil, fmt.Errorf("ingest: %T is not an OTLP export request", msg)
	}
	return w.result()
}

// result is what a walker decoded: its payload and warnings, or its
// errors.
func (w *walker) result() (*Payload, *Warnings, error) {
	if err := w.errs.err(); err != nil {
		return nil, nil, err
	}
	return w.payload(), &w.warns, nil
}

// DecodeOTLPJSON decodes the OTLP/JSON body of an export request of a
// signal, as DecodePayloadChecked does, refusing any other document: a
// body for /v1/traces must be {"resourceSpans": […]}.
func (dc Decoder) DecodeOTLPJSON(sig Signal, b []byte) (*Payload, *Warnings, error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) == nil {
		for k := range top {
			if k != sig.key() {
				d := &dec{}
				d.failf(nil, "an OTLP %s export is an %s ({%q: […]}); got a key %q", sig, sig.request(), sig.key(), k)
				return nil, nil, d.errs.err()
			}
		}
	}
	pl, warns, err := dc.DecodePayloadChecked(b)
	if err == nil && (len(pl.Topologies) > 0 || sig != SignalTraces && len(pl.Spans) > 0 ||
		sig != SignalMetrics && len(pl.Metrics) > 0 || sig != SignalLogs && len(pl.Events) > 0) {
		d := &dec{}
		d.failf(nil, "an OTLP %s export is an %s ({%q: […]})", sig, sig.request(), sig.key())
		return nil, nil, d.errs.err()
	}
	return pl, warns, err
}
