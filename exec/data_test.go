package exec_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/traces"
)

// dataHarness is a graph and data stores for the files under datatests/.
type dataHarness struct {
	t      *testing.T
	g      graphstore.Store
	data   exec.DataStores
	traces traces.Store
	ap     *ingest.Applier
}

// TestDataQueries runs datatests/: statements in, rows out. Commands:
//
//	load at=T FILE…       loads files of ../testdata (topology stamped at T;
//	                      metrics, events and spans appended)
//	load at=T             the same with the input as the payload
//	query now=T [max=N]   runs the input statement (after an optional
//	                      "scope: EXPR" line) and prints its rows
//	explain now=T         prints the plan
func TestDataQueries(t *testing.T) {
	datadriven.Walk(t, "datatests", func(t *testing.T, path string) {
		g, err := pebblestore.Open(t.TempDir(), pebblestore.Options{NoSync: true, Retention: 1 << 62,
			Now: func() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		tel, tr := openDataStores(t)
		h := &dataHarness{t: t, g: g, data: exec.DataStores{Metrics: tel, Events: tel, Traces: tr}, traces: tr, ap: ingest.NewApplier(g)}
		datadriven.RunTest(t, path, h.run)
	})
}

func argTime(d *datadriven.TestData, key string) time.Time {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			tm, err := time.Parse(time.RFC3339, a.Vals[0])
			if err != nil {
				panic(err)
			}
			return tm
		}
	}
	return time.Time{}
}

func (h *dataHarness) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "load":
		return h.load(d)
	case "query", "explain":
		o := exec.Options{Now: func() time.Time { return argTime(d, "now") }, Data: h.data}
		for _, a := range d.CmdArgs {
			if a.Key == "max" {
				fmt.Sscan(a.Vals[0], &o.MaxElements)
			}
		}
		eng := exec.New(h.g, o)
		src := strings.TrimSpace(d.Input)
		var qo exec.QueryOptions
		if rest, ok := strings.CutPrefix(src, "scope:"); ok {
			scope, query, _ := strings.Cut(rest, "\n")
			expr, err := lang.ParseFilter(strings.TrimSpace(scope))
			if err != nil {
				return lang.Render(scope, err)
			}
			qo.Scope, src = expr, strings.TrimSpace(query)
		}
		stmt, err := lang.Parse(src)
		if err != nil {
			return lang.Render(src, err)
		}
		if d.Cmd == "explain" {
			out, err := eng.ExplainWith(stmt, qo)
			if err != nil {
				return lang.Render(src, err)
			}
			return out
		}
		res, err := eng.RunWith(context.Background(), stmt, qo)
		if err != nil {
			return lang.Render(src, err)
		}
		return formatData(res)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func (h *dataHarness) load(d *datadriven.TestData) string {
	at := argTime(d, "at")
	var inputs [][]byte
	for _, a := range d.CmdArgs {
		if a.Key == "at" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", "testdata", a.Key))
		if err != nil {
			h.t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	if len(inputs) == 0 {
		inputs = append(inputs, []byte(d.Input))
	}
	var b strings.Builder
	ctx := context.Background()
	for _, in := range inputs {
		p, err := ingest.Decoder{DefaultSource: "test"}.DecodePayloadBytes(in)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		if len(p.Topologies) > 0 {
			if _, err := h.ap.Apply(ctx, p.Topologies, at); err != nil {
				return "error: " + err.Error() + "\n"
			}
		}
		if err := errors.Join(h.data.Metrics.AppendMetrics(ctx, p.Metrics), h.data.Events.AppendEvents(ctx, p.Events),
			h.traces.AppendSpans(ctx, p.Spans)); err != nil {
			return "error: " + err.Error() + "\n"
		}
		fmt.Fprintf(&b, "%d topologies, %d series, %d events, %d spans\n", len(p.Topologies), len(p.Metrics), len(p.Events), len(p.Spans))
	}
	return b.String()
}

// formatData prints a data result compactly: times of day in UTC.
func formatData(res *exec.Result) string {
	var b strings.Builder
	clock := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05") }
	if r := res.Metrics; r != nil {
		fmt.Fprintf(&b, "%d series (%s step=%dms) truncated=%t\n", len(r.Series), r.Aggregation, r.StepMs, r.Truncated)
		for _, s := range r.Series {
			fmt.Fprintf(&b, "  {%s}", s.Labels)
			if s.Component != nil {
				fmt.Fprintf(&b, " component %d %q", s.Component.ID, s.Component.Name)
			}
			b.WriteString(":")
			for i, p := range s.Points {
				if i == 8 {
					fmt.Fprintf(&b, " … (%d points)", len(s.Points))
					break
				}
				fmt.Fprintf(&b, " %s=%.6g", clock(p.T), p.V)
			}
			b.WriteByte('\n')
		}
	}
	if r := res.Events; r != nil {
		fmt.Fprintf(&b, "%d events truncated=%t\n", len(r.Events), r.Truncated)
		for _, e := range r.Events {
			fmt.Fprintf(&b, "  %s %s %q source=%s ids=%v\n", clock(e.Timestamp), e.Category, e.Name, e.Source, e.Identifiers)
		}
	}
	if r := res.Traces; r != nil {
		fmt.Fprintf(&b, "%d traces truncated=%t\n", len(r.Traces), r.Truncated)
		for _, t := range r.Traces {
			fmt.Fprintf(&b, "  trace %.8s root=%s/%q start=%s dur=%s spans=%d error=%t\n", t.TraceID, t.RootService, t.RootName,
				time.Unix(0, t.StartTimeUnixNano).UTC().Format("15:04:05.000"), time.Duration(t.DurationNano), t.SpanCount, t.Error)
			for _, s := range t.Spans {
				fmt.Fprintf(&b, "    %s %q %s %s\n", s.Service, s.Name, time.Duration(s.DurationNano), s.Status)
			}
		}
	}
	return b.String()
}
