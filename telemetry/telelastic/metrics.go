package telelastic

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
)

// pageSize is the size of a page of documents or composite buckets.
const pageSize = 10000

// metricFilter is the query of a metric search: the range, the
// identifiers, the filter, and for aggregations only documents with a value
// (NaN is no value).
func metricFilter(q *telemetry.MetricQuery) map[string]any {
	var hasValue map[string]any
	if q.Agg != nil {
		hasValue = map[string]any{"exists": map[string]any{"field": "value"}}
	}
	return esutil.Filter(esutil.Range("@timestamp", q.Start, q.End), esutil.Identifiers(q.Identifiers),
		esutil.Query(q.Filter, metricField), hasValue)
}

// rawSearch is the search of raw samples, series by series in time order,
// paged with search_after.
func rawSearch(q *telemetry.MetricQuery, after []any) map[string]any {
	body := map[string]any{
		"size":    pageSize,
		"query":   metricFilter(q),
		"sort":    []any{map[string]any{"series": "asc"}, map[string]any{"@timestamp": "asc"}},
		"_source": []string{"@timestamp", "series", "identifiers", "value", "special"},
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

// aggSearch is the search of an aggregation: groups (a composite
// aggregation over the series or the grouping tags, paged with after; or a
// filters aggregation, one per component), each with a date histogram of
// the metric (or the metric over the whole range).
func aggSearch(q *telemetry.MetricQuery, after map[string]any) map[string]any {
	a := q.Agg
	inner := metricAggs(a)
	if a.Step > 0 {
		h := map[string]any{"field": "@timestamp", "fixed_interval": strconv.FormatInt(a.Step, 10) + "ms", "min_doc_count": 1}
		if dense(a) {
			h["min_doc_count"] = 0
			h["extended_bounds"] = map[string]any{"min": floorTo(q.Start, a.Step), "max": floorTo(q.End, a.Step)}
		}
		inner = map[string]any{"h": map[string]any{"date_histogram": h, "aggs": inner}}
	}
	var groups map[string]any
	if a.Components != nil {
		filters := map[string]any{}
		for _, c := range a.Components {
			filters[c.Key] = map[string]any{"terms": map[string]any{"identifiers": c.Identifiers}}
		}
		groups = map[string]any{"filters": map[string]any{"filters": filters}, "aggs": inner}
	} else {
		comp := map[string]any{"size": pageSize, "sources": groupSources(a)}
		if after != nil {
			comp["after"] = after
		}
		groups = map[string]any{"composite": comp, "aggs": inner}
	}
	return map[string]any{"size": 0, "query": metricFilter(q), "aggs": map[string]any{"groups": groups}}
}

func dense(a *telemetry.Aggregation) bool {
	return a.Method == telemetry.Sum || a.Method == telemetry.Count
}

func floorTo(t, step int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q * step
}

// groupSources are the composite sources: the series, or each grouping
// field (a missing tag is its own bucket).
func groupSources(a *telemetry.Aggregation) []any {
	if len(a.GroupBy) == 0 {
		return []any{map[string]any{"s": map[string]any{"terms": map[string]any{"field": "series"}}}}
	}
	var out []any
	for i, k := range a.GroupBy {
		field, _ := metricField(k)
		out = append(out, map[string]any{"g" + strconv.Itoa(i): map[string]any{"terms": map[string]any{"field": field, "missing_bucket": true}}})
	}
	return out
}

// metricAggs are the aggregation of the method ("v") and the count of
// values ("n"), which says whether a bucket has any.
func metricAggs(a *telemetry.Aggregation) map[string]any {
	var v map[string]any
	switch a.Method {
	case telemetry.Mean:
		v = map[string]any{"avg": map[string]any{"field": "value"}}
	case telemetry.Min:
		v = map[string]any{"min": map[string]any{"field": "value"}}
	case telemetry.Max:
		v = map[string]any{"max": map[string]any{"field": "value"}}
	case telemetry.Sum, telemetry.SumNoZeros:
		v = map[string]any{"sum": map[string]any{"field": "value"}}
	case telemetry.Last:
		v = map[string]any{"top_metrics": map[string]any{"metrics": map[string]any{"field": "value"}, "sort": map[string]any{"@timestamp": "desc"}}}
	case telemetry.Percentile:
		v = map[string]any{"percentiles": map[string]any{"field": "value", "percents": []float64{a.Percentile}, "keyed": false}}
	}
	aggs := map[string]any{"n": map[string]any{"value_count": map[string]any{"field": "value"}}}
	if v != nil {
		aggs["v"] = v
	}
	return aggs
}

// ---- answers ----

type hitsAnswer struct {
	Hits struct {
		Hits []struct {
			Source sampleDoc `json:"_source"`
			Sort   []any     `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

// metricBucket is a bucket with the aggregations of metricAggs.
type metricBucket struct {
	Key      json.RawMessage `json:"key"`
	DocCount int64           `json:"doc_count"`
	N        struct {
		Value float64 `json:"value"`
	} `json:"n"`
	V struct {
		Value  *float64 `json:"value"`
		Values []struct {
			Value *float64 `json:"value"`
		} `json:"values"`
		Top []struct {
			Metrics map[string]*float64 `json:"metrics"`
		} `json:"top"`
	} `json:"v"`
	H struct {
		Buckets []metricBucket `json:"buckets"`
	} `json:"h"`
}

type aggAnswer struct {
	Aggregations struct {
		Groups struct {
			AfterKey map[string]any           `json:"after_key"`
			Buckets  json.RawMessage          `json:"buckets"` // a list (composite) or an object (filters)
			Keyed    map[string]*metricBucket `json:"-"`
		} `json:"groups"`
	} `json:"aggregations"`
}

// value reads a bucket's value for the method; ok is false for a bucket
// without values.
func (b *metricBucket) value(a *telemetry.Aggregation) (float64, bool) {
	n := b.N.Value
	switch a.Method {
	case telemetry.Count, telemetry.CountNoZeros:
		return n, n > 0 || a.Method == telemetry.Count
	case telemetry.Sum:
		if b.V.Value == nil {
			return 0, true
		}
		return *b.V.Value, true
	case telemetry.Percentile:
		if len(b.V.Values) == 1 && b.V.Values[0].Value != nil && n > 0 {
			return *b.V.Values[0].Value, true
		}
		return 0, false
	case telemetry.Last:
		if len(b.V.Top) == 1 && b.V.Top[0].Metrics["value"] != nil && n > 0 {
			return *b.V.Top[0].Metrics["value"], true
		}
		return 0, false
	}
	if b.V.Value == nil || n == 0 {
		return 0, false
	}
	return *b.V.Value, true
}

// points turns a group's buckets into points.
func (b *metricBucket) points(a *telemetry.Aggregation, start int64) []telemetry.Point {
	if a.Step == 0 {
		if v, ok := b.value(a); ok && (b.N.Value > 0 || dense(a)) {
			return []telemetry.Point{{T: start, V: v}}
		}
		return nil
	}
	var out []telemetry.Point
	for i := range b.H.Buckets {
		hb := &b.H.Buckets[i]
		var t int64
		if err := json.Unmarshal(hb.Key, &t); err != nil {
			continue
		}
		if v, ok := hb.value(a); ok {
			out = append(out, telemetry.Point{T: t, V: v})
		}
	}
	return out
}

// SelectMetrics runs the search (all pages) and returns the series.
func (s *Store) SelectMetrics(ctx context.Context, q telemetry.MetricQuery) (telemetry.SeriesSet, error) {
	if err := checkQuery(&q); err != nil {
		return nil, err
	}
	var out []telemetry.ResultSeries
	var err error
	if q.Agg == nil {
		out, err = s.raw(ctx, &q)
	} else {
		out, err = s.aggregate(ctx, &q)
	}
	if err != nil {
		return nil, fmt.Errorf("telelastic: %w", err)
	}
	slices.SortFunc(out, telemetry.CompareSeries)
	return telemetry.SliceSeries(out), nil
}

func checkQuery(q *telemetry.MetricQuery) error {
	if q.End < q.Start {
		return fmt.Errorf("telelastic: %w: the range ends before it starts", telemetry.ErrInvalid)
	}
	if a := q.Agg; a != nil {
		if a.Method < telemetry.Mean || a.Method > telemetry.CountNoZeros || a.Step < 0 ||
			(a.Method == telemetry.Percentile && !(a.Percentile > 0 && a.Percentile <= 100)) {
			return fmt.Errorf("telelastic: %w: bad aggregation %+v", telemetry.ErrInvalid, *a)
		}
	}
	return nil
}

// raw pages through the samples and cuts them into series.
func (s *Store) raw(ctx context.Context, q *telemetry.MetricQuery) ([]telemetry.ResultSeries, error) {
	var out []telemetry.ResultSeries
	var after []any
	for {
		var ans hitsAnswer
		if err := s.c.Search(ctx, s.c.Indices(kindMetrics, q.Start, q.End), rawSearch(q, after), &ans); err != nil {
			return nil, err
		}
		for _, h := range ans.Hits.Hits {
			d := h.Source
			if n := len(out); n == 0 || seriesKeyOf(&out[n-1]) != d.Series {
				name, tags, err := parseSeriesKey(d.Series)
				if err != nil {
					return nil, err
				}
				out = append(out, telemetry.ResultSeries{Name: name, Tags: tags, Identifiers: d.Identifiers})
			}
			v := fromSpecial(d.Special)
			if d.Value != nil {
				v = *d.Value
			}
			cur := &out[len(out)-1]
			cur.Points = append(cur.Points, telemetry.Point{T: d.Timestamp, V: v})
			after = h.Sort
		}
		if len(ans.Hits.Hits) < pageSize {
			return out, nil
		}
	}
}

func seriesKeyOf(r *telemetry.ResultSeries) string {
	return seriesKey(&telemetry.Series{Name: r.Name, Tags: r.Tags})
}

// aggregate pages through the groups of an aggregation.
func (s *Store) aggregate(ctx context.Context, q *telemetry.MetricQuery) ([]telemetry.ResultSeries, error) {
	var out []telemetry.ResultSeries
	var after map[string]any
	for {
		var ans aggAnswer
		if err := s.c.Search(ctx, s.c.Indices(kindMetrics, q.Start, q.End), aggSearch(q, after), &ans); err != nil {
			return nil, err
		}
		g := ans.Aggregations.Groups
		if q.Agg.Components != nil {
			var keyed map[string]*metricBucket
			if err := json.Unmarshal(g.Buckets, &keyed); err != nil {
				return nil, fmt.Errorf("decoding the component groups: %w", err)
			}
			for _, c := range q.Agg.Components {
				if b := keyed[c.Key]; b != nil && b.DocCount > 0 {
					out = append(out, telemetry.ResultSeries{Component: c.Key, Points: b.points(q.Agg, q.Start)})
				}
			}
			return out, nil
		}
		var buckets []metricBucket
		if err := json.Unmarshal(g.Buckets, &buckets); err != nil {
			return nil, fmt.Errorf("decoding the groups: %w", err)
		}
		for i := range buckets {
			rs, err := groupSeries(q.Agg, &buckets[i])
			if err != nil {
				return nil, err
			}
			rs.Points = buckets[i].points(q.Agg, q.Start)
			out = append(out, rs)
		}
		if len(buckets) < pageSize || g.AfterKey == nil {
			return out, nil
		}
		after = g.AfterKey
	}
}

// groupSeries names a composite group: the series, or the grouping fields.
func groupSeries(a *telemetry.Aggregation, b *metricBucket) (telemetry.ResultSeries, error) {
	var key map[string]*string
	if err := json.Unmarshal(b.Key, &key); err != nil {
		return telemetry.ResultSeries{}, fmt.Errorf("decoding a group key: %w", err)
	}
	if len(a.GroupBy) == 0 {
		if key["s"] == nil {
			return telemetry.ResultSeries{}, fmt.Errorf("a group without its series")
		}
		name, tags, err := parseSeriesKey(*key["s"])
		return telemetry.ResultSeries{Name: name, Tags: tags}, err
	}
	var rs telemetry.ResultSeries
	for i, k := range a.GroupBy {
		v := key["g"+strconv.Itoa(i)]
		switch {
		case v == nil:
		case k == "name":
			rs.Name = *v
		default:
			rs.Tags = append(rs.Tags, telemetry.Tag{Key: k, Value: *v})
		}
	}
	rs.Tags = telemetry.NewTags(rs.Tags)
	return rs, nil
}

// MetricIdentifiers lists the identifiers of the selected series with a
// composite aggregation.
func (s *Store) MetricIdentifiers(ctx context.Context, q telemetry.MetricQuery) ([]string, error) {
	q.Agg = nil
	if err := checkQuery(&q); err != nil {
		return nil, err
	}
	var out []string
	var after map[string]any
	for {
		comp := map[string]any{"size": pageSize, "sources": []any{map[string]any{"i": map[string]any{"terms": map[string]any{"field": "identifiers"}}}}}
		if after != nil {
			comp["after"] = after
		}
		body := map[string]any{"size": 0, "query": metricFilter(&q), "aggs": map[string]any{"ids": map[string]any{"composite": comp}}}
		var ans struct {
			Aggregations struct {
				IDs struct {
					AfterKey map[string]any `json:"after_key"`
					Buckets  []struct {
						Key struct {
							I string `json:"i"`
						} `json:"key"`
					} `json:"buckets"`
				} `json:"ids"`
			} `json:"aggregations"`
		}
		if err := s.c.Search(ctx, s.c.Indices(kindMetrics, q.Start, q.End), body, &ans); err != nil {
			return nil, fmt.Errorf("telelastic: %w", err)
		}
		for _, b := range ans.Aggregations.IDs.Buckets {
			out = append(out, b.Key.I)
		}
		if len(ans.Aggregations.IDs.Buckets) < pageSize || ans.Aggregations.IDs.AfterKey == nil {
			break
		}
		after = ans.Aggregations.IDs.AfterKey
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ExplainMetrics prints the search the store sends.
func (s *Store) ExplainMetrics(q telemetry.MetricQuery) string {
	body := rawSearch(&q, nil)
	if q.Agg != nil {
		body = aggSearch(&q, nil)
	}
	b, _ := json.MarshalIndent(body, "", "  ")
	return "elasticsearch search of " + s.c.Indices(kindMetrics, q.Start, q.End) + ":\n" + string(b) + "\n"
}
