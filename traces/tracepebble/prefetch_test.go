package tracepebble

import (
	"fmt"
	"slices"
	"testing"
)

// aheadSource yields exactly what its source yields, in order, whenever
// it turns cold, and submits each trace in range once, never the one it
// is yielding, only after it turned cold.
func TestAheadSource(t *testing.T) {
	var refs []ref
	for i := range 100 {
		refs = append(refs, ref{max: int64(1000 - i), min: int64(1000 - i - 5), tid: fmt.Sprintf("t%03d", i), batch: uint64(i)})
	}
	for _, coldAt := range []int{0, 1, 7, 8, 9, 50, 99, 100} {
		p := &prefetcher{work: make(chan string, 10_000), seen: map[string]bool{}}
		p.start.Do(func() {}) // no workers: read what was submitted
		n := 0
		a := &aheadSource{src: &sliceSource{refs: slices.Clone(refs)}, p: p, cold: func() bool { return n > coldAt }, lo: 950, hi: 2000}
		var got []ref
		for {
			r, ok, err := a.next()
			if err != nil || !ok {
				break
			}
			n++
			got = append(got, r)
		}
		if !slices.Equal(got, refs) {
			t.Fatalf("cold at %d: yielded %v", coldAt, got)
		}
		close(p.work)
		// cold first at the call yielding refs[coldAt+1]: those after it
		want := map[string]bool{}
		for i, r := range refs {
			if i >= coldAt+2 && r.max >= 950 {
				want[r.tid] = true
			}
		}
		sub := map[string]bool{}
		for pre := range p.work {
			for _, r := range refs {
				if string(tracePrefix(dayOf(r.max), r.tid)) == pre {
					sub[r.tid] = true
				}
			}
		}
		for tid := range want {
			if !sub[tid] {
				t.Errorf("cold at %d: trace %s not submitted", coldAt, tid)
			}
		}
		for tid := range sub {
			if !want[tid] {
				t.Errorf("cold at %d: trace %s submitted before the source turned cold or out of range", coldAt, tid)
			}
		}
	}
}
