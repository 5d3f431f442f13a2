package kafkalog_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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
	srv := api.New(api.Config{Engine: exec.New(st, exec.Options{}), Logger: quiet})
	rc, err := receiver.New(receiver.Config{Log: n, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := rc.Mount(srv); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for deadline := time.Now().Add(20 * time.Second); n.Check() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal(n.Check())
		}
	}
	const clients, perPayload = 8, 100
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				resp, err := http.Post(hs.URL+"/stsAgent/intake", "application/json", bytes.NewReader(topogen.IntakePayload(cl, int(i), perPayload)))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
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
