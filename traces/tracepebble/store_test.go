package tracepebble_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracepebble"
	"github.com/tetrahq/tetra/traces/tracetest"
)

func TestConformance(t *testing.T) {
	tracetest.Run(t, func(t *testing.T) traces.Store {
		s, err := tracepebble.Open(t.TempDir(), tracepebble.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformancePrefetching runs the conformance tests with every search
// prefetching its candidates (which it does once it misses the block
// cache: never in the small stores of the tests): the same answers.
func TestConformancePrefetching(t *testing.T) {
	tracepebble.PrefetchAlways(t)
	TestConformance(t)
}

// TestConcurrentAppends appends from many goroutines at once, so that
// appends share group commits (whose posting lists merge the appends'),
// some of them sent twice (retries) and some replacing spans of others;
// every trace then reads back whole, each span once, in its latest
// version, and a search finds each; without and with synced commits.
func TestConcurrentAppends(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("nosync=%t", noSync), func(t *testing.T) { concurrentAppends(t, noSync) })
	}
}

func concurrentAppends(t *testing.T, noSync bool) {
	s, err := tracepebble.Open(t.TempDir(), tracepebble.Options{NoSync: noSync})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, perWriter = 8, 40
	ctx := context.Background()
	base := int64(1_790_000_000) * int64(time.Second)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				tid := fmt.Sprintf("%02x%04x", w, i)
				batch := []traces.Span{
					{TraceID: tid, SpanID: "01", Service: "web", Name: "old", Status: "ok", Start: base + int64(i)*int64(time.Second), Duration: 5},
					{TraceID: tid, SpanID: "02", ParentID: "01", Service: "db", Name: "q", Status: "ok", Start: base + int64(i)*int64(time.Second) + 1, Duration: 1},
				}
				for range 1 + i%2 { // odd ones twice
					if err := s.AppendSpans(ctx, batch); err != nil {
						t.Error(err)
						return
					}
				}
				batch[0].Name = "new"
				if err := s.AppendSpans(ctx, batch[:1]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for i := range perWriter {
			tid := fmt.Sprintf("%02x%04x", w, i)
			spans, err := s.Spans(ctx, tid, base, base+int64(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(spans) != 2 || spans[0].Name != "new" || spans[1].Name != "q" {
				t.Fatalf("trace %s: %v", tid, spans)
			}
		}
	}
	it, err := s.SearchTraces(ctx, traces.TraceQuery{Filter: &telemetry.Match{Field: "name", Values: []string{"old"}}, Start: base, End: base + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Next() {
		t.Fatalf("a replaced span is found: %v", it.At().Matched)
	}
	it2, err := s.SearchTraces(ctx, traces.TraceQuery{Filter: &telemetry.Match{Field: "service", Values: []string{"web"}}, Start: base, End: base + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer it2.Close()
	n := 0
	for it2.Next() {
		n++
		if m := it2.At().Matched; len(m) != 1 || m[0].Name != "new" || it2.At().SpanCount != 2 {
			t.Fatalf("trace %s: %d spans, matched %v", it2.At().TraceID, it2.At().SpanCount, m)
		}
	}
	if n != writers*perWriter {
		t.Fatalf("%d traces found, want %d", n, writers*perWriter)
	}
}

// TestCloseDuringReads closes the store while searches and trace reads
// run on other goroutines: each read either answers or returns ErrClosed,
// and none uses the closed database (Pebble panics on that).
func TestCloseDuringReads(t *testing.T) {
	s, err := tracepebble.Open(t.TempDir(), tracepebble.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := int64(1_790_000_000) * int64(time.Second)
	var batch []traces.Span
	for i := range 200 {
		batch = append(batch, traces.Span{TraceID: fmt.Sprintf("%04x", i), SpanID: "01", Service: "web", Name: "get", Status: "ok",
			Start: base + int64(i)*int64(time.Millisecond), Duration: 5})
	}
	if err := s.AppendSpans(ctx, batch); err != nil {
		t.Fatal(err)
	}
	q := traces.TraceQuery{Filter: &telemetry.Match{Field: "service", Values: []string{"web"}}, Start: base, End: base + int64(time.Hour)}
	var wg sync.WaitGroup
	var answered, refused [2]int
	var mu sync.Mutex
	started := make(chan struct{}, 4)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 10 {
					started <- struct{}{}
				}
				var err error
				if r%2 == 0 {
					var it traces.TraceIterator
					if it, err = s.SearchTraces(ctx, q); err == nil {
						for it.Next() {
						}
						err = it.Close()
					}
				} else {
					_, err = s.Spans(ctx, fmt.Sprintf("%04x", i%200), base, base+int64(time.Hour))
				}
				mu.Lock()
				switch {
				case err == nil:
					answered[r%2]++
				case errors.Is(err, traces.ErrClosed):
					refused[r%2]++
				default:
					t.Errorf("read %d: %v", r, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if refused != [2]int{2, 2} || answered[0] < 20 || answered[1] < 20 {
		t.Fatalf("answered %v, refused %v: want every reader to answer before Close and be refused after it", answered, refused)
	}
}
