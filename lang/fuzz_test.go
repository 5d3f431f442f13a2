package lang

import (
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// prints back to text that parses to an Equal AST, with Format idempotent
// and spans well nested; whatever it rejects, it rejects with positioned
// language errors. Seeded from the whole corpus and every datadriven input.
//
//	go test ./lang -run '^$' -fuzz FuzzParse -fuzztime 5m
func FuzzParse(f *testing.F) {
	for _, c := range readCorpus(f) {
		f.Add(c.query)
	}
	for _, in := range datadrivenInputs(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, q string) {
		stmt, err := Parse(q)
		if err != nil {
			checkError(t, q, err)
			return
		}
		checkRoundTrip(t, q, stmt)
		checkSpans(t, q, stmt)
	})
}
