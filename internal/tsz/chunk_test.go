package tsz

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/telemetry"
)

func series(r *rand.Rand, n int, value func(i int) float64) []telemetry.Sample {
	s := make([]telemetry.Sample, n)
	t := int64(r.IntN(1 << 40))
	for i := range s {
		switch r.IntN(4) {
		case 0:
			t += 10_000
		case 1:
			t += 10_000 + int64(r.IntN(200)) - 100
		case 2:
			t += 1 + int64(r.IntN(1<<30))
		default:
			t += 1 + int64(r.IntN(1<<50))
		}
		s[i] = telemetry.Sample{T: t, V: value(i)}
	}
	return s
}

func sameSamples(a, b []telemetry.Sample) bool {
	return slices.EqualFunc(a, b, func(x, y telemetry.Sample) bool {
		return x.T == y.T && math.Float64bits(x.V) == math.Float64bits(y.V)
	})
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, -1e300}
	shapes := map[string]func(i int) float64{
		"constant":  func(int) float64 { return 42 },
		"walk":      func() func(int) float64 { v := 100.0; return func(int) float64 { v += r.NormFloat64(); return v } }(),
		"decimal":   func(int) float64 { return float64(r.IntN(10000)) / 100 },
		"counter":   func(i int) float64 { return float64(i * 3 % 50) },
		"specials":  func(int) float64 { return specials[r.IntN(len(specials))] },
		"bits":      func(int) float64 { return math.Float64frombits(r.Uint64()) },
		"integers":  func(int) float64 { return float64(r.Int64N(1<<53) - 1<<52) },
		"tiny":      func(int) float64 { return r.Float64() * 1e-300 },
		"signflips": func(i int) float64 { return float64(1-2*(i%2)) * r.Float64() },
	}
	for name, f := range shapes {
		for _, n := range []int{1, 2, 3, 100, 1000, -70, -1000} {
			var s []telemetry.Sample
			if n > 0 {
				s = series(r, n, f)
			} else { // regular times: long runs of equal intervals
				n = -n
				s = regular(n, func() float64 { return f(r.IntN(n)) })
			}
			for _, enc := range []Encoding{0, XOR, Delta, Decimal} {
				c, err := Encode(nil, s, enc)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decode(nil, c)
				if err != nil {
					t.Fatalf("%s n=%d enc=%v: %v", name, n, enc, err)
				}
				if !sameSamples(got, s) {
					t.Fatalf("%s n=%d enc=%v: round trip differs", name, n, enc)
				}
				h, _, _ := ReadHeader(c)
				if h.Count != n || h.MinT != s[0].T || h.MaxT != s[n-1].T {
					t.Fatalf("%s: header %+v", name, h)
				}
			}
		}
	}
}

func TestEncodeRefusesUnsorted(t *testing.T) {
	if _, err := Encode(nil, []telemetry.Sample{{T: 2}, {T: 2}}, 0); err == nil {
		t.Fatal("duplicate timestamps accepted")
	}
	if _, err := Encode(nil, nil, 0); err == nil {
		t.Fatal("empty chunk accepted")
	}
}

// TestChoosesSmallest checks the per-chunk choice on the shapes each
// encoding is for.
func TestChoosesSmallest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	v := 100.0
	walk := series(r, 720, func(int) float64 { v += r.NormFloat64(); return v })
	gauge := series(r, 720, func(int) float64 { return float64(r.IntN(1000)) / 10 })
	constant := series(r, 720, func(int) float64 { return math.Pi })
	for _, tc := range []struct {
		s    []telemetry.Sample
		want Encoding
	}{{walk, Delta}, {gauge, Decimal}, {constant, XOR}} {
		c, _ := Encode(nil, tc.s, 0)
		if h, _, _ := ReadHeader(c); h.Encoding != tc.want {
			t.Errorf("chose %v, want %v", h.Encoding, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, enc := range []Encoding{XOR, Delta, Decimal} {
		c, _ := Encode(nil, series(r, 50, func(i int) float64 { return float64(i) / 4 }), enc)
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c []byte) {
		Decode(nil, c) // must not panic or allocate without bound
	})
}

// TestSummary checks the summary a chunk carries against its samples, NaN
// included, and that chunks without one (data of version 1) still decode.
func TestSummary(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name  string
		value func(i int) float64
	}{
		{"walk", func(int) float64 { return r.NormFloat64() * 1e3 }},
		{"some NaN", func(i int) float64 {
			if i%3 == 0 {
				return math.NaN()
			}
			return float64(i)
		}},
		{"NaN last", func(i int) float64 {
			if i >= 5 {
				return math.NaN()
			}
			return float64(-i)
		}},
		{"all NaN", func(int) float64 { return math.NaN() }},
	} {
		s := series(r, 9, tc.value)
		c, err := Encode(nil, s, 0)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := ReadHeader(c)
		if err != nil || !h.HasSummary {
			t.Fatalf("%s: %v, summary %v", tc.name, err, h.HasSummary)
		}
		want := Summary{Min: math.Inf(1), Max: math.Inf(-1)}
		for _, x := range s {
			if !math.IsNaN(x.V) {
				want.Values++
				want.Min, want.Max = math.Min(want.Min, x.V), math.Max(want.Max, x.V)
				want.Sum += x.V
				want.Last, want.LastT = x.V, x.T
			}
		}
		if h.Summary != want {
			t.Errorf("%s: summary %+v, want %+v", tc.name, h.Summary, want)
		}
		old, err := WithoutSummary(c)
		if err != nil {
			t.Fatal(err)
		}
		oh, _, err := ReadHeader(old)
		if err != nil || oh.HasSummary || oh.Count != h.Count || oh.MinT != h.MinT || oh.MaxT != h.MaxT {
			t.Fatalf("%s: without summary: %+v %v", tc.name, oh, err)
		}
		got, err := Decode(nil, old)
		if err != nil || !sameSamples(got, s) {
			t.Fatalf("%s: chunk without summary: %v", tc.name, err)
		}
	}
}

// TestSummaryCorrupt: a summary that cannot be the chunk's is refused.
func TestSummaryCorrupt(t *testing.T) {
	s := []telemetry.Sample{{T: 1000, V: 1}, {T: 2000, V: 2}}
	c, _ := Encode(nil, s, 0)
	// The summary follows encoding, count (1 byte), first time (2 bytes)
	// and span (2 bytes): claim more values than samples.
	bad := append([]byte(nil), c...)
	bad[6] = 3
	if _, _, err := ReadHeader(bad); err == nil {
		t.Fatal("a summary of 3 values in a chunk of 2 samples accepted")
	}
	if _, _, err := ReadHeader(c[:10]); err == nil {
		t.Fatal("a cut summary accepted")
	}
}
