package ingest_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
)

// TestRecordRoundTrip: a record read back from a log that stores bytes
// (Kafka) is the record that was appended, health check states included,
// and applies: absent properties stay absent rather than becoming the JSON
// null the store refuses.
func TestRecordRoundTrip(t *testing.T) {
	topos, err := (ingest.Decoder{}).DecodeBytes([]byte(`{"topologies":[{"instance":{"type":"agent","url":"a"},"start_snapshot":true,
		"components":[{"externalId":"x","type":{"name":"host"},"data":{"name":"x","labels":["l"]}},{"externalId":"y","type":{"name":"host"}}],
		"relations":[{"externalId":"x-y","type":{"name":"calls"},"sourceId":"x","targetId":"y"}],"delete_ids":["z"]}],
		"health":[{"consistency_model":"REPEAT_SNAPSHOTS","start_snapshot":{"repeat_interval_s":300},"stop_snapshot":{},
		"stream":{"urn":"urn:health:monitor:disks"},"check_states":[{"checkStateId":"disk-1","name":"Disk Usage","health":"Deviating",
		"topologyElementIdentifier":"urn:host:x","message":"Running out of disk space"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rec := ingest.NewTopologyRecord(topos)
	if n := len(rec.Topologies); n != 2 || len(rec.Topologies[1].CheckStates) != 1 || len(rec.Topologies[1].ReplaceStreams) != 1 {
		t.Fatalf("the payload decoded to %d topologies (%+v), want its topology and its health stream", n, rec.Topologies)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back ingest.Record
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rec) {
		t.Fatalf("read back:\n%+v\nappended:\n%+v", &back, rec)
	}
	ap, err := ingest.OpenApplier(memstore.New(memstore.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ap.Apply(context.Background(), back.Topologies, time.Time{}); err != nil {
		t.Fatalf("applying the record read back: %v", err)
	}
	if err := back.UnmarshalBinary([]byte(`{"kind":`)); err == nil {
		t.Error("a truncated record decodes")
	}
}
