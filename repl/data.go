package repl

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/telemetry"
)

// Terminal tables of the data statements: METRICS as one row per series
// (its value when every series has one point, else the number of points,
// min, mean, max, last and a sparkline), EVENTS and TRACES as one row per
// event or trace.

var (
	seriesColumns = []Column{
		{Header: "SERIES", Keep: 4, Min: 16, ElideMiddle: true},
		{Header: "POINTS", Fixed: true, Keep: 2},
		{Header: "MIN", Fixed: true, Keep: 3},
		{Header: "MEAN", Fixed: true, Keep: 3},
		{Header: "MAX", Fixed: true, Keep: 3},
		{Header: "LAST", Fixed: true, Keep: 3},
		{Header: "TREND", Keep: 1, Min: 8},
	}
	valueColumns = []Column{
		{Header: "SERIES", Keep: 2, Min: 16, ElideMiddle: true},
		{Header: "VALUE", Fixed: true, Keep: 3},
	}
	eventColumns = []Column{
		{Header: "TIME", Fixed: true, Keep: 5},
		{Header: "CATEGORY", Fixed: true, Keep: 4},
		{Header: "NAME", Keep: 3, Min: 12},
		{Header: "SOURCE", Keep: 1},
		{Header: "COMPONENTS", Keep: 1, Min: 12},
		{Header: "MESSAGE", Keep: 0, Min: 12},
	}
	traceColumns = []Column{
		{Header: "START", Fixed: true, Keep: 5},
		{Header: "TRACE", Keep: 2, Min: 8},
		{Header: "ROOT", Keep: 4, Min: 12},
		{Header: "DURATION", Fixed: true, Keep: 4},
		{Header: "SPANS", Fixed: true, Keep: 3},
		{Header: "ERROR", Fixed: true, Keep: 3},
		{Header: "MATCHED", Keep: 0, Min: 12},
	}
)

func writeMetrics(w io.Writer, r *exec.MetricsResult, o Options) error {
	bw := bufio.NewWriter(w)
	what := "raw samples"
	if r.Aggregation != "" {
		what = r.Aggregation
		if r.StepMs > 0 {
			what += " by " + (time.Duration(r.StepMs) * time.Millisecond).String()
		}
	}
	// "series" is its own plural.
	line(bw, o, "%d series from %s to %s (%s)%s", len(r.Series), stamp(r.From), stamp(r.To), what, truncated(r.Truncated))
	if len(r.Series) > 0 {
		t := seriesTable(r.Series)
		if err := t.Write(bw, o.Width); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func seriesTable(series []exec.MetricSeries) Table {
	single := true
	for _, s := range series {
		single = single && len(s.Points) == 1
	}
	if single {
		t := Table{Columns: valueColumns}
		for _, s := range series {
			t.Rows = append(t.Rows, []string{labels(s.Labels), number(s.Points[0].V)})
		}
		return t
	}
	t := Table{Columns: seriesColumns}
	for _, s := range series {
		lo, mean, hi, last := summary(s.Points)
		t.Rows = append(t.Rows, []string{labels(s.Labels), strconv.Itoa(len(s.Points)),
			number(lo), number(mean), number(hi), number(last), sparkline(s.Points, sparkWidth)})
	}
	return t
}

func truncated(t bool) string {
	if t {
		return ", cut by LIMIT"
	}
	return ""
}

// labels prints a series' labels as name{k="v",…}.
func labels(l telemetry.Tags) string {
	var name string
	rest := make(telemetry.Tags, 0, len(l))
	for _, t := range l {
		if t.Key == "name" && name == "" {
			name = t.Value
			continue
		}
		rest = append(rest, t)
	}
	if len(rest) == 0 && name != "" {
		return name
	}
	return name + "{" + rest.String() + "}"
}

// summary returns the min, mean, max and last of the finite values (NaN
// when there are none).
func summary(ps []telemetry.Point) (lo, mean, hi, last float64) {
	lo, hi, last = math.Inf(1), math.Inf(-1), math.NaN()
	sum, n := 0.0, 0
	for _, p := range ps {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			continue
		}
		lo, hi, last = math.Min(lo, p.V), math.Max(hi, p.V), p.V
		sum += p.V
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	return lo, sum / float64(n), hi, last
}

func number(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// sparkWidth is how many characters a sparkline takes at most.
const sparkWidth = 40

var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the points in at most width characters, each the mean of
// the points it covers, scaled between the series' min and max.
func sparkline(ps []telemetry.Point, width int) string {
	if len(ps) == 0 {
		return ""
	}
	n := min(width, len(ps))
	lo, _, hi, _ := summary(ps)
	var b strings.Builder
	for i := range n {
		_, v, _, _ := summary(ps[i*len(ps)/n : (i+1)*len(ps)/n])
		switch {
		case math.IsNaN(v):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(sparks[len(sparks)/2])
		default:
			k := int((v - lo) / (hi - lo) * float64(len(sparks)-1))
			b.WriteRune(sparks[max(0, min(k, len(sparks)-1))])
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeEvents(w io.Writer, r *exec.EventsResult, o Options) error {
	bw := bufio.NewWriter(w)
	line(bw, o, "%s from %s to %s%s", plural(len(r.Events), "event"), stamp(r.From), stamp(r.To), truncated(r.Truncated))
	if len(r.Events) > 0 {
		t := Table{Columns: eventColumns}
		for _, e := range r.Events {
			t.Rows = append(t.Rows, []string{stamp(time.UnixMilli(e.Timestamp)), e.Category, orDash(e.Name), orDash(e.Source),
				orDash(strings.Join(e.Identifiers, ",")), orDash(firstLine(e.Message))})
		}
		if err := t.Write(bw, o.Width); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func writeTraces(w io.Writer, r *exec.TracesResult, o Options) error {
	bw := bufio.NewWriter(w)
	line(bw, o, "%s from %s to %s%s", plural(len(r.Traces), "trace"), stamp(r.From), stamp(r.To), truncated(r.Truncated))
	if len(r.Traces) > 0 {
		t := Table{Columns: traceColumns}
		for _, tr := range r.Traces {
			root := tr.RootService + " " + tr.RootName
			if tr.RootService == "" {
				root = "(no root)"
			}
			matched := make([]string, len(tr.Spans))
			for i, s := range tr.Spans {
				matched[i] = s.Service + " " + s.Name + " " + time.Duration(s.DurationNano).String()
			}
			errMark := "-"
			if tr.Error {
				errMark = "error"
			}
			t.Rows = append(t.Rows, []string{time.Unix(0, tr.StartTimeUnixNano).UTC().Format("2006-01-02T15:04:05.000Z"),
				tr.TraceID, root, time.Duration(tr.DurationNano).String(), strconv.Itoa(tr.SpanCount), errMark, strings.Join(matched, "; ")})
		}
		if err := t.Write(bw, o.Width); err != nil {
			return err
		}
	}
	return bw.Flush()
}
