package telelastic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/internal/esutil/estest"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/teltest"
)

// TestConformance runs the conformance suite against a real Elasticsearch
// when TETRA_TEST_ELASTICSEARCH_URL names one; each file gets its own index
// prefix, deleted afterwards.
func TestConformance(t *testing.T) {
	url := os.Getenv("TETRA_TEST_ELASTICSEARCH_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "\n*** telelastic: THE CONFORMANCE SUITE DID NOT RUN AGAINST ELASTICSEARCH: set TETRA_TEST_ELASTICSEARCH_URL=http://host:9200 to run it ***")
		t.Skip("TETRA_TEST_ELASTICSEARCH_URL is not set: the Elasticsearch conformance suite did not run")
	}
	teltest.Run(t, func(t *testing.T) telemetry.Store {
		c, err := esutil.New(esutil.Options{URL: url, Prefix: "tetratest-" + randomHex(4)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanup(c) })
		s, err := Open(context.Background(), c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func cleanup(c *esutil.Client) {
	ctx := context.Background()
	for _, kind := range []string{kindMetrics, kindEvents} {
		c.Do(ctx, http.MethodDelete, "/"+c.Prefix+"-"+kind+"-*", nil, nil)
		c.Do(ctx, http.MethodDelete, "/_index_template/"+c.Prefix+"-"+kind, nil, nil)
	}
}

// TestDSL prints the searches the store sends (testdata/dsl): the
// select-metrics and select-events commands of the conformance suite, with
// the query DSL as output.
func TestDSL(t *testing.T) {
	c, err := esutil.New(esutil.Options{URL: "http://es.invalid:9200"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{c: c}
	datadriven.RunTest(t, "testdata/dsl", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "select-metrics":
			q, err := teltest.MetricQuery(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return s.ExplainMetrics(q)
		case "select-events":
			q, err := teltest.EventQuery(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return s.ExplainEvents(q)
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
}

type answer = estest.Answer

func ans(status int, body string) answer { return answer{Status: status, Body: body} }

// fakeStore returns a store talking to a fake Elasticsearch that gives the
// answers.
func fakeStore(t *testing.T, answers ...answer) (*Store, *estest.Server) {
	c, f := estest.New(t, answers...)
	return &Store{c: c, o: Options{MetricRetention: telemetry.DefaultMetricRetention, EventRetention: telemetry.DefaultEventRetention}}, f
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
