// Package tsagg aggregates samples into buckets aligned to multiples of a
// step since the epoch: the arithmetic behind METRICS … AGGREGATE for the
// stores that compute aggregates themselves (Pebble). telemetry.Aggregation
// documents the semantics; this package is their one implementation.
package tsagg

import (
	"math"

	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// acc is one bucket's running state.
type acc struct {
	n     int     // non-NaN samples
	sum   float64 // mean, sum
	x     float64 // min, max, last value
	lastT int64   // last: time of x
}

// Agg aggregates the samples of one group over a range. Not safe for
// concurrent use. Reset it to reuse its memory for the next group.
type Agg struct {
	a          telemetry.Aggregation
	start, end int64
	first      int64 // index of the range's first bucket
	buckets    []acc
	vals       [][]float64 // percentile: the values of each bucket
}

// New returns an aggregator of a over [start, end] (both included).
func New(a telemetry.Aggregation, start, end int64) *Agg {
	g := &Agg{a: a, start: start, end: end}
	n := 1
	if a.Step > 0 {
		g.first = floorDiv(start, a.Step)
		n = int(floorDiv(end, a.Step) - g.first + 1)
	}
	g.buckets = make([]acc, n)
	if a.Method == telemetry.Percentile {
		g.vals = make([][]float64, n)
	}
	g.Reset()
	return g
}

// Buckets returns the number of buckets of the range.
func (g *Agg) Buckets() int { return len(g.buckets) }

// Reset forgets every sample added.
func (g *Agg) Reset() {
	init := acc{}
	switch g.a.Method {
	case telemetry.Min:
		init.x = math.Inf(1)
	case telemetry.Max:
		init.x = math.Inf(-1)
	case telemetry.Last:
		init.lastT = math.MinInt64
	}
	for i := range g.buckets {
		g.buckets[i] = init
	}
	for i := range g.vals {
		g.vals[i] = g.vals[i][:0]
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// bucket returns the index of t's bucket and the time its bucket ends
// (exclusive; capped past the range end).
func (g *Agg) bucket(t int64) (int, int64) {
	if g.a.Step <= 0 {
		return 0, math.MaxInt64
	}
	b := floorDiv(t, g.a.Step)
	end := (b + 1) * g.a.Step
	return int(b - g.first), end
}

// Add adds samples sorted by time; those outside the range are ignored.
func (g *Agg) Add(s []telemetry.Sample) {
	i := 0
	for i < len(s) && s[i].T < g.start {
		i++
	}
	for i < len(s) && s[i].T <= g.end {
		b, bEnd := g.bucket(s[i].T)
		j := i + 1
		for j < len(s) && s[j].T < bEnd && s[j].T <= g.end {
			j++
		}
		g.addRun(b, s[i:j])
		i = j
	}
}

// AddUnsorted adds samples in any order.
func (g *Agg) AddUnsorted(s []telemetry.Sample) {
	for k := range s {
		if s[k].T >= g.start && s[k].T <= g.end {
			b, _ := g.bucket(s[k].T)
			g.addRun(b, s[k:k+1])
		}
	}
}

// Covers reports whether a chunk's summary can stand for its samples
// [minT, maxT]: the chunk lies inside the range and inside one bucket, and
// the method needs no more than a summary holds (every method but
// percentile). The caller must know that no other sample of the chunk's
// series and times is added (no overlapping chunk or later write).
func (g *Agg) Covers(minT, maxT int64) bool {
	if g.a.Method == telemetry.Percentile || minT < g.start || maxT > g.end {
		return false
	}
	_, end := g.bucket(minT)
	return maxT < end
}

// AddSummary adds a chunk's summary in place of its samples, which lie
// between minT and maxT: only after Covers(minT, maxT).
func (g *Agg) AddSummary(minT int64, s tsz.Summary) {
	if s.Values == 0 {
		return
	}
	b, _ := g.bucket(minT)
	a := &g.buckets[b]
	switch g.a.Method {
	case telemetry.Mean, telemetry.Sum, telemetry.SumNoZeros:
		a.sum += s.Sum
	case telemetry.Min: // plain comparisons, as addRun
		if s.Min < a.x {
			a.x = s.Min
		}
	case telemetry.Max:
		if s.Max > a.x {
			a.x = s.Max
		}
	case telemetry.Last:
		if s.LastT >= a.lastT {
			a.x, a.lastT = s.Last, s.LastT
		}
	}
	a.n += s.Values
}

// addRun adds samples of one bucket.
func (g *Agg) addRun(b int, s []telemetry.Sample) {
	a := &g.buckets[b]
	switch g.a.Method {
	case telemetry.Mean, telemetry.Sum, telemetry.SumNoZeros:
		for _, x := range s {
			if x.V == x.V { // not NaN
				a.sum += x.V
				a.n++
			}
		}
	case telemetry.Count, telemetry.CountNoZeros:
		for _, x := range s {
			if x.V == x.V {
				a.n++
			}
		}
	case telemetry.Min:
		// Plain comparisons: NaN is skipped already, and math.Min's care
		// for NaN and signed zeros costs a third of the loop.
		for _, x := range s {
			if x.V == x.V {
				if x.V < a.x {
					a.x = x.V
				}
				a.n++
			}
		}
	case telemetry.Max:
		for _, x := range s {
			if x.V == x.V {
				if x.V > a.x {
					a.x = x.V
				}
				a.n++
			}
		}
	case telemetry.Last:
		for _, x := range s {
			if x.V == x.V && x.T >= a.lastT {
				a.x, a.lastT = x.V, x.T
				a.n++
			}
		}
	case telemetry.Percentile:
		for _, x := range s {
			if x.V == x.V {
				g.vals[b] = append(g.vals[b], x.V)
				a.n++
			}
		}
	}
}

// Empty reports whether no value in the range was added (NaN samples are
// no value): the group then has no series in the result.
func (g *Agg) Empty() bool {
	for i := range g.buckets {
		if g.buckets[i].n > 0 {
			return false
		}
	}
	return true
}

// Points appends the group's points to dst.
func (g *Agg) Points(dst []telemetry.Point) []telemetry.Point {
	dense := g.a.Method == telemetry.Sum || g.a.Method == telemetry.Count
	for i := range g.buckets {
		a := &g.buckets[i]
		if a.n == 0 && !dense {
			continue
		}
		t := g.start
		if g.a.Step > 0 {
			t = (g.first + int64(i)) * g.a.Step
		}
		dst = append(dst, telemetry.Point{T: t, V: g.value(i)})
	}
	return dst
}

func (g *Agg) value(i int) float64 {
	a := &g.buckets[i]
	switch g.a.Method {
	case telemetry.Mean:
		return a.sum / float64(a.n)
	case telemetry.Sum, telemetry.SumNoZeros:
		return a.sum
	case telemetry.Count, telemetry.CountNoZeros:
		return float64(a.n)
	case telemetry.Percentile:
		return Quantile(g.vals[i], g.a.Percentile/100)
	}
	return a.x
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of vals, interpolating
// linearly between the closest ranks; it reorders vals.
func Quantile(vals []float64, q float64) float64 {
	n := len(vals)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	lo = max(0, min(lo, n-1))
	x := selectK(vals, lo)
	if lo == n-1 || h == float64(lo) {
		return x
	}
	// The next rank is the smallest value right of lo after selection.
	y := vals[lo+1]
	for _, v := range vals[lo+2:] {
		y = math.Min(y, v)
	}
	return x + (h-float64(lo))*(y-x)
}

// selectK reorders vals so that vals[k] is the k-th smallest, every value
// left of it no larger and every value right of it no smaller, and returns
// it (quickselect, median-of-three pivots).
func selectK(vals []float64, k int) float64 {
	lo, hi := 0, len(vals)-1
	for hi > lo {
		if hi-lo < 16 {
			insertionSort(vals[lo : hi+1])
			return vals[k]
		}
		mid := lo + (hi-lo)/2
		if vals[mid] < vals[lo] {
			vals[mid], vals[lo] = vals[lo], vals[mid]
		}
		if vals[hi] < vals[lo] {
			vals[hi], vals[lo] = vals[lo], vals[hi]
		}
		if vals[hi] < vals[mid] {
			vals[hi], vals[mid] = vals[mid], vals[hi]
		}
		pivot := vals[mid]
		i, j := lo, hi
		for i <= j {
			for vals[i] < pivot {
				i++
			}
			for vals[j] > pivot {
				j--
			}
			if i <= j {
				vals[i], vals[j] = vals[j], vals[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return vals[k]
		}
	}
	return vals[k]
}

func insertionSort(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
