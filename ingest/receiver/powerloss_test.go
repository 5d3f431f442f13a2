package receiver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/internal/crashtest"
)

// TestPowerLoss cuts the power under the embedded path: an agent posts
// payloads (snapshots split over several requests, for two sources) over
// HTTP to a server whose store lives on Pebble's crash-simulating file
// system, and the test takes crash images at random moments. Every image
// must recover to the state after some prefix of the requests that
// includes every request answered 202 before the cut (requests are applied
// whole: no prefix means a request half there), with the same open
// snapshots: stopping them afterwards gives the same graph as on a
// reference store that applied exactly that prefix.
func TestPowerLoss(t *testing.T) {
	seeds := uint64(2)
	if raceEnabled {
		seeds = 1
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerLoss(t, seed) })
	}
}

func powerLoss(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	reqs := agentRequests(r, 48)
	fs := vfs.NewCrashableMem()
	s := newServer(t, serverOpts{fs: fs, sync: true})
	images := crashtest.Run(t, r, seed, fs, 4*time.Millisecond, func(ack func(int)) error {
		for i, body := range reqs {
			if rs := s.post(request{key: "agent", body: body}); rs.status != 202 {
				return fmt.Errorf("request %d: %d %s", i, rs.status, rs.body)
			}
			ack(i)
		}
		return nil
	})
	s.stop()
	refs := referenceStates(t, reqs)
	for _, img := range images {
		checkPowerLossImage(t, img.FS, img.Acked, reqs, refs)
	}
	t.Logf("%d power cuts over %d requests", len(images), len(reqs))
}

// agentRequests are n intake payloads of two sources, each a run of
// snapshots split over four requests (start in the first, stop in the
// last), putting components and relations from a small pool so that
// snapshots delete what they do not repeat.
func agentRequests(r *rand.Rand, n int) [][]byte {
	var out [][]byte
	for i := range n {
		src, step := i%2, (i/2)%4
		var comps, rels []string
		for j := range 3 {
			ext := fmt.Sprintf("c%d", r.IntN(10))
			comps = append(comps, fmt.Sprintf(`{"externalId":%q,"type":{"name":"pl"},"data":{"name":"%s@%d.%d"}}`, ext, ext, i, j))
			if j > 0 {
				rels = append(rels, fmt.Sprintf(`{"externalId":"r%d","type":{"name":"uses"},"sourceId":%q,"targetId":"c%d"}`, r.IntN(6), ext, r.IntN(10)))
			}
		}
		out = append(out, []byte(fmt.Sprintf(`{"topologies":[{"instance":{"type":"agent","url":"src-%d"},"start_snapshot":%t,"stop_snapshot":%t,"components":[%s],"relations":[%s]}]}`,
			src, step == 0, step == 3, strings.Join(comps, ","), strings.Join(rels, ","))))
	}
	return out
}

// referenceStates returns the graph after each prefix of the requests
// (index k: after the first k), applied one per version to a reference
// store, as the receiver applies a sequential sender's requests.
func referenceStates(t *testing.T, reqs [][]byte) []string {
	ref := memstore.New(memstore.Options{Now: func() time.Time { return base }})
	ap, err := ingest.OpenApplier(ref)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{dumpFull(t, ref)}
	for _, body := range reqs {
		applyPayload(t, ap, body)
		out = append(out, dumpFull(t, ref))
	}
	return out
}

func applyPayload(t *testing.T, ap *ingest.Applier, body []byte) {
	t.Helper()
	topos, err := (ingest.Decoder{}).DecodeBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ap.Apply(context.Background(), topos, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// dumpFull prints every live element of a store's latest version.
func dumpFull(t *testing.T, st graphstore.Store) string {
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
	return g
}

// stopAll is the payload that stops both sources' snapshots, whatever is
// open.
func stopAll(ap *ingest.Applier) []byte {
	var ts []string
	for _, src := range ap.OpenSnapshots() {
		url := strings.TrimPrefix(src, "agent:")
		ts = append(ts, fmt.Sprintf(`{"instance":{"type":"agent","url":%q},"stop_snapshot":true}`, url))
	}
	return []byte(`{"topologies":[` + strings.Join(ts, ",") + `]}`)
}

func checkPowerLossImage(t *testing.T, fs *vfs.MemFS, acked int, reqs [][]byte, refs []string) {
	t.Helper()
	st, err := pebblestore.Open("/db", pebblestore.Options{Now: func() time.Time { return base }, FS: fs})
	if err != nil {
		t.Fatalf("recovering with request %d acknowledged: %v", acked, err)
	}
	defer st.Close()
	proc, err := ingest.NewTopologyProcessor(st)
	if err != nil {
		t.Fatalf("reading the snapshot state back: %v", err)
	}
	got := dumpFull(t, st)
	n := -1
	for k := acked + 1; k < len(refs); k++ {
		if refs[k] == got {
			n = k
			break
		}
	}
	if n < 0 {
		t.Fatalf("with request %d acknowledged, the recovered graph is the state after no prefix of at least %d requests:\n%s", acked, acked+1, got)
	}
	// The open snapshots and what they saw survived with the graph: stop
	// them on both and compare again.
	ref := memstore.New(memstore.Options{Now: func() time.Time { return base }})
	rap, err := ingest.OpenApplier(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range reqs[:n] {
		applyPayload(t, rap, body)
	}
	if g, w := strings.Join(proc.Applier().OpenSnapshots(), ","), strings.Join(rap.OpenSnapshots(), ","); g != w {
		t.Fatalf("after %d requests: open snapshots %q, want %q", n, g, w)
	}
	applyPayload(t, proc.Applier(), stopAll(rap))
	applyPayload(t, rap, stopAll(rap))
	if g, w := dumpFull(t, st), dumpFull(t, ref); g != w {
		t.Fatalf("after %d requests and stopping the open snapshots:\n%s\nreference:\n%s", n, g, w)
	}
}
