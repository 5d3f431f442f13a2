package telelastic

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/teltest"
)

// The answers below have the shapes of Elasticsearch's documentation
// (bulk API: "errors" and per-item "status"/"error"; search API:
// composite, filters, date_histogram, percentiles with keyed false,
// top_metrics).

var cpu = telemetry.SeriesSamples{Series: telemetry.Series{Name: "cpu", Tags: telemetry.Tags{{Key: "host", Value: "web-1"}}},
	Samples: []telemetry.Sample{{T: 1000, V: 1}, {T: 2000, V: math.NaN()}, {T: 3000, V: 3}}}

const bulkOK = `{"took":3,"errors":false,"items":[{"index":{"_index":"x","_id":"a","status":201,"result":"created"}}]}`

// TestBulkRetriesRejectedItems: an item rejected with 429 is sent again
// (alone); one that conflicts (409) counts as written.
func TestBulkRetriesRejectedItems(t *testing.T) {
	s, f := fakeStore(t,
		ans(200, `{"took":30,"errors":true,"items":[
			{"index":{"_index":"tetra-metrics-1970.01.01","_id":"a","status":201,"result":"created"}},
			{"index":{"_index":"tetra-metrics-1970.01.01","_id":"b","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}},
			{"index":{"_index":"tetra-metrics-1970.01.01","_id":"c","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[c]: version conflict, document already exists (current version [1])"}}}]}`),
		ans(200, bulkOK))
	if err := s.AppendMetrics(context.Background(), []telemetry.SeriesSamples{cpu}); err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 {
		t.Fatalf("%d requests, want 2", len(f.Requests()))
	}
	retry := f.Requests()[1]
	if !strings.HasPrefix(retry, "POST /_bulk?refresh=wait_for") || strings.Count(retry, `"_id"`) != 1 || !strings.Contains(retry, `"special":"NaN"`) {
		t.Fatalf("the retry should send the rejected document (the NaN sample) alone:\n%s", retry)
	}
	if !strings.Contains(f.Requests()[0], `"value":3`) || strings.Count(f.Requests()[0], `"_id"`) != 3 {
		t.Fatalf("first request:\n%s", f.Requests()[0])
	}
}

// TestBulkRefusal: a document Elasticsearch refuses for good fails the
// append, naming it.
func TestBulkRefusal(t *testing.T) {
	s, _ := fakeStore(t, ans(200, `{"took":3,"errors":true,"items":[
		{"index":{"_index":"tetra-metrics-1970.01.01","_id":"a","status":201}},
		{"index":{"_index":"tetra-metrics-1970.01.01","_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [value] of type [double]"}}},
		{"index":{"_index":"tetra-metrics-1970.01.01","_id":"c","status":201}}]}`))
	err := s.AppendMetrics(context.Background(), []telemetry.SeriesSamples{cpu})
	var be *esutil.BulkError
	if !errors.As(err, &be) || !errors.Is(err, esutil.ErrElastic) || !strings.Contains(err.Error(), "mapper_parsing_exception") ||
		!strings.Contains(err.Error(), ":2000") {
		t.Fatalf("want a bulk error naming the document of the sample at 2000, got %v", err)
	}
}

// TestWholeRequestRetry: a 429 for the whole request is retried by the
// transport, then succeeds.
func TestWholeRequestRetry(t *testing.T) {
	s, f := fakeStore(t,
		ans(429, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429}`),
		ans(200, bulkOK))
	if err := s.AppendMetrics(context.Background(), []telemetry.SeriesSamples{cpu}); err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 {
		t.Fatalf("%d requests, want 2", len(f.Requests()))
	}
}

// TestItemRetriesRunOut: items still rejected after the retries fail the
// append instead of being dropped.
func TestItemRetriesRunOut(t *testing.T) {
	rejected := ans(200, `{"took":1,"errors":true,"items":[{"index":{"_id":"a","status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}}]}`)
	var answers []answer
	for range 6 {
		answers = append(answers, rejected)
	}
	s, _ := fakeStore(t, answers...)
	one := cpu
	one.Samples = one.Samples[:1]
	if err := s.AppendMetrics(context.Background(), []telemetry.SeriesSamples{one}); err == nil || !strings.Contains(err.Error(), "still rejected") {
		t.Fatalf("want an error after the retries, got %v", err)
	}
}

// TestSearchError: an error answer to a search is an error of class
// ErrElastic with Elasticsearch's type and reason.
func TestSearchError(t *testing.T) {
	s, _ := fakeStore(t, ans(400, `{"error":{"root_cause":[{"type":"query_shard_exception","reason":"failed to create query"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}`))
	_, err := s.SelectMetrics(context.Background(), telemetry.MetricQuery{Start: 0, End: 10})
	var se *esutil.StatusError
	if !errors.As(err, &se) || se.Status != 400 || se.Type != "search_phase_execution_exception" || !errors.Is(err, esutil.ErrElastic) {
		t.Fatalf("got %v", err)
	}
}

func drain(t *testing.T, s *Store, q telemetry.MetricQuery) string {
	t.Helper()
	set, err := s.SelectMetrics(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out, err := teltest.FormatSeries(set)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAggregationAnswers reads composite, date histogram and metric
// answers into series.
func TestAggregationAnswers(t *testing.T) {
	s, _ := fakeStore(t, ans(200, `{"took":5,"timed_out":false,"hits":{"total":{"value":6,"relation":"eq"},"hits":[]},
		"aggregations":{"groups":{"after_key":{"s":"[\"cpu\",\"host\",\"web-2\"]"},"buckets":[
		 {"key":{"s":"[\"cpu\",\"host\",\"web-2\"]"},"doc_count":3,"h":{"buckets":[
		   {"key_as_string":"1970-01-01T00:00:00.000Z","key":0,"doc_count":2,"n":{"value":2},"v":{"value":2.5}},
		   {"key_as_string":"1970-01-01T00:00:10.000Z","key":10000,"doc_count":0,"n":{"value":0},"v":{"value":null}},
		   {"key_as_string":"1970-01-01T00:00:20.000Z","key":20000,"doc_count":1,"n":{"value":1},"v":{"value":7}}]}},
		 {"key":{"s":"[\"cpu\",\"host\",\"web-1\"]"},"doc_count":1,"h":{"buckets":[
		   {"key":0,"doc_count":1,"n":{"value":1},"v":{"value":1}}]}}]}}}`))
	got := drain(t, s, telemetry.MetricQuery{Start: 0, End: 29_000, Agg: &telemetry.Aggregation{Method: telemetry.Mean, Step: 10_000}})
	want := "cpu{host=\"web-1\"}: 0=1\ncpu{host=\"web-2\"}: 0=2.5 20=7\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	s, _ = fakeStore(t, ans(200, `{"aggregations":{"groups":{"buckets":[
		 {"key":{"g0":"x"},"doc_count":4,"n":{"value":4},"v":{"values":[{"key":99.0,"value":12.5}]}},
		 {"key":{"g0":null},"doc_count":1,"n":{"value":1},"v":{"values":[{"key":99.0,"value":3}]}}]}}}`))
	got = drain(t, s, telemetry.MetricQuery{Start: 0, End: 10, Agg: &telemetry.Aggregation{Method: telemetry.Percentile, Percentile: 99, GroupBy: []string{"dc"}}})
	if want = "{}: 0=3\n{dc=\"x\"}: 0=12.5\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	s, _ = fakeStore(t, ans(200, `{"aggregations":{"groups":{"buckets":{
		 "c1":{"doc_count":2,"n":{"value":2},"v":{"top":[{"sort":["1970-01-01T00:00:05.000Z"],"metrics":{"value":8.0}}]}},
		 "c2":{"doc_count":0,"n":{"value":0},"v":{"top":[]}}}}}}`))
	got = drain(t, s, telemetry.MetricQuery{Start: 0, End: 10, Agg: &telemetry.Aggregation{Method: telemetry.Last,
		Components: []telemetry.ComponentGroup{{Key: "c1", Identifiers: []string{"urn:a"}}, {Key: "c2", Identifiers: []string{"urn:b"}}}}})
	if want = "[c1] {}: 0=8\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	// Dense counts keep the empty buckets of the range as 0.
	s, _ = fakeStore(t, ans(200, `{"aggregations":{"groups":{"buckets":[
		 {"key":{"s":"[\"req\"]"},"doc_count":1,"h":{"buckets":[
		   {"key":0,"doc_count":1,"n":{"value":1}},{"key":10000,"doc_count":0,"n":{"value":0}}]}}]}}}`))
	got = drain(t, s, telemetry.MetricQuery{Start: 0, End: 19_000, Agg: &telemetry.Aggregation{Method: telemetry.Count, Step: 10_000}})
	if want = "req{}: 0=1 10=0\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRawAnswers reads sample documents into series, NaN included.
func TestRawAnswers(t *testing.T) {
	s, f := fakeStore(t, ans(200, `{"hits":{"hits":[
		{"_source":{"@timestamp":1000,"series":"[\"cpu\",\"host\",\"a\"]","identifiers":["urn:host:/a"],"value":1},"sort":["[\"cpu\",\"host\",\"a\"]",1000]},
		{"_source":{"@timestamp":2000,"series":"[\"cpu\",\"host\",\"a\"]","identifiers":["urn:host:/a"],"special":"NaN"},"sort":["[\"cpu\",\"host\",\"a\"]",2000]},
		{"_source":{"@timestamp":1500,"series":"[\"cpu\",\"host\",\"b\"]","value":-2},"sort":["[\"cpu\",\"host\",\"b\"]",1500]}]}}`))
	got := drain(t, s, telemetry.MetricQuery{Start: 0, End: 5000})
	if want := "cpu{host=\"a\"}: 1=1 2=NaN\ncpu{host=\"b\"}: 1.5=-2\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(f.Requests()[0], "/tetra-metrics-1970.01.01/_search") {
		t.Fatalf("request: %s", f.Requests()[0])
	}
}

// TestEventAnswers reads event documents newest first, tags included.
func TestEventAnswers(t *testing.T) {
	s, _ := fakeStore(t, ans(200, `{"hits":{"hits":[
		{"_source":{"@timestamp":2000,"id":"e2","name":"deploy","category":"Deployments","tags":{"env":"prod","v":["1","2"]},"identifiers":["urn:x"]},"sort":[2000,"e2"]},
		{"_source":{"@timestamp":1000,"id":"e1","name":"alert","category":"Alerts","tags":{}},"sort":[1000,"e1"]}]}}`))
	it, err := s.SelectEvents(context.Background(), telemetry.EventQuery{Start: 0, End: 5000, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		e := it.At()
		got = append(got, e.ID+" "+e.Name+" "+e.Tags.String())
	}
	if want := `e2 deploy env="prod",v="1",v="2"|e1 alert `; strings.Join(got, "|") != want {
		t.Fatalf("got %q want %q", strings.Join(got, "|"), want)
	}
}

// TestRetention deletes the daily indices whose day ended before the
// horizon.
func TestRetention(t *testing.T) {
	s, f := fakeStore(t,
		ans(200, `[{"index":"tetra-metrics-2026.10.01"},{"index":"tetra-metrics-2026.11.01"},{"index":"tetra-metrics-2026.10.02"}]`),
		ans(200, `{"acknowledged":true}`),
		ans(404, `{"error":{"type":"index_not_found_exception","reason":"no such index [tetra-events-*]"},"status":404}`))
	s.o.MetricRetention = 30 * 24 * 3600 * 1e9
	if err := s.Compact(context.Background(), mustTime("2026-11-01T12:00:00Z")); err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, r := range f.Requests() {
		if strings.HasPrefix(r, "DELETE") {
			deletes = append(deletes, strings.Fields(r)[1])
		}
	}
	// The horizon is 2026-10-02T12:00Z: only October 1st has ended by then.
	if want := "/tetra-metrics-2026.10.01?"; strings.Join(deletes, "|") != want {
		t.Fatalf("deleted %v", deletes)
	}
}
