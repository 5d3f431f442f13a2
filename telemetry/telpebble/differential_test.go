package telpebble_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
)

// TestAggregationsDifferential checks every aggregation, with and without
// buckets, per series and grouped, against a naive evaluator over random
// series with gaps, NaN, counter resets, out-of-order and rewritten
// samples, appended in random batches across chunk windows, sealed and
// compacted along the way.
func TestAggregationsDifferential(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { differential(t, seed) })
	}
}

const hourMs = int64(time.Hour / time.Millisecond)

type naiveSeries struct {
	s       telemetry.Series
	samples map[int64]float64 // the last value written at each time
}

func differential(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	st := open(t)
	defer st.Close()
	ctx := context.Background()
	truth := genSeries(r, 12)
	// Append every sample once in shuffled batches, then rewrite a few.
	type item struct {
		i int
		x telemetry.Sample
	}
	var items []item
	for i, ns := range truth {
		for tm, v := range ns.samples {
			items = append(items, item{i, telemetry.Sample{T: tm, V: v}})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return int(a.x.T - b.x.T) })
	for i := range items { // mostly in order, with local disorder
		if j := i + r.IntN(20); j < len(items) {
			items[i], items[j] = items[j], items[i]
		}
	}
	for k := 0; k < len(items); {
		n := 1 + r.IntN(200)
		var batch []telemetry.SeriesSamples
		for _, it := range items[k:min(k+n, len(items))] {
			batch = append(batch, telemetry.SeriesSamples{Series: truth[it.i].s, Samples: []telemetry.Sample{it.x}})
		}
		if err := st.AppendMetrics(ctx, batch); err != nil {
			t.Fatal(err)
		}
		k += n
		if r.IntN(10) == 0 {
			if err := st.Compact(ctx, time.UnixMilli(0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 50 { // rewrites win: later values for existing times
		ns := truth[r.IntN(len(truth))]
		for tm := range ns.samples {
			v := r.Float64()
			ns.samples[tm] = v
			if err := st.AppendMetrics(ctx, []telemetry.SeriesSamples{{Series: ns.s, Samples: []telemetry.Sample{{T: tm, V: v}}}}); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	for q := range 160 {
		checkQuery(t, r, st, truth, q)
	}
	// Whole chunks in a bucket are answered from their summaries: make
	// sure the shortcut was taken, so that the comparisons above tested it.
	if n := telpebble.SummarizedChunks(st.(*telpebble.Store)); n < 20 {
		t.Errorf("only %d chunks answered by their summaries", n)
	}
}

// genSeries makes series over ten hours: random walks, counters that reset,
// sparse gauges with NaN; random gaps; every fourth series has no value
// (NaN) in whole chunk windows.
func genSeries(r *rand.Rand, n int) []*naiveSeries {
	out := make([]*naiveSeries, n)
	for i := range out {
		ns := &naiveSeries{samples: map[int64]float64{}}
		ns.s = telemetry.Series{Name: fmt.Sprintf("m%d", i%3), Tags: telemetry.NewTags([]telemetry.Tag{
			{Key: "g", Value: string(rune('a' + i%4))}, {Key: "id", Value: fmt.Sprint(i)}, {Key: "host", Value: fmt.Sprintf("h%d", i%5)}})}
		v, tm := 100*r.Float64(), int64(r.IntN(60_000))
		for tm < 10*hourMs {
			switch i % 3 {
			case 0:
				v += r.NormFloat64()
			case 1:
				v += float64(r.IntN(10))
				if r.IntN(40) == 0 {
					v = 0 // a counter reset
				}
			default:
				v = float64(r.IntN(5))
				if r.IntN(10) == 0 {
					v = math.NaN()
				}
			}
			ns.samples[tm] = v
			if i%4 == 3 && tm/(2*hourMs)%3 == 1 {
				ns.samples[tm] = math.NaN()
			}
			tm += 1 + int64(r.IntN(30_000))
			if r.IntN(50) == 0 {
				tm += int64(r.IntN(int(hourMs))) // a gap
			}
		}
		out[i] = ns
	}
	return out
}

func checkQuery(t *testing.T, r *rand.Rand, st telemetry.Store, truth []*naiveSeries, n int) {
	methods := []telemetry.Method{telemetry.Mean, telemetry.Min, telemetry.Max, telemetry.Sum, telemetry.Count,
		telemetry.Last, telemetry.Percentile, telemetry.SumNoZeros, telemetry.CountNoZeros}
	a := &telemetry.Aggregation{Method: methods[n%len(methods)], Percentile: []float64{50, 90, 99, 100, 0.5}[r.IntN(5)]}
	a.Step = []int64{0, 1000, 60_000, 7 * 60_000, hourMs, 3 * hourMs}[r.IntN(6)]
	start := int64(r.IntN(int(8 * hourMs)))
	end := start + int64(r.IntN(int(4*hourMs)))
	if r.IntN(3) == 0 {
		// Buckets that hold whole chunk windows (2 h), and ranges that end
		// at, inside or past window edges: chunks answered from their
		// summaries beside chunks partly in range and the head.
		a.Step = []int64{0, 2 * hourMs, 4 * hourMs, 6 * hourMs}[r.IntN(4)]
		start = []int64{0, 2 * hourMs, 2*hourMs + 1, hourMs}[r.IntN(4)]
		end = []int64{10 * hourMs, 8*hourMs - 1, 6 * hourMs, 7 * hourMs}[r.IntN(4)]
	}
	switch r.IntN(3) {
	case 1:
		a.GroupBy = []string{"g"}
	case 2:
		a.Components = []telemetry.ComponentGroup{{Key: "c1", Identifiers: []string{"urn:host:/h1", "urn:host:/h2"}}, {Key: "c2", Identifiers: []string{"urn:host:/h2"}}}
	}
	if a.Step == 1000 && end-start > hourMs {
		end = start + hourMs // keep the bucket count reasonable
	}
	var filter telemetry.Expr
	if r.IntN(2) == 0 {
		filter = &telemetry.Match{Field: "name", Values: []string{"m0", "m2"}}
	}
	q := telemetry.MetricQuery{Filter: filter, Start: start, End: end, Agg: a}
	set, err := st.SelectMetrics(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]telemetry.Point{}
	for set.Next() {
		s := set.At()
		got[groupName(s.Component, s.Name, s.Tags)] = slices.Clone(s.Points)
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	set.Close()
	want := naive(truth, q)
	if len(got) != len(want) {
		t.Fatalf("query %d %+v [%d, %d]: %d groups, want %d:\ngot  %v\nwant %v", n, *a, start, end, len(got), len(want), keys(got), keys(want))
	}
	for k, wp := range want {
		gp := got[k]
		if !samePoints(gp, wp) {
			t.Fatalf("query %d %s %+v [%d, %d] group %s:\ngot  %v\nwant %v", n, a.Method, *a, start, end, k, gp, wp)
		}
	}
}

func keys(m map[string][]telemetry.Point) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func groupName(comp, name string, tags telemetry.Tags) string {
	return comp + "|" + name + "|" + tags.String()
}

func samePoints(a, b []telemetry.Point) bool {
	return slices.EqualFunc(a, b, func(x, y telemetry.Point) bool {
		if x.T != y.T {
			return false
		}
		if math.IsNaN(x.V) || math.IsNaN(y.V) {
			return math.IsNaN(x.V) && math.IsNaN(y.V)
		}
		return math.Abs(x.V-y.V) <= 1e-9*math.Max(1, math.Abs(y.V))
	})
}

// naive evaluates an aggregation the obvious way: gather each group's
// values per bucket, then compute.
func naive(truth []*naiveSeries, q telemetry.MetricQuery) map[string][]telemetry.Point {
	a := q.Agg
	groups := map[string][]sample{}
	for _, ns := range truth {
		if q.Filter != nil && !slices.Contains(q.Filter.(*telemetry.Match).Values, ns.s.Name) {
			continue
		}
		var in []sample
		for tm, v := range ns.samples {
			if tm >= q.Start && tm <= q.End {
				in = append(in, sample{tm, v})
			}
		}
		if len(in) == 0 {
			continue
		}
		for _, g := range naiveGroups(ns.s, a) {
			groups[g] = append(groups[g], in...)
		}
	}
	out := map[string][]telemetry.Point{}
	for g, samples := range groups {
		if !slices.ContainsFunc(samples, func(s sample) bool { return !math.IsNaN(s.v) }) {
			continue // a group with no value in range is not in the result
		}
		out[g] = naivePoints(samples, a, q.Start, q.End)
	}
	return out
}

func naiveGroups(s telemetry.Series, a *telemetry.Aggregation) []string {
	switch {
	case a.Components != nil:
		var out []string
		ids := telemetry.Identifiers(s.Tags, nil)
		for _, c := range a.Components {
			if slices.ContainsFunc(c.Identifiers, func(id string) bool { return slices.Contains(ids, id) }) {
				out = append(out, groupName(c.Key, "", nil))
			}
		}
		return out
	case len(a.GroupBy) > 0:
		v, _ := s.Tags.First("g")
		return []string{groupName("", "", telemetry.Tags{{Key: "g", Value: v}})}
	}
	return []string{groupName("", s.Name, s.Tags)}
}

type sample struct {
	t int64
	v float64
}

func naivePoints(samples []sample, a *telemetry.Aggregation, start, end int64) []telemetry.Point {
	bucketOf := func(t int64) int64 {
		if a.Step == 0 {
			return start
		}
		return int64(math.Floor(float64(t)/float64(a.Step))) * a.Step
	}
	vals := map[int64][]float64{}
	lastT := map[int64]int64{}
	lastV := map[int64]float64{}
	for _, s := range samples {
		b := bucketOf(s.t)
		if math.IsNaN(s.v) {
			continue
		}
		vals[b] = append(vals[b], s.v)
		if lt, ok := lastT[b]; !ok || s.t > lt {
			lastT[b], lastV[b] = s.t, s.v
		}
	}
	var buckets []int64
	if a.Step == 0 {
		buckets = []int64{start}
	} else {
		for b := bucketOf(start); b <= bucketOf(end); b += a.Step {
			buckets = append(buckets, b)
		}
	}
	var out []telemetry.Point
	for _, b := range buckets {
		v := vals[b]
		dense := a.Method == telemetry.Sum || a.Method == telemetry.Count
		if len(v) == 0 && !dense {
			continue
		}
		out = append(out, telemetry.Point{T: b, V: naiveValue(a, v, lastV[b])})
	}
	return out
}

func naiveValue(a *telemetry.Aggregation, v []float64, last float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	switch a.Method {
	case telemetry.Mean:
		return sum / float64(len(v))
	case telemetry.Sum, telemetry.SumNoZeros:
		return sum
	case telemetry.Count, telemetry.CountNoZeros:
		return float64(len(v))
	case telemetry.Min:
		return slices.Min(v)
	case telemetry.Max:
		return slices.Max(v)
	case telemetry.Last:
		return last
	}
	s := slices.Clone(v)
	slices.Sort(s)
	h := a.Percentile / 100 * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}
