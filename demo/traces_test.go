package demo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// recordAt records one tick of requests at scenario time u.
func recordAt(t *testing.T, u float64) tracetest.SpanStubs {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr := NewTracing(1, exp)
	tr.Record(stateAt(1, u), start.Add(time.Duration(u*float64(time.Second))), 2*time.Second)
	// Flush, not Shutdown: the in-memory exporter forgets its spans when
	// shut down.
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans()
}

// TestTraces: each request is one trace of server and client spans of
// the services it reaches; the degraded database makes checkout slow, and
// while it is critical some checkouts fail.
func TestTraces(t *testing.T) {
	healthy := recordAt(t, 10)
	traces := map[string]bool{}
	services := map[string]bool{}
	for _, s := range healthy {
		traces[s.SpanContext.TraceID().String()] = true
		for _, a := range s.Resource.Attributes() {
			if a.Key == "service.name" {
				services[a.Value.AsString()] = true
			}
		}
		if s.Status.Code == codes.Error {
			t.Errorf("span %s failed while the shop is healthy", s.Name)
		}
		if s.EndTime.Before(s.StartTime) {
			t.Errorf("span %s ends before it starts", s.Name)
		}
	}
	want := 0
	for _, f := range flows {
		want += f.perTick
	}
	if len(traces) != want {
		t.Errorf("%d traces, want one per request (%d)", len(traces), want)
	}
	for _, name := range []string{"frontend", "checkout", "payment", "fraud", "invoicing", "catalog", "search"} {
		if !services[name] {
			t.Errorf("no span of %s", name)
		}
	}

	slowest := func(spans tracetest.SpanStubs, name string) time.Duration {
		var d time.Duration
		for _, s := range spans {
			if s.Name == name {
				d = max(d, s.EndTime.Sub(s.StartTime))
			}
		}
		return d
	}
	crit := recordAt(t, 100)
	if a, b := slowest(healthy, "POST /checkout"), slowest(crit, "POST /checkout"); b < 5*a {
		t.Errorf("checkout takes %v while the database is critical, %v when healthy: want it much slower", b, a)
	}
	failed := 0
	for _, s := range crit {
		if s.Name == "POST /checkout" && s.Status.Code == codes.Error {
			failed++
		}
	}
	// Two checkouts per tick, each with two queries that fail 30% of the
	// time: over ten ticks some fail.
	for u := 101.0; u < 110; u++ {
		for _, s := range recordAt(t, u) {
			if s.Name == "POST /checkout" && s.Status.Code == codes.Error {
				failed++
			}
		}
	}
	if failed == 0 {
		t.Error("no checkout failed while the database was critical")
	}
}

// TestOTLPExport: the spans leave through the SDK's OTLP/HTTP exporter as
// protobuf ExportTraceServiceRequests, with the key, to /v1/traces.
func TestOTLPExport(t *testing.T) {
	var mu sync.Mutex
	var got []*coltrace.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != TracesPath || r.Header.Get("X-API-Key") != "k1" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("request to %s with key %q, content type %q", r.URL.Path, r.Header.Get("X-API-Key"), r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("not an ExportTraceServiceRequest: %v", err)
		}
		mu.Lock()
		got = append(got, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ = proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	defer srv.Close()
	exp, err := NewOTLPExporter(context.Background(), Target{URL: srv.URL, Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracing(1, exp)
	tr.Record(stateAt(1, 10), start.Add(10*time.Second), 2*time.Second)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans, services := 0, map[string]bool{}
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					services[a.Value.GetStringValue()] = true
				}
			}
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
	}
	if spans == 0 || !services["checkout"] || !services["frontend"] {
		t.Fatalf("received %d spans of services %v", spans, services)
	}
}

// TestTraceIDsDeterministic: the same seed and moments give the same ids.
func TestTraceIDsDeterministic(t *testing.T) {
	a, b := recordAt(t, 42), recordAt(t, 42)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d spans, then %d", len(a), len(b))
	}
	ids := map[string]bool{}
	for _, s := range a {
		ids[s.SpanContext.TraceID().String()+s.SpanContext.SpanID().String()] = true
	}
	for _, s := range b {
		if !ids[s.SpanContext.TraceID().String()+s.SpanContext.SpanID().String()] {
			t.Fatalf("span %s has other ids in the second run", s.Name)
		}
	}
}
