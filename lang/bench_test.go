package lang

import (
	"runtime"
	"testing"
)

// BenchmarkParseCorpus parses the whole corpus once per iteration and
// reports the cost per query.
func BenchmarkParseCorpus(b *testing.B) {
	lines := readCorpus(b)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range lines {
			_, _ = Parse(c.query)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	queries := float64(b.N * len(lines))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/queries, "µs/query")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/queries, "allocs/query")
}
