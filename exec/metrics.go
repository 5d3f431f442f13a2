package exec

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
	"github.com/tetrahq/tetra/telemetry"
)

var aggMethods = map[lang.AggMethod]telemetry.Method{
	lang.AggMean: telemetry.Mean, lang.AggMin: telemetry.Min, lang.AggMax: telemetry.Max,
	lang.AggSum: telemetry.Sum, lang.AggCount: telemetry.Count, lang.AggLast: telemetry.Last,
	lang.AggPercentile: telemetry.Percentile, lang.AggSumNoZeros: telemetry.SumNoZeros,
	lang.AggCountNoZeros: telemetry.CountNoZeros,
}

// metricQuery builds the store query of a METRICS statement, without the
// join (identifiers) and component groups.
func metricQuery(s *lang.MetricsStmt, from, to, now time.Time) (telemetry.MetricQuery, error) {
	filter, err := translate(s.Where, kindMetrics, now)
	if err != nil {
		return telemetry.MetricQuery{}, err
	}
	q := telemetry.MetricQuery{Filter: filter, Start: from.UnixMilli(), End: to.UnixMilli()}
	if len(s.GroupBy) > 0 && s.Aggregate == nil {
		return q, &planner.PlanError{Span: s.GroupBy[0].Src, Msg: "GROUP BY needs AGGREGATE: say how the samples of a group combine, e.g. AGGREGATE mean BY 1m"}
	}
	if a := s.Aggregate; a != nil {
		q.Agg = &telemetry.Aggregation{Method: aggMethods[a.Method], Percentile: a.Percentile}
		if a.By != nil {
			q.Agg.Step = a.By.D.Milliseconds()
			if q.Agg.Step <= 0 {
				return q, &planner.PlanError{Span: a.By.Src, Msg: "buckets are at least a millisecond wide"}
			}
			if n := (q.End - q.Start) / q.Agg.Step; n > maxBuckets {
				return q, &planner.PlanError{Span: a.By.Src, Msg: fmt.Sprintf("%d buckets of %s over the range; the limit is %d: widen the buckets or shorten the range", n, a.By.D, maxBuckets)}
			}
		}
		for _, k := range s.GroupBy {
			if k.Name == "component" {
				if len(s.GroupBy) > 1 {
					return q, &planner.PlanError{Span: k.Src, Msg: "GROUP BY component cannot be combined with other fields"}
				}
				q.Agg.Components = []telemetry.ComponentGroup{}
				continue
			}
			q.Agg.GroupBy = append(q.Agg.GroupBy, k.Name)
		}
	}
	return q, nil
}

// maxBuckets bounds the buckets of one aggregation (a year of minutes).
const maxBuckets = 1 << 20

func methodName(a *telemetry.Aggregation) string {
	if a.Method == telemetry.Percentile {
		return "percentile(" + strconv.FormatFloat(a.Percentile, 'g', -1, 64) + ")"
	}
	return a.Method.String()
}

// metrics runs METRICS.
func (e *Engine) metrics(ctx context.Context, s *lang.MetricsStmt, o QueryOptions) (*MetricsResult, error) {
	store := e.o.Data.Metrics
	if store == nil {
		return nil, unsupported(s)
	}
	from, to, err := dataRange(s.Range, o.Now)
	if err != nil {
		return nil, err
	}
	q, err := metricQuery(s, from, to, o.Now)
	if err != nil {
		return nil, err
	}
	j, err := e.joinOf(ctx, s.For, to, o)
	if err != nil {
		return nil, err
	}
	q.Identifiers = j.identifiers()
	res := &MetricsResult{From: from, To: to, Series: []MetricSeries{}}
	var byKey map[string]*graphstore.Component
	if q.Agg != nil {
		res.Aggregation, res.StepMs = methodName(q.Agg), q.Agg.Step
		if q.Agg.Components != nil {
			if q.Agg.Components, byKey, err = e.componentGroups(ctx, store, q, j, to, o); err != nil {
				return nil, err
			}
		}
	}
	set, err := store.SelectMetrics(ctx, q)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	return res, collectSeries(set, res, s.Limit, byKey, o.MaxElements)
}

// collectSeries copies a store's series into the result, applying LIMIT,
// the element limit (series) and the points limit.
func collectSeries(set telemetry.SeriesSet, res *MetricsResult, l *lang.Limit, byKey map[string]*graphstore.Component, max int) error {
	fetch, limit := limitOf(l, max)
	points := 0
	for set.Next() {
		if len(res.Series)+1 == fetch {
			if limit == 0 {
				return &LimitError{Limit: max, What: "series"}
			}
			res.Truncated = true
			break
		}
		rs := set.At()
		if points += len(rs.Points); points > DefaultMaxPoints {
			return &LimitError{Limit: DefaultMaxPoints, What: "points"}
		}
		ms := MetricSeries{Points: slices.Clone(rs.Points)}
		if rs.Name != "" {
			ms.Labels = append(ms.Labels, telemetry.Tag{Key: "name", Value: rs.Name})
		}
		ms.Labels = append(ms.Labels, rs.Tags...)
		if c := byKey[rs.Component]; c != nil {
			ms.Component = refOf(c)
			ms.Labels = append(ms.Labels, telemetry.Tag{Key: "component", Value: c.Name})
		}
		ms.Labels = telemetry.NewTags(ms.Labels)
		if ms.Labels == nil {
			ms.Labels = telemetry.Tags{}
		}
		res.Series = append(res.Series, ms)
	}
	return set.Err()
}

// componentGroups returns the component groups of GROUP BY component: the
// FOR clause's components, or, without FOR, the components (live at the
// range's end, within the scope) holding the identifiers of the series the
// query selects.
func (e *Engine) componentGroups(ctx context.Context, store telemetry.MetricStore, q telemetry.MetricQuery, j *join, end time.Time, o QueryOptions) ([]telemetry.ComponentGroup, map[string]*graphstore.Component, error) {
	comps := []*graphstore.Component{}
	if j != nil && j.counted {
		comps = j.comps
	} else {
		var err error
		if comps, err = e.componentsHolding(ctx, store, q, j, end, o.MaxElements); err != nil {
			return nil, nil, err
		}
	}
	groups := make([]telemetry.ComponentGroup, 0, len(comps))
	byKey := make(map[string]*graphstore.Component, len(comps))
	for _, c := range comps {
		key := fmt.Sprintf("%020d", c.ID) // ordered by id
		groups = append(groups, telemetry.ComponentGroup{Key: key, Identifiers: c.Identifiers})
		byKey[key] = c
	}
	return groups, byKey, nil
}

// componentsHolding finds the components that hold the identifiers of the
// series a query selects, counting them against the element limit.
func (e *Engine) componentsHolding(ctx context.Context, store telemetry.MetricStore, q telemetry.MetricQuery, scope *join, end time.Time, max int) ([]*graphstore.Component, error) {
	q.Agg = nil
	ids, err := store.MetricIdentifiers(ctx, q)
	if err != nil {
		return nil, err
	}
	snap, err := e.g.Snapshot(end)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	inScope := map[graphstore.ID]bool{}
	if scope != nil {
		for _, c := range scope.comps {
			inScope[c.ID] = true
		}
	}
	r := newRun(ctx, snap, max)
	var cids []graphstore.ID
	for _, id := range ids {
		p, err := snap.Postings(graphstore.IdxIdentifier, id)
		if err != nil {
			return nil, err
		}
		cids = append(cids, p...)
	}
	slices.Sort(cids)
	var out []*graphstore.Component
	for _, id := range slices.Compact(cids) {
		if scope != nil && !inScope[id] {
			continue
		}
		c, err := r.component(id)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}
