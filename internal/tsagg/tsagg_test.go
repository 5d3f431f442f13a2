package tsagg

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileMatchesSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		n := 1 + r.IntN(200)
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(r.IntN(50)) // many ties
		}
		q := r.Float64()
		if r.IntN(5) == 0 {
			q = 1
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		h := q * float64(n-1)
		lo := int(math.Floor(h))
		want := sorted[lo]
		if lo+1 < n {
			want += (h - float64(lo)) * (sorted[lo+1] - sorted[lo])
		}
		if got := Quantile(vals, q); math.Abs(got-want) > 1e-9 {
			t.Fatalf("q=%v n=%d: got %v want %v", q, n, got, want)
		}
	}
}
