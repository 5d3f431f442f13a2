package ingest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tetrahq/tetra/traces"
)

// The one-pass decoder of trace exports (wireTraces) must decode every
// body exactly as the checked path does (checkWire, proto.Unmarshal, the
// generated types' mapping), and refuse none that path takes; the tests
// compare the two on bodies shaped as senders shape them, on bodies that
// use protobuf's freedoms (fields in any order, messages sent in parts,
// unknown fields, lists and maps as values), and on broken ones.

// checkedTraces decodes a trace export by the checked path alone.
func checkedTraces(b []byte) (*Payload, error) {
	msg := &coltracepb.ExportTraceServiceRequest{}
	if pr := checkWire(mdTraceRequest, b); pr != nil {
		return nil, fmt.Errorf("at %d: %s", pr.offset, pr.msg)
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return nil, err
	}
	pl, _, err := Decoder{}.DecodeOTLPRequest(msg)
	return pl, err
}

// sameDecode decodes b both ways and fails unless they agree; it reports
// whether the one-pass decoder took the body.
func sameDecode(t *testing.T, b []byte) bool {
	t.Helper()
	fast := &walker{dec: &dec{}}
	took := fast.wireTraces(b)
	slow, serr := checkedTraces(b)
	if !took {
		return false
	}
	ferr := fast.errs.err()
	if serr != nil && ferr == nil {
		t.Fatalf("the one-pass decoder took a body the checked path refuses (%v): %x", serr, b)
	}
	if ferr != nil {
		if serr == nil || ferr.Error() != serr.Error() {
			t.Fatalf("errors differ:\none-pass: %v\nchecked:  %v", ferr, serr)
		}
		return true
	}
	if got, want := normal(fast.tel.spans), normal(slow.Spans); !reflect.DeepEqual(got, want) {
		t.Fatalf("spans differ:\none-pass: %+v\nchecked:  %+v", got, want)
	}
	return true
}

// normal makes empty lists nil: the two paths differ only there.
func normal(spans []traces.Span) []traces.Span {
	out := make([]traces.Span, len(spans))
	for i, s := range spans {
		if len(s.Attributes) == 0 {
			s.Attributes = nil
		}
		if len(s.Resource) == 0 {
			s.Resource = nil
		}
		out[i] = s
	}
	return out
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// senderExport is an export as SDKs send it, with every kind of value.
func senderExport(rng *rand.Rand, spans int) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	for r := range 3 {
		rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			str("service.name", fmt.Sprintf("svc-%d", r)), str("host.name", "h"), str("service.name", "dup")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "otelhttp", Version: "1"}}, {}},
			SchemaUrl:  "https://opentelemetry.io/schemas/1.21.0"}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{}}}) // no resource
	values := []*commonpb.AnyValue{
		{Value: &commonpb.AnyValue_StringValue{StringValue: "GET"}},
		{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
		{Value: &commonpb.AnyValue_IntValue{IntValue: -42}},
		{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}},
		{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1, 0xab}}},
		{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_IntValue{IntValue: 1}}}}}},
		{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{str("a", "b")}}}},
		{},
		nil,
	}
	for i := range spans {
		id := make([]byte, 16)
		for j := range id {
			id[j] = byte(rng.UintN(256))
		}
		sp := &tracepb.Span{TraceId: id, SpanId: id[8:], Name: fmt.Sprintf("GET /%d", i), Kind: tracepb.Span_SpanKind(i % 7),
			StartTimeUnixNano: 1_763_000_000_000_000_000 + uint64(i), EndTimeUnixNano: 1_763_000_000_000_000_000 + uint64(i)*2,
			Status: &tracepb.Status{Code: tracepb.Status_StatusCode(i % 4), Message: "m"},
			Events: []*tracepb.Span_Event{{Name: "e", Attributes: []*commonpb.KeyValue{str("x", "y")}}},
			Links:  []*tracepb.Span_Link{{TraceId: id, SpanId: id[:8]}}, TraceState: "k=v", Flags: 1}
		if i%3 > 0 {
			sp.ParentSpanId = id[:8]
		}
		for k := range i % 5 {
			sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: fmt.Sprintf("k%d", k), Value: values[(i+k)%len(values)]})
		}
		rs := req.ResourceSpans[i%len(req.ResourceSpans)]
		ss := rs.ScopeSpans[i%len(rs.ScopeSpans)]
		ss.Spans = append(ss.Spans, sp)
	}
	return req
}

func TestWireTracesAsSent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 60} {
		b, err := proto.Marshal(senderExport(rng, n))
		if err != nil {
			t.Fatal(err)
		}
		if !sameDecode(t, b) {
			t.Fatalf("%d spans: the one-pass decoder refused a sound body", n)
		}
	}
}

// field is a field's wire form.
func field(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func marshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWireTracesFreedoms: what protobuf allows and SDKs do not send
// decodes as the protobuf module decodes it.
func TestWireTracesFreedoms(t *testing.T) {
	span := marshal(t, &tracepb.Span{TraceId: make16(1), SpanId: make16(2)[:8], Name: "n", StartTimeUnixNano: 5, EndTimeUnixNano: 9,
		Attributes: []*commonpb.KeyValue{str("a", "1")}, Status: &tracepb.Status{Message: "first"}})
	scope := field(fSpans, span)
	res1 := marshal(t, &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "a")}})
	res2 := marshal(t, &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("host.name", "b")}})
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 900, protowire.VarintType), 7)
	cases := map[string][]byte{
		"resource after the spans": field(fRequestResourceSpans, append(field(fScopeSpans, scope), field(fResource, res1)...)),
		"resource in two parts":    field(fRequestResourceSpans, append(append(field(fResource, res1), field(fScopeSpans, scope)...), field(fResource, res2)...)),
		"unknown fields": append(field(fRequestResourceSpans, append(append(unknown, field(fResource, append(res1, unknown...))...),
			field(fScopeSpans, append(scope, unknown...))...)), unknown...),
		"span fields again": field(fRequestResourceSpans, field(fScopeSpans, field(fSpans, append(span,
			marshal(t, &tracepb.Span{Name: "second", Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR},
				Attributes: []*commonpb.KeyValue{str("b", "2")}})...)))),
		"value in two parts": field(fRequestResourceSpans, field(fScopeSpans, field(fSpans, append(span,
			field(fAttributes, append(marshal(t, str("v", "x")), field(fValue, marshal(t, &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}))...))...)))),
		"list then scalar": field(fRequestResourceSpans, field(fScopeSpans, field(fSpans, append(span,
			field(fAttributes, append(marshal(t, &commonpb.KeyValue{Key: "l", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}}}),
				field(fValue, marshal(t, &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{}}))...))...)))),
		"empty": nil,
	}
	for name, b := range cases {
		if !sameDecode(t, b) {
			t.Errorf("%s: the one-pass decoder refused a sound body", name)
		}
	}
}

func make16(seed byte) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// TestWireTracesBroken: cut or corrupted bodies are refused or decoded
// as the checked path does, never taken when it refuses them.
func TestWireTracesBroken(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := marshal(t, senderExport(rng, 12))
	for n := range len(b) {
		sameDecode(t, b[:n])
	}
	for range 3000 {
		c := append([]byte(nil), b...)
		for range 1 + rng.IntN(3) {
			c[rng.IntN(len(c))] = byte(rng.UintN(256))
		}
		sameDecode(t, c)
	}
}

// TestDecodeOTLPBrokenMessage: a broken body still gets the checked
// path's message with its field and offset.
func TestDecodeOTLPBrokenMessage(t *testing.T) {
	b := field(fRequestResourceSpans, field(fScopeSpans, field(fSpans, field(fName, []byte{0xff}))))
	_, _, err := Decoder{}.DecodeOTLP(SignalTraces, b)
	want := "ingest: resourceSpans[0].scopeSpans[0].spans[0].name: OTLP protobuf: at byte 7: the string is not valid UTF-8"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func FuzzWireTraces(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 5} {
		b, _ := proto.Marshal(senderExport(rng, n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameDecode(t, b) })
}

// BenchmarkDecodeOTLPTraces compares the one-pass decoder with the checked
// path on an export of 500 spans:
//
//	go test -run '^$' -bench DecodeOTLPTraces -benchmem ./ingest/
func BenchmarkDecodeOTLPTraces(b *testing.B) {
	body, err := proto.Marshal(senderExport(rand.New(rand.NewPCG(7, 8)), 500))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("one-pass", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := (Decoder{}).DecodeOTLP(SignalTraces, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checked", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := checkedTraces(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
