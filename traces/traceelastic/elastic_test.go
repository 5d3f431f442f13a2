package traceelastic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/internal/esutil/estest"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/teltest"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracetest"
)

// TestConformance runs the conformance suite against a real Elasticsearch
// when TETRA_TEST_ELASTICSEARCH_URL names one.
func TestConformance(t *testing.T) {
	url := os.Getenv("TETRA_TEST_ELASTICSEARCH_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "\n*** traceelastic: THE CONFORMANCE SUITE DID NOT RUN AGAINST ELASTICSEARCH: set TETRA_TEST_ELASTICSEARCH_URL=http://host:9200 to run it ***")
		t.Skip("TETRA_TEST_ELASTICSEARCH_URL is not set: the Elasticsearch conformance suite did not run")
	}
	tracetest.Run(t, func(t *testing.T) traces.Store {
		b := make([]byte, 4)
		rand.Read(b)
		c, err := esutil.New(esutil.Options{URL: url, Prefix: "tetratest-" + hex.EncodeToString(b)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Do(context.Background(), http.MethodDelete, "/"+c.Prefix+"-"+kind+"-*", nil, nil)
			c.Do(context.Background(), http.MethodDelete, "/_index_template/"+c.Prefix+"-"+kind, nil, nil)
		})
		s, err := Open(context.Background(), c, Options{Retention: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestDSL prints the searches of testdata/dsl's queries.
func TestDSL(t *testing.T) {
	c, err := esutil.New(esutil.Options{URL: "http://es.invalid:9200"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{c: c}
	datadriven.RunTest(t, "testdata/dsl", func(t *testing.T, d *datadriven.TestData) string {
		filter, err := teltest.ParseFilter(d.Input)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		q := traces.TraceQuery{Filter: filter, Start: 0, End: 1e12}
		for _, a := range d.CmdArgs {
			if a.Key == "ids" {
				q.Identifiers = a.Vals
			}
		}
		return s.ExplainTraces(q)
	})
}

// TestSearchAnswers: a search reads the matching spans, then the whole
// traces, and summarises them.
func TestSearchAnswers(t *testing.T) {
	c, f := estest.New(t,
		estest.Answer{Status: 200, Body: `{"hits":{"hits":[
			{"_source":{"trace_id":"a1","span_id":"02","parent_id":"01","service":"checkout","name":"PlaceOrder","status":"error","start":1000,"start_ns":1000000000,"duration":700000000,"attributes":{"rpc.method":"PlaceOrder"},"resource":{}},"sort":[1000000000,"a1","02"]}]}}`},
		estest.Answer{Status: 200, Body: `{"hits":{"hits":[
			{"_source":{"trace_id":"a1","span_id":"01","service":"frontend","name":"POST /checkout","status":"error","start":999,"start_ns":999000000,"duration":900000000,"attributes":{},"resource":{"host.name":"n1"}},"sort":["a1","01"]},
			{"_source":{"trace_id":"a1","span_id":"02","parent_id":"01","service":"checkout","name":"PlaceOrder","status":"error","start":1000,"start_ns":1000000000,"duration":700000000,"attributes":{"rpc.method":"PlaceOrder"},"resource":{}},"sort":["a1","02"]}]}}`})
	s := &Store{c: c}
	it, err := s.SearchTraces(context.Background(), traces.TraceQuery{Start: 0, End: 2e9, Limit: 5,
		Filter: &telemetry.Match{Field: "service", Values: []string{"checkout"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal("no trace")
	}
	tr := it.At()
	got := fmt.Sprintf("%s root=%s/%s start=%d dur=%d spans=%d error=%t matched=%d %s", tr.TraceID, tr.RootService, tr.RootName,
		tr.Start, tr.Duration, tr.SpanCount, tr.Error, len(tr.Matched), tr.Matched[0].Attributes)
	if want := `a1 root=frontend/POST /checkout start=999000000 dur=900000000 spans=2 error=true matched=1 rpc.method="PlaceOrder"`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if it.Next() {
		t.Fatal("one trace expected")
	}
	reqs := f.Requests()
	if len(reqs) != 2 || !strings.Contains(reqs[1], `"terms":{"trace_id":["a1"]}`) {
		t.Fatalf("requests: %q", reqs)
	}
}
