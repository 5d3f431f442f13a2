// Package kafkatest is what the tests of the Kafka mode share: an
// in-process Kafka cluster (kfake, speaking the wire protocol over TCP) that
// can go away and come back with its log, a stream of payloads whose
// history shows a record applied twice, and the graph they must produce.
package kafkatest

import (
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/ingest"
)

// Cluster is an in-process Kafka cluster on a fixed port, persisted in a
// directory so that it can go away and come back with its log.
type Cluster struct {
	t    testing.TB
	port int
	dir  string
	c    *kfake.Cluster
}

func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &Cluster{t: t, port: port, dir: t.TempDir()}
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// Start starts the cluster on its port, with the log it had.
func (c *Cluster) Start() {
	c.t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(c.port), kfake.DataDir(c.dir))
	if err != nil {
		c.t.Fatal(err)
	}
	c.c = kc
}

// Stop stops the cluster; its log stays on disk for Start.
func (c *Cluster) Stop() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// Brokers are the cluster's bootstrap addresses.
func (c *Cluster) Brokers() []string { return []string{fmt.Sprintf("127.0.0.1:%d", c.port)} }

// Dump prints a store's latest graph without what differs between
// replicas that applied the same records (element ids, which follow the
// order of partitions, and version times), sorted.
func Dump(t testing.TB, st graphstore.Store) string {
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

// Payload is record seq of source src: the source's counter component
// takes the name seq-<seq>, and a component of its own is added. Applying
// a record twice out of order would show in the counter's history.
func Payload(src string, seq int) string {
	return fmt.Sprintf(`{"topologies":[{"instance":{"type":"agent","url":%q},"components":[`+
		`{"externalId":"counter-%[1]s","type":{"name":"counter"},"data":{"name":"seq-%04[2]d"}},`+
		`{"externalId":"%[1]s-item-%04[2]d","type":{"name":"item"},"data":{"name":"%[1]s-item-%04[2]d"}}],`+
		`"relations":[{"externalId":"%[1]s-rel-%04[2]d","type":{"name":"counts"},"sourceId":"counter-%[1]s","targetId":"%[1]s-item-%04[2]d"}]}]}`, src, seq)
}

// Reference applies records 0..n-1 of each source (n its count) to ref,
// an empty store, and returns its graph.
func Reference(t testing.TB, ref graphstore.Store, counts map[string]int) string {
	t.Helper()
	ap, err := ingest.OpenApplier(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range slices.Sorted(maps.Keys(counts)) {
		for i := range counts[src] {
			topos, err := (ingest.Decoder{}).DecodeBytes([]byte(Payload(src, i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ap.Apply(context.Background(), topos, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Dump(t, ref)
}

// CheckHistory reads the store's whole change feed: each source's counter
// must have taken names seq-… in strictly increasing order, ending with
// seq-<n-1>, n its count. A group commit applies several records of a source as one
// version, so names may be skipped; a record applied twice (replayed after
// later ones) would make the name go back. (A lost record shows in the
// graph: its item is missing.)
func CheckHistory(t testing.TB, st graphstore.Store, counts map[string]int) {
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
	for src, n := range counts {
		if n == 0 {
			continue
		}
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

// Counts gives each source n records.
func Counts(sources []string, n int) map[string]int {
	m := map[string]int{}
	for _, src := range sources {
		m[src] = n
	}
	return m
}
