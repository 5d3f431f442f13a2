package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
)

// TestExpiryClocks: a REPEAT_STATES check state expires on the clock of
// the partition that put it, by the records' receive times, not by the
// order in which a replica happens to interleave partitions: a later
// record of another partition does not expire it, the next record (or
// tick) of its own partition past its deadline does, and a record without
// a time expires nothing.
func TestExpiryClocks(t *testing.T) {
	proc, err := ingest.NewTopologyProcessor(memstore.New(memstore.Options{Now: graphtest.Clock}))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	put := func(id string, at time.Time) *ingest.Record {
		topos, err := (ingest.Decoder{}).DecodeBytes([]byte(fmt.Sprintf(`{"health":[{"consistency_model":"REPEAT_STATES",
			"expiry":{"repeat_interval_s":30,"expiry_interval_s":60},"stream":{"urn":"urn:health:a:%s"},
			"check_states":[{"checkStateId":%[1]q,"name":"n","health":"CRITICAL","topologyElementIdentifier":"urn:x"}]}]}`, id)))
		if err != nil {
			t.Fatal(err)
		}
		rec := ingest.NewTopologyRecord(topos)
		rec.Received = at
		return rec
	}
	offsets := map[int]int64{}
	step := func(rec *ingest.Record, part int) int {
		t.Helper()
		offsets[part]++
		res, err := proc.Process(context.Background(), []*ingest.Record{rec}, []ingest.Position{{Topic: "t", Partition: part, Offset: offsets[part]}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		expired := 0
		for _, s := range res[0].Summary.Streams {
			expired += s.Expired
		}
		return expired
	}
	if n := step(put("p0", t0), 0); n != 0 {
		t.Fatalf("the put expired %d", n)
	}
	if !proc.Due(ingest.Clock("t", 0), t0.Add(61*time.Second)) || proc.Due(ingest.Clock("t", 1), t0.Add(time.Hour)) {
		t.Error("Due does not follow the partitions' clocks")
	}
	if n := step(put("p1", t0.Add(2*time.Minute)), 1); n != 0 {
		t.Errorf("a later record of partition 1 expired %d of partition 0's", n)
	}
	if n := step(&ingest.Record{Kind: ingest.KindTopology}, 0); n != 0 {
		t.Errorf("a record without a time expired %d", n)
	}
	if n := step(ingest.NewTickRecord(t0.Add(59*time.Second)), 0); n != 0 {
		t.Errorf("a tick before the deadline expired %d", n)
	}
	if n := step(ingest.NewTickRecord(t0.Add(61*time.Second)), 0); n != 1 {
		t.Errorf("the tick past the deadline expired %d, want 1", n)
	}
	if n := step(ingest.NewTickRecord(t0.Add(62*time.Second)), 0); n != 0 || proc.Due(ingest.Clock("t", 0), t0.Add(time.Hour)) {
		t.Errorf("a second tick expired %d", n)
	}
}
