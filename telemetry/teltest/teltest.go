// Package teltest is the conformance suite of telemetry.Store
// implementations: datadriven files under testdata/ that every store runs
// unchanged. A store's test calls Run with a function that opens an empty
// store.
//
// Commands:
//
//	append-metrics        one series per line: NAME [k=v …] [@id …]: T=V …
//	                      (T in seconds, V a number, nan or ±inf)
//	select-metrics from=S to=S [agg=M] [p=P] [step=S] [group=k,…] [components=key:id|id;…] [ids=a,b]
//	                      the input is a filter (see ParseFilter), or empty
//	metric-identifiers from=S to=S [ids=…]   (same filter input)
//	append-events         one event per line: T ID NAME [k=v …] [category=C] [type=…] [source=…] [msg=…] [@id …]
//	select-events from=S to=S [limit=N] [ids=…]
//
// Times are seconds in the files and milliseconds in the stores.
package teltest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/telemetry"
)

// Run runs every file of the suite against stores made by open; each file
// gets a fresh store, closed at its end.
func Run(t *testing.T, open func(t *testing.T) telemetry.Store) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "testdata")
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		st := open(t)
		defer st.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := run(st, d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func run(st telemetry.Store, d *datadriven.TestData) (string, error) {
	ctx := context.Background()
	switch d.Cmd {
	case "append-metrics":
		batch, err := parseSeries(d.Input)
		if err != nil {
			return "", err
		}
		if err := st.AppendMetrics(ctx, batch); err != nil {
			return "", classify(err)
		}
		return "ok\n", nil
	case "select-metrics":
		q, err := metricQuery(d)
		if err != nil {
			return "", err
		}
		set, err := st.SelectMetrics(ctx, q)
		if err != nil {
			return "", classify(err)
		}
		return FormatSeries(set)
	case "metric-identifiers":
		q, err := metricQuery(d)
		if err != nil {
			return "", err
		}
		ids, err := st.MetricIdentifiers(ctx, q)
		if err != nil {
			return "", classify(err)
		}
		return strings.Join(ids, "\n") + "\n", nil
	case "append-events":
		batch, err := parseEvents(d.Input)
		if err != nil {
			return "", err
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			return "", classify(err)
		}
		return "ok\n", nil
	case "select-events":
		q, err := eventQuery(d)
		if err != nil {
			return "", err
		}
		it, err := st.SelectEvents(ctx, q)
		if err != nil {
			return "", classify(err)
		}
		return formatEvents(it)
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

// classify keeps the suite's expected output independent of each store's
// wording: user errors print as "invalid".
func classify(err error) error {
	if errors.Is(err, telemetry.ErrInvalid) {
		return errors.New("invalid")
	}
	return err
}

func sec(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return int64(math.Round(f * 1000)), nil
}

func fmtSec(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

func args(d *datadriven.TestData) map[string]string {
	m := map[string]string{}
	for _, a := range d.CmdArgs {
		m[a.Key] = strings.Join(a.Vals, ",")
	}
	return m
}

func rangeOf(a map[string]string) (int64, int64, error) {
	from, err := sec(a["from"])
	if err != nil {
		return 0, 0, err
	}
	to, err := sec(a["to"])
	return from, to, err
}

func identifiers(a map[string]string) []string {
	v, ok := a["ids"]
	if !ok {
		return nil
	}
	if v == "" {
		return []string{}
	}
	return strings.Split(v, "|")
}

// MetricQuery reads a select-metrics command's query (for stores' own
// tests of their query translation).
func MetricQuery(d *datadriven.TestData) (telemetry.MetricQuery, error) { return metricQuery(d) }

// EventQuery reads a select-events command's query.
func EventQuery(d *datadriven.TestData) (telemetry.EventQuery, error) { return eventQuery(d) }

func metricQuery(d *datadriven.TestData) (telemetry.MetricQuery, error) {
	a := args(d)
	var q telemetry.MetricQuery
	var err error
	if q.Start, q.End, err = rangeOf(a); err != nil {
		return q, err
	}
	if q.Filter, err = ParseFilter(d.Input); err != nil {
		return q, err
	}
	q.Identifiers = identifiers(a)
	if m, ok := a["agg"]; ok {
		agg := &telemetry.Aggregation{}
		for i := telemetry.Mean; i <= telemetry.CountNoZeros; i++ {
			if i.String() == m {
				agg.Method = i
			}
		}
		if agg.Method == 0 {
			return q, fmt.Errorf("unknown method %q", m)
		}
		if p, ok := a["p"]; ok {
			agg.Percentile, _ = strconv.ParseFloat(p, 64)
		}
		if s, ok := a["step"]; ok {
			if agg.Step, err = sec(s); err != nil {
				return q, err
			}
		}
		if g, ok := a["group"]; ok {
			agg.GroupBy = strings.Split(g, ",")
		}
		if c, ok := a["components"]; ok {
			agg.Components = []telemetry.ComponentGroup{}
			for _, part := range strings.Split(c, ";") {
				key, ids, _ := strings.Cut(part, ":")
				agg.Components = append(agg.Components, telemetry.ComponentGroup{Key: key, Identifiers: strings.Split(ids, "|")})
			}
		}
		q.Agg = agg
	}
	return q, nil
}

func eventQuery(d *datadriven.TestData) (telemetry.EventQuery, error) {
	a := args(d)
	var q telemetry.EventQuery
	var err error
	if q.Start, q.End, err = rangeOf(a); err != nil {
		return q, err
	}
	if q.Filter, err = ParseFilter(d.Input); err != nil {
		return q, err
	}
	q.Identifiers = identifiers(a)
	if l, ok := a["limit"]; ok {
		q.Limit, _ = strconv.Atoi(l)
	}
	return q, nil
}

// fields splits a line at spaces outside double quotes.
func fields(line string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			continue
		}
		if r != '"' {
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func parseSeries(input string) ([]telemetry.SeriesSamples, error) {
	var batch []telemetry.SeriesSamples
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		head, data, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("want NAME tags: samples, got %q", line)
		}
		f := fields(head)
		var s telemetry.SeriesSamples
		if len(f) > 0 {
			s.Series.Name = f[0]
			if s.Series.Name == `""` || s.Series.Name == "-" {
				s.Series.Name = ""
			}
		}
		for _, kv := range f[min(1, len(f)):] {
			if id, ok := strings.CutPrefix(kv, "@"); ok {
				s.Series.Identifiers = append(s.Series.Identifiers, id)
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			s.Series.Tags = append(s.Series.Tags, telemetry.Tag{Key: k, Value: v})
		}
		s.Series.Tags = telemetry.NewTags(s.Series.Tags)
		for _, p := range strings.Fields(data) {
			ts, vs, _ := strings.Cut(p, "=")
			t, err := sec(ts)
			if err != nil {
				return nil, err
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", vs)
			}
			s.Samples = append(s.Samples, telemetry.Sample{T: t, V: v})
		}
		batch = append(batch, s)
	}
	return batch, nil
}

func parseEvents(input string) ([]telemetry.Event, error) {
	var batch []telemetry.Event
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("want T ID NAME …, got %q", line)
		}
		t, err := sec(f[0])
		if err != nil {
			return nil, err
		}
		e := telemetry.Event{Time: t, ID: f[1], Name: f[2]}
		for _, kv := range f[3:] {
			if id, ok := strings.CutPrefix(kv, "@"); ok {
				e.Identifiers = append(e.Identifiers, id)
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "category":
				e.Category = v
			case "type":
				e.Type = v
			case "source":
				e.Source = v
			case "msg":
				e.Message = v
			default:
				e.Tags = append(e.Tags, telemetry.Tag{Key: k, Value: v})
			}
		}
		e.Tags = telemetry.NewTags(e.Tags)
		batch = append(batch, e)
	}
	return batch, nil
}

// FormatSeries drains a set into one line per series.
func FormatSeries(set telemetry.SeriesSet) (string, error) {
	defer set.Close()
	var b strings.Builder
	n := 0
	for set.Next() {
		s := set.At()
		n++
		if s.Component != "" {
			fmt.Fprintf(&b, "[%s] ", s.Component)
		}
		fmt.Fprintf(&b, "%s{%s}:", s.Name, s.Tags)
		for _, p := range s.Points {
			fmt.Fprintf(&b, " %s=%s", fmtSec(p.T), strconv.FormatFloat(p.V, 'g', 10, 64))
		}
		b.WriteByte('\n')
	}
	if err := set.Err(); err != nil {
		return "", err
	}
	if n == 0 {
		return "no series\n", nil
	}
	return b.String(), nil
}

func formatEvents(it telemetry.EventIterator) (string, error) {
	defer it.Close()
	var b strings.Builder
	n := 0
	for it.Next() {
		e := it.At()
		n++
		fmt.Fprintf(&b, "%s %s %q category=%s", fmtSec(e.Time), e.ID, e.Name, e.Category)
		if e.Type != "" {
			fmt.Fprintf(&b, " type=%s", e.Type)
		}
		if e.Source != "" {
			fmt.Fprintf(&b, " source=%s", e.Source)
		}
		if len(e.Tags) > 0 {
			fmt.Fprintf(&b, " tags={%s}", e.Tags)
		}
		if len(e.Identifiers) > 0 {
			fmt.Fprintf(&b, " ids=%s", strings.Join(e.Identifiers, ","))
		}
		b.WriteByte('\n')
	}
	if err := it.Err(); err != nil {
		return "", err
	}
	if n == 0 {
		return "no events\n", nil
	}
	return b.String(), nil
}
