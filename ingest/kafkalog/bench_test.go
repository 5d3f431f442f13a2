package kafkalog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/kafkalog"
	"github.com/tetrahq/tetra/ingest/receiver"
	"github.com/tetrahq/tetra/internal/kafkatest"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// BenchmarkIntakeKafka is the Kafka mode end to end, beside the embedded
// one (ingest/receiver's BenchmarkIntake, same payloads): real HTTP, the
// receiver, produce with acks=all to an in-process cluster over TCP
// (kfake, one broker, 12 partitions), the node's replica consuming every
// partition and committing to Pebble with synced commits. Each op is one
// POST of 100 components and 100 relations from one of 8 agents, sent by
// 8 clients; every op writes new elements. It reports accepted
// elements/s (202s) and applied elements/s (until the replica has them
// all). Re-run with
//
//	flock /tmp/tetra-bench.lock go test -run '^$' -bench IntakeKafka -benchtime 5000x ./ingest/kafkalog/
func BenchmarkIntakeKafka(b *testing.B) {
	c := kafkatest.NewCluster(b)
	st, err := pebblestore.Open(b.TempDir(), pebblestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	proc, err := ingest.NewTopologyProcessor(st)
	if err != nil {
		b.Fatal(err)
	}
	n, err := kafkalog.Open(kafkalog.Config{Brokers: c.Brokers(), Logger: quiet}, proc)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	hs := serveNode(b, st, n, receiver.Config{Log: n, Logger: quiet})
	const clients, perPayload = 8, 100
	start := time.Now()
	accepted := postAll(b, clients, hs.URL+"/stsAgent/intake", http.StatusAccepted, func(cl int, i int64) []byte {
		return topogen.IntakePayload(cl, int(i), perPayload)
	})
	if b.Failed() {
		return
	}
	want := b.N * perPayload
	for deadline := time.Now().Add(5 * time.Minute); components(b, st) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the replica has %d of %d components after 5 minutes", components(b, st), want)
		}
	}
	applied := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*2*perPayload)/accepted.Seconds(), "accepted-elements/s")
	b.ReportMetric(float64(b.N*2*perPayload)/applied.Seconds(), "applied-elements/s")
}

// serveNode serves node n's receiver (cfg) and query API over st on a
// test HTTP server, once the node is connected.
func serveNode(b *testing.B, st graphstore.Store, n *kafkalog.Node, cfg receiver.Config) *httptest.Server {
	srv := api.New(api.Config{Engine: exec.New(st, exec.Options{}), Logger: quiet})
	rc, err := receiver.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := rc.Mount(srv); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	for deadline := time.Now().Add(20 * time.Second); n.Check() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal(n.Check())
		}
	}
	return hs
}

// postAll resets the timer and posts b.N bodies to url from clients
// goroutines at once (body(cl, i) is request i, sent by client cl); any
// answer but want fails the benchmark. It returns the time until the
// last answer.
func postAll(b *testing.B, clients int, url string, want int, body func(cl int, i int64) []byte) time.Duration {
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				resp, err := http.Post(url, "application/json", bytes.NewReader(body(cl, i)))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func components(b *testing.B, st graphstore.Store) int {
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	defer sn.Close()
	ids, err := sn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	if err != nil {
		b.Fatal(err)
	}
	return len(ids)
}

// countingSpans counts the spans its store has written.
type countingSpans struct {
	ingest.SpanWriter
	n atomic.Int64
}

func (c *countingSpans) AppendSpans(ctx context.Context, batch []traces.Span) error {
	err := c.SpanWriter.AppendSpans(ctx, batch)
	if err == nil {
		c.n.Add(int64(len(batch)))
	}
	return err
}

// BenchmarkSpansKafka is OTLP spans through the Kafka mode end to end:
// real HTTP, OTLP/JSON exports decoded by the receiver, produced to
// tetra.traces with acks=all (kfake, one broker, 12 partitions), and the
// node's data consumer writing them to the span store (Pebble, synced)
// before it commits its offsets. Each op is one export of 500 spans (50
// traces of 10 spans over 10 services, new random trace ids every op),
// sent by 8 clients. It reports accepted spans/s (200s) and written
// spans/s (until the store has them all); the embedded mode's figure is
// ingest/receiver's BenchmarkOTLPSpans (protobuf). Re-run with
//
//	flock /tmp/tetra-bench.lock go test -run '^$' -bench SpansKafka -benchtime 200x ./ingest/kafkalog/
func BenchmarkSpansKafka(b *testing.B) {
	c := kafkatest.NewCluster(b)
	dir := b.TempDir()
	st, err := pebblestore.Open(filepath.Join(dir, "graph"), pebblestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tr, err := tracepebble.Open(filepath.Join(dir, "traces"), tracepebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	proc, err := ingest.NewTopologyProcessor(st)
	if err != nil {
		b.Fatal(err)
	}
	spans := &countingSpans{SpanWriter: tr}
	n, err := kafkalog.Open(kafkalog.Config{Brokers: c.Brokers(), Logger: quiet, Data: ingest.DataStores{Spans: spans},
		DataGroup: kafkalog.DataGroupName("", "")}, proc)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	hs := serveNode(b, st, n, receiver.Config{Log: n, Logger: quiet, Spans: ingest.LogWriter{Log: n}, NoServiceTopology: true})
	const clients, traceCount, perTrace = 8, 50, 10
	rngs := make([]*rand.Rand, clients)
	for cl := range rngs {
		rngs[cl] = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cl)))
	}
	start := time.Now()
	accepted := postAll(b, clients, hs.URL+"/v1/traces", http.StatusOK, func(cl int, _ int64) []byte {
		return jsonExport(rngs[cl], traceCount, perTrace)
	})
	if b.Failed() {
		return
	}
	want := int64(b.N * traceCount * perTrace)
	for deadline := time.Now().Add(5 * time.Minute); spans.n.Load() < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the store has %d of %d spans after 5 minutes", spans.n.Load(), want)
		}
	}
	written := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/accepted.Seconds(), "accepted-spans/s")
	b.ReportMetric(float64(want)/written.Seconds(), "written-spans/s")
}

// jsonExport is an OTLP/JSON trace export of traces traces of perTrace
// spans each (a root and its children), over 10 services, with new random
// trace ids.
func jsonExport(rng *rand.Rand, traceCount, perTrace int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceSpans":[`)
	now := time.Now().UnixNano()
	for t := range traceCount {
		if t > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc-%d"}},`+
			`{"key":"host.name","value":{"stringValue":"host-%d"}}]},"scopeSpans":[{"spans":[`, t%10, t%5)
		trace := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		for s := range perTrace {
			if s > 0 {
				b.WriteByte(',')
			}
			parent := ""
			if s > 0 {
				parent = fmt.Sprintf(`"parentSpanId":"%016x",`, uint64(t*perTrace+1))
			}
			start := now + int64(s)*1_000_000
			fmt.Fprintf(&b, `{"traceId":%q,"spanId":"%016x",%s"name":"GET /api/items/%d","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",`+
				`"attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"http.response.status_code","value":{"intValue":"200"}}]}`,
				trace, uint64(t*perTrace+s+1), parent, s, start, start+2_000_000)
		}
		b.WriteString(`]}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
