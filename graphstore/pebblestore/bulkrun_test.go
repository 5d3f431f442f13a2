package pebblestore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPlaceByBucket checks the in-place bucket placement of a run's writes:
// every range holds its bucket's writes and only those, none lost or
// doubled, on skewed and on uniform buckets.
func TestPlaceByBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 17, 1000, 50_000} {
		for _, spread := range []int{1, 3, 300, 1 << 16} {
			ents := make([]kvEntry, n)
			for i := range ents {
				b := rng.IntN(spread)
				if rng.IntN(4) == 0 {
					b = spread - 1 // a skewed bucket
				}
				ents[i] = kvEntry{bucket: uint16(b), seq: int32(i)}
			}
			want := slices.Clone(ents)
			counts := make([]int32, 1<<16+1)
			for i := range ents {
				counts[int(ents[i].bucket)+1]++
			}
			for i := 1; i < len(counts); i++ {
				counts[i] += counts[i-1]
			}
			placeByBucket(ents, counts[:1<<16], counts[1:])
			for b := range 1 << 16 {
				for _, e := range ents[counts[b]:counts[b+1]] {
					if int(e.bucket) != b {
						t.Fatalf("n=%d spread=%d: write of bucket %d in bucket %d's range", n, spread, e.bucket, b)
					}
				}
			}
			slices.SortFunc(ents, func(a, b kvEntry) int { return int(a.seq - b.seq) })
			if !slices.Equal(ents, want) {
				t.Fatalf("n=%d spread=%d: writes lost or doubled", n, spread)
			}
		}
	}
}
