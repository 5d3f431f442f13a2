package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/kafkalog"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is an in-process Kafka cluster on a fixed port, persisted in a
// directory so that it can go away and come back with its log.
type cluster struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &cluster{t: t, port: port, dir: t.TempDir()}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) start() {
	c.t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(c.port), kfake.DataDir(c.dir))
	if err != nil {
		c.t.Fatal(err)
	}
	c.c = kc
}

func (c *cluster) stop() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

func (c *cluster) brokers() []string { return []string{fmt.Sprintf("127.0.0.1:%d", c.port)} }

// node is one tetra serve node's store, processor and Kafka node.
type node struct {
	t    *testing.T
	dir  string
	brk  []string
	st   *pebblestore.Store
	proc *ingest.TopologyProcessor
	n    *kafkalog.Node
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
		AppendTimeout: 3 * time.Second, Logger: quiet}, proc)
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
		if got = dump(nd.t, nd.st); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	nd.t.Fatalf("the node's graph:\n%s\nwant:\n%s", got, want)
}

// dump prints a store's latest graph without what differs between
// replicas that applied the same records (element ids, which follow the
// order of partitions, and version times), sorted.
func dump(t *testing.T, st graphstore.Store) string {
	t.Helper()
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	g, err := graphtest.DumpGraph(sn)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(g), "\n")
	for i, l := range lines {
		l = elementID.ReplaceAllString(l, "$1")
		l = endpointIDs.ReplaceAllString(l, "")
		lines[i] = versionTime.ReplaceAllString(l, "")
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

var (
	elementID   = regexp.MustCompile(`^(component|relation) \d+`)
	endpointIDs = regexp.MustCompile(` \d+->\d+`)
	versionTime = regexp.MustCompile(` v=[0-9.]+`)
)

// payload is record seq of source src: the source's counter component
// takes the name seq-<seq>, and a component of its own is added. Applying
// a record twice out of order would show in the counter's history.
func payload(src string, seq int) string {
	return fmt.Sprintf(`{"topologies":[{"instance":{"type":"agent","url":%q},"components":[`+
		`{"externalId":"counter-%[1]s","type":{"name":"counter"},"data":{"name":"seq-%04[2]d"}},`+
		`{"externalId":"%[1]s-item-%04[2]d","type":{"name":"item"},"data":{"name":"%[1]s-item-%04[2]d"}}],`+
		`"relations":[{"externalId":"%[1]s-rel-%04[2]d","type":{"name":"counts"},"sourceId":"counter-%[1]s","targetId":"%[1]s-item-%04[2]d"}]}]}`, src, seq)
}

// reference is the graph after records 0..n-1 of every source.
func reference(t *testing.T, sources []string, n int) string {
	t.Helper()
	ref := memstore.New(memstore.Options{})
	ap, err := ingest.OpenApplier(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		for i := range n {
			topos, err := (ingest.Decoder{}).DecodeBytes([]byte(payload(src, i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ap.Apply(context.Background(), topos, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dump(t, ref)
}

// checkHistory reads the store's whole change feed: each source's counter
// must have taken names seq-… in strictly increasing order, ending with
// seq-<n-1>. A group commit applies several records of a source as one
// version, so names may be skipped; a record applied twice (replayed after
// later ones) would make the name go back. (A lost record shows in the
// graph: its item is missing.)
func checkHistory(t *testing.T, st graphstore.Store, sources []string, n int) {
	t.Helper()
	feed, err := st.Subscribe(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	seen := map[string][]string{}
	last := st.LastCommit()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ev, err := feed.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("reading the change feed: %v", err)
		}
		for _, ch := range ev.Changes {
			if ch.After == nil || ch.After.Component() == nil || ch.After.Component().Type != "counter" {
				continue
			}
			c := ch.After.Component()
			if ch.Before != nil && ch.Before.Component() != nil && ch.Before.Component().Name == c.Name {
				continue
			}
			seen[c.Identifiers[0]] = append(seen[c.Identifiers[0]], c.Name)
		}
		if !ev.Time.Before(last) {
			break
		}
	}
	for _, src := range sources {
		names := seen["counter-"+src]
		ok := len(names) > 0 && names[len(names)-1] == fmt.Sprintf("seq-%04d", n-1)
		for i := 1; i < len(names); i++ {
			ok = ok && names[i-1] < names[i]
		}
		if !ok {
			t.Errorf("the history of counter-%s is not increasing up to seq-%04d: %s", src, n-1, strings.Join(names, ","))
		}
	}
}

// TestTwoNodesReplicate: two nodes on one log, both producing, each build
// the same full graph from every partition of the topology topic.
func TestTwoNodesReplicate(t *testing.T) {
	c := newCluster(t)
	a, b := newNode(t, c.brokers()), newNode(t, c.brokers())
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
			if err := via.append(payload(src, i)); err != nil {
				t.Fatalf("append %s/%d: %v", src, i, err)
			}
		}
	}
	want := reference(t, sources, n)
	a.waitGraph(want)
	b.waitGraph(want)
	checkHistory(t, a.st, sources, n)
	checkHistory(t, b.st, sources, n)
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
	c := newCluster(t)
	prod := newNode(t, c.brokers())
	rep := newNode(t, c.brokers())
	prod.waitReady()
	rep.waitReady()
	sources := []string{"s1", "s2", "s3"}
	const n = 60
	stopped := false
	for i := range n {
		for _, src := range sources {
			if err := prod.append(payload(src, i)); err != nil {
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
	want := reference(t, sources, n)
	rep.waitGraph(want)
	prod.waitGraph(want)
	checkHistory(t, rep.st, sources, n)
	// And again from a clean restart: nothing is applied twice.
	rep.close()
	rep.open()
	rep.waitReady()
	time.Sleep(200 * time.Millisecond)
	rep.waitGraph(want)
	checkHistory(t, rep.st, sources, n)
}

// TestBrokerGoesAway: while the broker is away, Append fails fast with an
// *ingest.UnavailableError (the receiver's 503 with Retry-After) and Check
// says so; when it returns with its log, the node reconnects and applies
// what was produced before and after.
func TestBrokerGoesAway(t *testing.T) {
	c := newCluster(t)
	nd := newNode(t, c.brokers())
	nd.waitReady()
	sources := []string{"only"}
	for i := range 5 {
		if err := nd.append(payload("only", i)); err != nil {
			t.Fatal(err)
		}
	}
	nd.waitGraph(reference(t, sources, 5))
	c.stop()
	deadline := time.Now().Add(20 * time.Second)
	for nd.n.Check() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Check still nil with the broker away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := nd.n.Check(); !strings.Contains(err.Error(), "kafka: brokers "+c.brokers()[0]) {
		t.Errorf("Check with the broker away: %v", err)
	}
	start := time.Now()
	err := nd.append(payload("only", 5))
	var ue *ingest.UnavailableError
	if !errors.As(err, &ue) || ue.RetryAfter <= 0 || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("append with the broker away: %v, want an *ingest.UnavailableError", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("append with the broker away took %s", d)
	}
	c.start()
	nd.waitReady()
	for i := 5; i < 10; i++ {
		if err := nd.append(payload("only", i)); err != nil {
			t.Fatalf("append after the broker returned: %v", err)
		}
	}
	nd.waitGraph(reference(t, sources, 10))
	checkHistory(t, nd.st, sources, 10)
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
