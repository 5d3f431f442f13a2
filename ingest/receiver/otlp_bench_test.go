package receiver_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkOTLPSpans reports spans/s through OTLP/HTTP end to end in the
// embedded mode: real HTTP, protobuf as the SDKs' exporters send it, the
// checked decoder, the span store (Pebble, synced) and the service map.
// Each op is one export of 500 spans (50 traces of 10 spans over 10
// services on 5 hosts, attributes as HTTP instrumentation sets them), sent
// by 8 clients at once; every op has new trace ids (random, so nothing is
// helped by key locality). Re-run with
//
//	flock /tmp/tetra-bench.lock go test -run '^$' -bench OTLPSpans -benchtime 400x ./ingest/receiver/
func BenchmarkOTLPSpans(b *testing.B) {
	s := newServer(b, serverOpts{sync: true})
	defer s.stop()
	const clients, traces, perTrace = 8, 50, 10
	body, idAt := benchExport(traces, perTrace)
	var next atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := bytes.Clone(body)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			for next.Add(1) <= int64(b.N) {
				// New random trace ids for this op, written over the
				// template's (each trace's spans share one).
				for t := range traces {
					id := rng.Uint64()
					for _, at := range idAt[t] {
						binary.BigEndian.PutUint64(own[at:], id)
					}
				}
				if !benchPost(b, s.hs.URL+"/v1/traces", s.token["agent"], "application/x-protobuf", own, 200) {
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*traces*perTrace)/el.Seconds(), "spans/s")
}

// benchExport is an export request of n traces of m spans, and for each
// trace the offsets of its trace ids in the body.
func benchExport(n, m int) ([]byte, [][]int) {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	const services = 10
	req := &coltracepb.ExportTraceServiceRequest{}
	for svc := range services {
		req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", fmt.Sprintf("svc-%d", svc)),
				str("host.name", fmt.Sprintf("host-%d", svc%5)), str("service.instance.id", fmt.Sprintf("svc-%d-1", svc)),
				str("telemetry.sdk.language", "go"), str("deployment.environment", "prod")}},
			ScopeSpans: []*tracepb.ScopeSpans{{}}})
	}
	marks := make([][]byte, n)
	t0 := uint64(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano())
	for t := range n {
		marks[t] = fmt.Appendf(nil, "TRACE%011d", t) // 16 bytes, found and replaced per op
		for i := range m {
			svc := i % services
			kind := tracepb.Span_SPAN_KIND_SERVER
			if i%2 == 1 {
				kind = tracepb.Span_SPAN_KIND_CLIENT
			}
			sp := &tracepb.Span{TraceId: marks[t], SpanId: fmt.Appendf(nil, "%08d", i+1), Name: fmt.Sprintf("GET /api/v%d", i),
				Kind: kind, StartTimeUnixNano: t0 + uint64(t*1000+i)*1e6, EndTimeUnixNano: t0 + uint64(t*1000+i)*1e6 + 3e6,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "GET"), str("http.route", fmt.Sprintf("/api/v%d", i)),
					str("url.full", fmt.Sprintf("http://svc-%d/api/v%d?q=%d", svc, i, t))}}
			if i > 0 {
				sp.ParentSpanId = fmt.Appendf(nil, "%08d", i)
			}
			ss := req.ResourceSpans[svc].ScopeSpans[0]
			ss.Spans = append(ss.Spans, sp)
		}
	}
	body, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	at := make([][]int, n)
	for t, mark := range marks {
		for off := 0; ; {
			i := bytes.Index(body[off:], mark)
			if i < 0 {
				break
			}
			at[t] = append(at[t], off+i)
			off += i + len(mark)
		}
	}
	return body, at
}
