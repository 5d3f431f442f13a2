package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/kafkalog"
	"github.com/tetrahq/tetra/internal/kafkatest"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// dataStore is a metric, event and span store shared by the nodes of a
// test (as an Elasticsearch cluster is): it keeps each item under its
// identity, as the real stores do, and counts every write, so that a test
// sees both what is stored and how often it was written.
type dataStore struct {
	mu     sync.Mutex
	items  map[string]string // identity → content
	writes map[string]int    // identity → times written
	// block, when set, is called after a write with its identities; it
	// may block (a consumer stopped mid-batch) and its error is the
	// write's.
	block func(ctx context.Context) error
}

func newDataStore() *dataStore {
	return &dataStore{items: map[string]string{}, writes: map[string]int{}}
}

func (d *dataStore) put(ctx context.Context, kv map[string]string) error {
	d.mu.Lock()
	for k, v := range kv {
		d.items[k] = v
		d.writes[k]++
	}
	block := d.block
	d.mu.Unlock()
	if block != nil {
		return block(ctx)
	}
	return nil
}

func (d *dataStore) AppendMetrics(ctx context.Context, b []telemetry.SeriesSamples) error {
	kv := map[string]string{}
	for _, s := range b {
		for _, x := range s.Samples {
			kv[fmt.Sprintf("sample %s@%d", s.Series.Key(), x.T)] = fmt.Sprint(x.V)
		}
	}
	return d.put(ctx, kv)
}

func (d *dataStore) AppendEvents(ctx context.Context, b []telemetry.Event) error {
	kv := map[string]string{}
	for _, e := range b {
		kv[fmt.Sprintf("event %s@%d", e.ID, e.Time)] = e.Name
	}
	return d.put(ctx, kv)
}

func (d *dataStore) AppendSpans(ctx context.Context, b []traces.Span) error {
	kv := map[string]string{}
	for _, s := range b {
		kv["span "+s.TraceID+"/"+s.SpanID] = s.Name
	}
	return d.put(ctx, kv)
}

func (d *dataStore) stores() ingest.DataStores {
	return ingest.DataStores{Metrics: d, Events: d, Spans: d}
}

// counts returns the items stored and the writes, by kind ("sample",
// "event", "span").
func (d *dataStore) counts() (items, writes map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	items, writes = map[string]int{}, map[string]int{}
	for k := range d.items {
		kind, _, _ := strings.Cut(k, " ")
		items[kind]++
		writes[kind] += d.writes[k]
	}
	return items, writes
}

// waitItems waits until the store holds n items of each kind.
func (d *dataStore) waitItems(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		items, _ := d.counts()
		if items["sample"] == n && items["event"] == n && items["span"] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store holds %v, want %d of each kind", items, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dataNode is a node whose data consumer writes to a store of the test.
type dataNode struct {
	*node
	data *dataStore
}

func newDataNode(t *testing.T, brokers []string, data *dataStore, group string) *dataNode {
	t.Helper()
	nd := &dataNode{node: &node{t: t, dir: filepath.Join(t.TempDir(), "data"), brk: brokers, data: data.stores(), group: group}, data: data}
	nd.open()
	t.Cleanup(nd.close)
	return nd
}

// sendData sends record i of each kind of source src through the node, as
// the receiver does (ingest.LogWriter).
func (nd *dataNode) sendData(src string, i int) error {
	w := ingest.LogWriter{Log: nd.n}
	ctx := context.Background()
	tags := telemetry.NewTags([]telemetry.Tag{{Key: "host", Value: src}})
	err := w.AppendMetrics(ctx, []telemetry.SeriesSamples{{Series: telemetry.Series{Name: "load", Tags: tags},
		Samples: []telemetry.Sample{{T: int64(1000 * (i + 1)), V: float64(i)}}}})
	if err == nil {
		err = w.AppendEvents(ctx, []telemetry.Event{{ID: fmt.Sprintf("%s-%d", src, i), Time: int64(i + 1), Name: "deploy", Tags: tags}})
	}
	if err == nil {
		err = w.AppendSpans(ctx, []traces.Span{{TraceID: fmt.Sprintf("%s%04d", src, i), SpanID: "01", Service: src, Name: "GET /"}})
	}
	return err
}

// waitMembers waits until a consumer group has n members, each with
// partitions assigned.
func waitMembers(t *testing.T, brokers []string, group string, n int) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := cl.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(resp.Groups) == 1 && resp.Groups[0].GroupState == "Stable" && len(resp.Groups[0].Members) == n {
			assigned := 0
			for _, m := range resp.Groups[0].Members {
				if len(m.MemberAssignments.Topics) > 0 {
					assigned++
				}
			}
			if assigned == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer group %s never had %d members with partitions: %+v, %v", group, n, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDataOncePerCluster: two nodes sharing their data stores (as with
// Elasticsearch) are members of one consumer group: what is sent through
// either is written once in all, by whichever member has its partition.
func TestDataOncePerCluster(t *testing.T) {
	c := kafkatest.NewCluster(t)
	shared := newDataStore()
	group := kafkalog.DataGroupName("", "")
	a := newDataNode(t, c.Brokers(), shared, group)
	b := newDataNode(t, c.Brokers(), shared, group)
	a.waitReady()
	b.waitReady()
	waitMembers(t, c.Brokers(), group, 2)
	const n = 40
	for i := range n {
		via := a
		if i%2 == 1 {
			via = b
		}
		if err := via.sendData(fmt.Sprintf("src%d", i%8), i); err != nil {
			t.Fatal(err)
		}
	}
	shared.waitItems(t, n)
	time.Sleep(300 * time.Millisecond) // a second write would come now
	items, writes := shared.counts()
	for _, k := range []string{"sample", "event", "span"} {
		if writes[k] != items[k] {
			t.Errorf("%d %ss written %d times: the group wrote some twice", items[k], k, writes[k])
		}
	}
	if g := kafkalog.DataGroupName("", ""); g != "tetra.telemetry" {
		t.Errorf("the shared group is %q", g)
	}
}

// TestDataPerNodeGroups: nodes with stores of their own consume with
// groups of their own, so each store holds everything sent to any node.
func TestDataPerNodeGroups(t *testing.T) {
	c := kafkatest.NewCluster(t)
	da, db := newDataStore(), newDataStore()
	a := newDataNode(t, c.Brokers(), da, kafkalog.DataGroupName("", "node-a"))
	b := newDataNode(t, c.Brokers(), db, kafkalog.DataGroupName("", "node-b"))
	a.waitReady()
	b.waitReady()
	const n = 12
	for i := range n {
		if err := a.sendData(fmt.Sprintf("src%d", i%3), i); err != nil {
			t.Fatal(err)
		}
	}
	da.waitItems(t, n)
	db.waitItems(t, n)
}

// TestDataKilledMidBatch: a consumer stopped after it wrote part of the
// data but before it committed the offsets leaves those records to be
// read again; its successor writes them again, and the store holds each
// item once, nothing lost. The store's write counts show the rewrite.
func TestDataKilledMidBatch(t *testing.T) {
	c := kafkatest.NewCluster(t)
	shared := newDataStore()
	group := kafkalog.DataGroupName("", "")
	prod := newDataNode(t, c.Brokers(), newDataStore(), kafkalog.DataGroupName("", "producer"))
	prod.waitReady()
	const n = 30
	for i := range n / 2 {
		if err := prod.sendData(fmt.Sprintf("src%d", i%3), i); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer writes, then hangs before its commit, until stopped.
	var once sync.Once
	hung := make(chan struct{})
	shared.block = func(ctx context.Context) error {
		once.Do(func() { close(hung) })
		<-ctx.Done()
		return ctx.Err()
	}
	cons := newDataNode(t, c.Brokers(), shared, group)
	select {
	case <-hung:
	case <-time.After(60 * time.Second):
		t.Fatal("the consumer never wrote")
	}
	cons.close()
	_, before := shared.counts()
	shared.mu.Lock()
	shared.block = nil
	shared.mu.Unlock()
	for i := n / 2; i < n; i++ {
		if err := prod.sendData(fmt.Sprintf("src%d", i%3), i); err != nil {
			t.Fatal(err)
		}
	}
	cons.open()
	shared.waitItems(t, n)
	items, writes := shared.counts()
	if rewritten := writes["sample"] + writes["event"] + writes["span"] - (items["sample"] + items["event"] + items["span"]); rewritten == 0 {
		t.Errorf("nothing was written again after the stop (writes before it %v): the uncommitted batch was lost or committed", before)
	}
}

// TestDataBrokerGoesAway: with the broker away, appending data fails with
// an *ingest.UnavailableError (the receiver's 503); when it returns, what
// was sent before and after arrives.
func TestDataBrokerGoesAway(t *testing.T) {
	c := kafkatest.NewCluster(t)
	data := newDataStore()
	nd := newDataNode(t, c.Brokers(), data, kafkalog.DataGroupName("", ""))
	nd.waitReady()
	for i := range 5 {
		if err := nd.sendData("only", i); err != nil {
			t.Fatal(err)
		}
	}
	data.waitItems(t, 5)
	c.Stop()
	for nd.n.Check() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	err := nd.sendData("only", 5)
	var ue *ingest.UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("sending with the broker away: %v, want an *ingest.UnavailableError", err)
	}
	c.Start()
	nd.waitReady()
	for i := 5; i < 10; i++ {
		if err := nd.sendData("only", i); err != nil {
			t.Fatalf("sending after the broker returned: %v", err)
		}
	}
	data.waitItems(t, 10)
}
