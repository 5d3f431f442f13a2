package ingest

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/tetrahq/tetra/telemetry"
)

// OTLP metrics become series (docs/telemetry.md has the table). Every
// series is tagged with the resource's attributes and the data point's;
// times become milliseconds.
//
//   - gauge, sum: one series named by the metric; a sum's value is stored
//     as sent (cumulative or delta, whichever the sender's temporality).
//   - histogram: <name>.count, <name>.sum, <name>.min, <name>.max (those
//     the point has) and <name>.bucket, one series per bucket tagged
//     le=<upper bound> (+Inf for the last) with the cumulative count, as
//     Prometheus names them, so that a quantile can be estimated.
//   - exponential histogram: <name>.count, .sum, .min and .max; its
//     buckets are not kept.
//   - summary: <name>.count, <name>.sum and <name> tagged
//     quantile=<q> per quantile.
//
// A point flagged "no recorded value" is skipped, as OTLP asks; a point
// without a time, or a histogram whose bucket counts do not match its
// bounds, is an error with its path.

func (w *walker) otlpMetrics(p *path, rms []*metricspb.ResourceMetrics) {
	for i, rm := range rms {
		res := resourceAttrs(rm.GetResource())
		for j, sm := range rm.GetScopeMetrics() {
			mp := p.at(i).field("scopeMetrics").at(j).field("metrics")
			for k, m := range sm.GetMetrics() {
				w.otlpMetric(mp.at(k), m, res)
			}
		}
	}
}

// otlpMetric decodes one metric's data points.
func (w *walker) otlpMetric(p *path, m *metricspb.Metric, res telemetry.Tags) {
	name := m.GetName()
	if name == "" {
		w.failf(p.field("name"), "missing")
		return
	}
	pts := metricPoints{w: w, name: name, res: res}
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		pts.numbers(p.field("gauge").field("dataPoints"), d.Gauge.GetDataPoints())
	case *metricspb.Metric_Sum:
		pts.numbers(p.field("sum").field("dataPoints"), d.Sum.GetDataPoints())
	case *metricspb.Metric_Histogram:
		dp := p.field("histogram").field("dataPoints")
		for i, x := range d.Histogram.GetDataPoints() {
			pts.histogram(dp.at(i), x)
		}
	case *metricspb.Metric_ExponentialHistogram:
		dp := p.field("exponentialHistogram").field("dataPoints")
		for i, x := range d.ExponentialHistogram.GetDataPoints() {
			if t, tags, ok := pts.point(dp.at(i), x.GetTimeUnixNano(), x.GetFlags(), x.GetAttributes()); ok {
				pts.aggregates(dp.at(i), t, tags, x.GetCount(), x.Sum, x.Min, x.Max)
			}
		}
	case *metricspb.Metric_Summary:
		dp := p.field("summary").field("dataPoints")
		for i, x := range d.Summary.GetDataPoints() {
			pts.summary(dp.at(i), x)
		}
	default:
		w.warnf(p, "the metric %q has no data (no gauge, sum, histogram, exponentialHistogram or summary): nothing stored", name)
	}
}

// metricPoints adds the samples of one metric's data points.
type metricPoints struct {
	w    *walker
	name string
	res  telemetry.Tags
}

// point checks a data point's time and flags and returns its time in
// milliseconds and its tags; ok is false for a point to skip (an error
// was recorded, or it has no recorded value).
func (m metricPoints) point(p *path, t uint64, flags uint32, attrsOf []*commonpb.KeyValue) (int64, telemetry.Tags, bool) {
	if flags&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
		return 0, nil, false
	}
	if t == 0 {
		m.w.failf(p.field("timeUnixNano"), "missing")
		return 0, nil, false
	}
	tags := append(append(make(telemetry.Tags, 0, len(m.res)+len(attrsOf)+1), m.res...), attrs(attrsOf)...)
	return int64(t / uint64(time.Millisecond)), tags, true
}

// add adds one sample of a series named <metric><suffix>, tagged with
// tags and extra.
func (m metricPoints) add(p *path, suffix string, t int64, tags telemetry.Tags, v float64, extra ...telemetry.Tag) {
	if len(extra) > 0 {
		tags = append(tags[:len(tags):len(tags)], extra...)
	}
	m.w.addSeriesSample(p, telemetry.Series{Name: m.name + suffix, Tags: tags}, telemetry.Sample{T: t, V: v}, true)
}

func (m metricPoints) numbers(p *path, dps []*metricspb.NumberDataPoint) {
	for i, dp := range dps {
		t, tags, ok := m.point(p.at(i), dp.GetTimeUnixNano(), dp.GetFlags(), dp.GetAttributes())
		if !ok {
			continue
		}
		v := dp.GetAsDouble()
		if _, isInt := dp.GetValue().(*metricspb.NumberDataPoint_AsInt); isInt {
			v = float64(dp.GetAsInt())
		}
		m.add(p.at(i), "", t, tags, v)
	}
}

// aggregates adds <name>.count and those of .sum, .min and .max the
// point has.
func (m metricPoints) aggregates(p *path, t int64, tags telemetry.Tags, count uint64, sum, lo, hi *float64) {
	m.add(p, ".count", t, tags, float64(count))
	for _, a := range []struct {
		suffix string
		v      *float64
	}{{".sum", sum}, {".min", lo}, {".max", hi}} {
		if a.v != nil {
			m.add(p, a.suffix, t, tags, *a.v)
		}
	}
}

func (m metricPoints) histogram(p *path, dp *metricspb.HistogramDataPoint) {
	counts, bounds := dp.GetBucketCounts(), dp.GetExplicitBounds()
	if len(counts) > 0 && len(counts) != len(bounds)+1 {
		m.w.failf(p.field("bucketCounts"), "%d bucket counts for %d explicit bounds; want one more count than bounds", len(counts), len(bounds))
		return
	}
	t, tags, ok := m.point(p, dp.GetTimeUnixNano(), dp.GetFlags(), dp.GetAttributes())
	if !ok {
		return
	}
	m.aggregates(p, t, tags, dp.GetCount(), dp.Sum, dp.Min, dp.Max)
	var cum uint64
	for i, c := range counts {
		cum += c
		le := "+Inf"
		if i < len(bounds) {
			le = strconv.FormatFloat(bounds[i], 'g', -1, 64)
		}
		m.add(p, ".bucket", t, tags, float64(cum), telemetry.Tag{Key: "le", Value: le})
	}
}

func (m metricPoints) summary(p *path, dp *metricspb.SummaryDataPoint) {
	t, tags, ok := m.point(p, dp.GetTimeUnixNano(), dp.GetFlags(), dp.GetAttributes())
	if !ok {
		return
	}
	sum := dp.GetSum()
	m.aggregates(p, t, tags, dp.GetCount(), &sum, nil, nil)
	for _, q := range dp.GetQuantileValues() {
		m.add(p, "", t, tags, q.GetValue(), telemetry.Tag{Key: "quantile", Value: strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)})
	}
}

// OTLP log records become events:
//
//   - time: timeUnixNano, else observedTimeUnixNano (one is required);
//   - name: the record's eventName, else its event.name attribute, else
//     the body's first line (at most 120 bytes);
//   - message: the body (a structured body as JSON);
//   - type: the severity text, else the severity number's name (ERROR,
//     WARN2, …);
//   - category: the event.category attribute (else Others);
//   - source: the resource's service.name (else "opentelemetry");
//   - tags: the resource's attributes and the record's, and trace_id and
//     span_id when the record has them, so the event meets the trace;
//     the identifiers follow from the tags (service.name, host.name, …).

func (w *walker) otlpLogs(p *path, rls []*logspb.ResourceLogs) {
	for i, rl := range rls {
		res := resourceAttrs(rl.GetResource())
		service, _ := sortedTags(append(telemetry.Tags{}, res...)).First("service.name")
		for j, sl := range rl.GetScopeLogs() {
			lp := p.at(i).field("scopeLogs").at(j).field("logRecords")
			for k, r := range sl.GetLogRecords() {
				w.otlpLog(lp.at(k), r, res, service)
			}
		}
	}
}

func (w *walker) otlpLog(p *path, r *logspb.LogRecord, res telemetry.Tags, service string) {
	t := r.GetTimeUnixNano()
	if t == 0 {
		t = r.GetObservedTimeUnixNano()
	}
	if t/uint64(time.Millisecond) == 0 {
		w.failf(p, "a log record needs timeUnixNano or observedTimeUnixNano")
		return
	}
	body := anyString(r.GetBody())
	e := telemetry.Event{Time: int64(t / uint64(time.Millisecond)), Message: body, Type: r.GetSeverityText(), Source: service}
	if e.Source == "" {
		e.Source = "opentelemetry"
	}
	if e.Type == "" && r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED {
		e.Type = strings.TrimPrefix(r.GetSeverityNumber().String(), "SEVERITY_NUMBER_")
	}
	all := append(append(telemetry.Tags{}, res...), attrs(r.GetAttributes())...)
	if id := r.GetTraceId(); len(id) > 0 {
		all = append(all, telemetry.Tag{Key: "trace_id", Value: hex.EncodeToString(id)})
	}
	if id := r.GetSpanId(); len(id) > 0 {
		all = append(all, telemetry.Tag{Key: "span_id", Value: hex.EncodeToString(id)})
	}
	all = sortedTags(all)
	e.Name = r.GetEventName()
	if e.Name == "" {
		e.Name, _ = all.First("event.name")
	}
	if e.Name == "" {
		e.Name, _, _ = strings.Cut(body, "\n")
		e.Name = truncateUTF8(e.Name, 120)
	}
	cat, _ := all.First("event.category")
	e.Category = telemetry.CanonicalCategory(cat)
	e.Tags = all
	e.ID = telemetry.EventID(&e)
	if w.checkData(p, telemetry.CheckEvent(&e)) {
		w.tel.events = append(w.tel.events, e)
	}
}

// truncateUTF8 cuts s to at most n bytes, not inside a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
