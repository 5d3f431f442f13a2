package ingest_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
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

// TestDataRecordRoundTrip: metrics, events and spans read back from a log
// that stores bytes are what was appended, values JSON cannot hold (NaN,
// ±Inf) and absent event data included; a record whose times and values
// disagree is an error.
func TestDataRecordRoundTrip(t *testing.T) {
	tags := telemetry.NewTags([]telemetry.Tag{{Key: "host", Value: "h1"}, {Key: "env", Value: "prod"}})
	recs := []*ingest.Record{
		{Kind: ingest.KindMetrics, Key: "host:h1", Metrics: []telemetry.SeriesSamples{{
			Series:  telemetry.Series{Name: "cpu", Tags: tags, Identifiers: []string{"urn:host:/h1"}},
			Samples: []telemetry.Sample{{T: 1000, V: 0.1}, {T: 2000, V: math.Inf(1)}, {T: 3000, V: math.Inf(-1)}, {T: 4000, V: 1e300}}}}},
		{Kind: ingest.KindEvents, Key: "source:ci", Events: []telemetry.Event{
			{ID: "e1", Time: 5, Name: "deploy", Category: "Changes", Source: "ci", Tags: tags, Links: []telemetry.Link{{Title: "t", URL: "u"}}},
			{ID: "e2", Time: 6, Name: "alert", Category: "Alerts", Data: []byte(`{"a":1}`), Tags: tags}}},
		{Kind: ingest.KindTraces, Key: "service:shop", Spans: []traces.Span{{TraceID: "ab", SpanID: "cd", Service: "shop", Name: "GET",
			Kind: "server", Status: "ok", Start: 1, Duration: 2, Attributes: tags, Resource: tags}}},
	}
	for _, rec := range recs {
		b, err := rec.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", rec.Kind, err)
		}
		var back ingest.Record
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", rec.Kind, err)
		}
		if !reflect.DeepEqual(&back, rec) {
			t.Errorf("%s read back:\n%+v\nappended:\n%+v", rec.Kind, &back, rec)
		}
	}
	nan := &ingest.Record{Kind: ingest.KindMetrics, Metrics: []telemetry.SeriesSamples{{Series: telemetry.Series{Name: "x"},
		Samples: []telemetry.Sample{{T: 1, V: math.NaN()}}}}}
	b, err := nan.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back ingest.Record
	if err := back.UnmarshalBinary(b); err != nil || !math.IsNaN(back.Metrics[0].Samples[0].V) {
		t.Errorf("NaN read back as %+v, %v", back.Metrics, err)
	}
	for _, bad := range []string{
		`{"kind":"metrics","metrics":[{"series":{"Name":"x"},"t":[1,2],"v":[1]}]}`,
		`{"kind":"metrics","metrics":[{"series":{"Name":"x"},"t":[1],"v":["many"]}]}`,
	} {
		if err := back.UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("%s decodes", bad)
		}
	}
}
