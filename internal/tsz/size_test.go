package tsz

import (
	"math/rand/v2"
	"testing"

	"github.com/tetrahq/tetra/telemetry"
)

// BenchmarkDecode reports decoding speed and bytes per sample of a 720
// sample chunk (2 h at 10 s) per shape and encoding.
func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	v := 100.0
	shapes := map[string][]telemetry.Sample{
		"walk":  regular(720, func() float64 { v += r.NormFloat64(); return v }),
		"gauge": regular(720, func() float64 { return float64(r.IntN(1000)) / 10 }),
	}
	for name, s := range shapes {
		for _, enc := range []Encoding{XOR, Delta, Decimal} {
			c, _ := Encode(nil, s, enc)
			b.Run(name+"/"+enc.String(), func(b *testing.B) {
				dst := make([]telemetry.Sample, 0, len(s))
				for b.Loop() {
					dst, _ = Decode(dst[:0], c)
				}
				b.ReportMetric(float64(len(c))/float64(len(s)), "bytes/sample")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s)), "ns/sample")
			})
		}
	}
}

func regular(n int, value func() float64) []telemetry.Sample {
	s := make([]telemetry.Sample, n)
	for i := range s {
		s[i] = telemetry.Sample{T: 1_700_000_000_000 + int64(i)*10_000, V: value()}
	}
	return s
}
