package pebblestore

import (
	"bytes"
	"cmp"
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

// TestSortWrites checks the radix sort of a run's writes against sorting
// by bytes.Compare and order in the run: keys that share long prefixes, end
// within a digit or exactly at its end, contain zero bytes (a shorter key
// padded with zeros must still come first) and repeat.
func TestSortWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 1, 'a', 'b', 0xff}
	for _, n := range []int{0, 1, 2, 50, 5000, 40_000} {
		for _, maxLen := range []int{1, 3, 10, 11, 18, 19, 40} {
			var r runKV
			for range n {
				k := make([]byte, 1+rng.IntN(maxLen))
				k[0] = tagPosting // keys of one bucket mostly, as in a table's range
				for i := 1; i < len(k); i++ {
					k[i] = alphabet[rng.IntN(len(alphabet))]
				}
				if rng.IntN(3) == 0 && len(k) > 1 {
					clear(k[1:]) // long runs of zero bytes
				}
				r.set(k, []byte{byte(rng.IntN(256))})
			}
			want := slices.Clone(r.ents)
			slices.SortFunc(want, func(a, b kvEntry) int {
				return cmp.Or(bytes.Compare(r.key(&a), r.key(&b)), cmp.Compare(a.seq, b.seq))
			})
			r.sortWrites(r.ents)
			for i := range want {
				if r.ents[i].seq != want[i].seq {
					t.Fatalf("n=%d maxLen=%d: write %d is %q (seq %d), want %q (seq %d)", n, maxLen, i,
						r.key(&r.ents[i]), r.ents[i].seq, r.key(&want[i]), want[i].seq)
				}
			}
		}
	}
}
