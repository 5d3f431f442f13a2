package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/kafkalog"
	"github.com/tetrahq/tetra/internal/kafkatest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// node is one tetra serve node's store, processor and Kafka node (with
// a data consumer writing to data in group, when data is set).
type node struct {
	t     *testing.T
	dir   string
	brk   []string
	data  ingest.DataStores
	group string
	st    *pebblestore.Store
	proc  *ingest.TopologyProcessor
	n     *kafkalog.Node
}

func newNode(t *testing.T, brokers []string) *node {
	t.Helper()
	nd := &node{t: t, dir: filepath.Join(t.TempDir(), "data"), brk: brokers}
	nd.open()
	t.Cleanup(nd.close)
	return nd
}

func (nd *node) open() {
	t := nd.t
	t.Helper()
	st, err := pebblestore.Open(nd.dir, pebblestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := ingest.NewTopologyProcessor(st)
	if err != nil {
		t.Fatal(err)
	}
	n, err := kafkalog.Open(kafkalog.Config{Brokers: nd.brk, Partitions: 4, ProbeInterval: 50 * time.Millisecond,
		// Generous: a produce that takes long under a loaded -race run is
		// not what these tests are about; a broker that is away fails fast
		// without waiting for it (TestBrokerGoesAway).
		AppendTimeout: 30 * time.Second, Logger: quiet, Data: nd.data, DataGroup: nd.group}, proc)
	if err != nil {
		t.Fatal(err)
	}
	nd.st, nd.proc, nd.n = st, proc, n
}

func (nd *node) close() {
	if nd.n == nil {
		return
	}
	if err := nd.n.Close(); err != nil {
		nd.t.Errorf("closing the node: %v", err)
	}
	if err := nd.st.Close(); err != nil {
		nd.t.Errorf("closing the store: %v", err)
	}
	nd.n = nil
}

// waitReady waits until the node has its topics and the brokers answer.
func (nd *node) waitReady() {
	nd.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for nd.n.Check() != nil {
		if time.Now().After(deadline) {
			nd.t.Fatalf("the node is not connected: %v", nd.n.Check())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// append produces a payload through the node, as the receiver does.
func (nd *node) append(body string) error {
	topos, err := (ingest.Decoder{}).DecodeBytes([]byte(body))
	if err != nil {
		nd.t.Fatal(err)
	}
	_, err = nd.n.Append(context.Background(), ingest.NewTopologyRecord(topos))
	return err
}

// waitGraph waits until the node's graph is want.
func (nd *node) waitGraph(want string) {
	nd.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = kafkatest.Dump(nd.t, nd.st); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	nd.t.Fatalf("the node's graph:\n%s\nwant:\n%s", got, want)
}

// TestTwoNodesReplicate: two nodes on one log, both producing, each build
// the same full graph from every partition of the topology topic.
func TestTwoNodesReplicate(t *testing.T) {
	c := kafkatest.NewCluster(t)
	a, b := newNode(t, c.Brokers()), newNode(t, c.Brokers())
	a.waitReady()
	b.waitReady()
	sources := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	const n = 20
	for i := range n {
		for j, src := range sources {
			via := a
			if (i+j)%2 == 1 {
				via = b
			}
			if err := via.append(kafkatest.Payload(src, i)); err != nil {
				t.Fatalf("append %s/%d: %v", src, i, err)
			}
		}
	}
	want := kafkatest.Reference(t, memstore.New(memstore.Options{}), kafkatest.Counts(sources, n))
	a.waitGraph(want)
	b.waitGraph(want)
	kafkatest.CheckHistory(t, a.st, kafkatest.Counts(sources, n))
	kafkatest.CheckHistory(t, b.st, kafkatest.Counts(sources, n))
	// Every partition's offset is in each store: the records were spread.
	var parts int
	for p := range 4 {
		if _, ok := a.proc.Committed("tetra.topology", p); ok {
			parts++
		}
	}
	if parts < 2 {
		t.Errorf("records of %d sources landed on %d of 4 partitions", len(sources), parts)
	}
}

// TestRestartCatchesUp: a node stopped while records stream in (some of
// a batch applied, some not) resumes from the offsets in its store and
// ends with every record applied exactly once.
func TestRestartCatchesUp(t *testing.T) {
	c := kafkatest.NewCluster(t)
	prod := newNode(t, c.Brokers())
	rep := newNode(t, c.Brokers())
	prod.waitReady()
	rep.waitReady()
	sources := []string{"s1", "s2", "s3"}
	const n = 60
	stopped := false
	for i := range n {
		for _, src := range sources {
			if err := prod.append(kafkatest.Payload(src, i)); err != nil {
				t.Fatal(err)
			}
		}
		if i == n/3 {
			// Stop the replica once it applied some, not all.
			for {
				if _, ok := rep.proc.Committed("tetra.topology", 0); ok {
					break
				}
				if _, ok := rep.proc.Committed("tetra.topology", 1); ok {
					break
				}
				if _, ok := rep.proc.Committed("tetra.topology", 2); ok {
					break
				}
				if _, ok := rep.proc.Committed("tetra.topology", 3); ok {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			rep.close()
			stopped = true
		}
		if i == 2*n/3 && stopped {
			rep.open()
		}
	}
	want := kafkatest.Reference(t, memstore.New(memstore.Options{}), kafkatest.Counts(sources, n))
	rep.waitGraph(want)
	prod.waitGraph(want)
	kafkatest.CheckHistory(t, rep.st, kafkatest.Counts(sources, n))
	// And again from a clean restart: nothing is applied twice.
	rep.close()
	rep.open()
	rep.waitReady()
	time.Sleep(200 * time.Millisecond)
	rep.waitGraph(want)
	kafkatest.CheckHistory(t, rep.st, kafkatest.Counts(sources, n))
}

// TestBrokerGoesAway: while the broker is away, Append fails fast with an
// *ingest.UnavailableError (the receiver's 503 with Retry-After) and Check
// says so; when it returns with its log, the node reconnects and applies
// what was produced before and after.
func TestBrokerGoesAway(t *testing.T) {
	c := kafkatest.NewCluster(t)
	nd := newNode(t, c.Brokers())
	nd.waitReady()
	sources := []string{"only"}
	for i := range 5 {
		if err := nd.append(kafkatest.Payload("only", i)); err != nil {
			t.Fatal(err)
		}
	}
	nd.waitGraph(kafkatest.Reference(t, memstore.New(memstore.Options{}), kafkatest.Counts(sources, 5)))
	c.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for nd.n.Check() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Check still nil with the broker away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := nd.n.Check(); !strings.Contains(err.Error(), "kafka: brokers "+c.Brokers()[0]) {
		t.Errorf("Check with the broker away: %v", err)
	}
	start := time.Now()
	err := nd.append(kafkatest.Payload("only", 5))
	var ue *ingest.UnavailableError
	if !errors.As(err, &ue) || ue.RetryAfter <= 0 || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("append with the broker away: %v, want an *ingest.UnavailableError", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("append with the broker away took %s", d)
	}
	c.Start()
	nd.waitReady()
	for i := 5; i < 10; i++ {
		if err := nd.append(kafkatest.Payload("only", i)); err != nil {
			t.Fatalf("append after the broker returned: %v", err)
		}
	}
	nd.waitGraph(kafkatest.Reference(t, memstore.New(memstore.Options{}), kafkatest.Counts(sources, 10)))
	kafkatest.CheckHistory(t, nd.st, kafkatest.Counts(sources, 10))
}

// TestConfigErrors: a node needs brokers, each host:port.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		brokers []string
		want    string
	}{
		{nil, "no brokers"},
		{[]string{"localhost"}, `broker "localhost": want host:port`},
	} {
		_, err := kafkalog.Open(kafkalog.Config{Brokers: tc.brokers}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): %v, want %q", tc.brokers, err, tc.want)
		}
	}
	if g := kafkalog.ParseBrokers(" a:1, b:2,,"); strings.Join(g, "|") != "a:1|b:2" {
		t.Errorf("ParseBrokers: %q", g)
	}
}

// healthPayload is a REPEAT_STATES entry of stream s putting check state
// id on server-1, living expiry seconds.
func healthPayload(stream, id string, expiry int) string {
	return fmt.Sprintf(`{"topologies":[{"instance":{"type":"agent","url":"servers"},"components":[
		{"externalId":"server-1","type":{"name":"server"},"data":{"name":"server-1","identifiers":["urn:server:1"]}}]}],
		"health":[{"consistency_model":"REPEAT_STATES","expiry":{"repeat_interval_s":1,"expiry_interval_s":%d},
		"stream":{"urn":%q},"check_states":[{"checkStateId":%q,"name":"ping","health":"CRITICAL","topologyElementIdentifier":"urn:server:1"}]}]}`,
		expiry, stream, id)
}

// TestHealthExpiryReplicated: a REPEAT_STATES check state that is not
// repeated in time is deleted on every replica, though no sender writes
// any more: the nodes tick its partition, and the replicas end with the
// same graph; one without an expiry stays.
func TestHealthExpiryReplicated(t *testing.T) {
	c := kafkatest.NewCluster(t)
	a, b := newNode(t, c.Brokers()), newNode(t, c.Brokers())
	a.waitReady()
	b.waitReady()
	if err := a.append(healthPayload("urn:health:mon:pings", "ping-1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.append(healthPayload("urn:health:mon:ports", "port-1", 0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ga, gb := kafkatest.Dump(t, a.st), kafkatest.Dump(t, b.st)
		if ga == gb && strings.Contains(ga, "port-1") && !strings.Contains(ga, "ping-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas never expired ping-1 alike:\n%s\n--\n%s", ga, gb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A restarted node keeps what it expired and ticks nothing more.
	b.close()
	b.open()
	b.waitReady()
	if ga, gb := kafkatest.Dump(t, a.st), kafkatest.Dump(t, b.st); ga != gb {
		t.Errorf("after a restart:\n%s\n--\n%s", ga, gb)
	}
}
