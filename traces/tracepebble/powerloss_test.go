package tracepebble_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/crashtest"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// TestPowerLoss cuts the power at random points under concurrent synced
// appends (so that they share group commits), on Pebble's crash-simulating
// file system: after each cut every acknowledged append is there, and
// every append is there whole or not at all, in the trace reads and in
// the search's posting lists alike.
func TestPowerLoss(t *testing.T) {
	const rounds, writers = 30, 4
	fs := vfs.NewCrashableMem()
	s, err := tracepebble.Open("/traces", tracepebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	images := crashtest.Run(t, r, 7, fs, 3*time.Millisecond, func(ack func(int)) error {
		for round := range rounds { // a round's appends run at once; it is acknowledged when all are
			errs := make(chan error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- s.AppendSpans(context.Background(), powerLossAppend(round, w))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return err
				}
			}
			ack(round)
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		checkPowerLossImage(t, img, rounds, writers)
	}
	t.Logf("%d power cuts over %d rounds of %d appends", len(images), rounds, writers)
}

// powerLossAppend is append w of a round: three traces of four spans.
func powerLossAppend(round, w int) []traces.Span {
	var out []traces.Span
	for tr := range 3 {
		tid := fmt.Sprintf("%02x%02x%02x", round, w, tr)
		for i := range 4 {
			out = append(out, traces.Span{TraceID: tid, SpanID: fmt.Sprintf("%02x", i+1), Service: fmt.Sprintf("svc-%d", i%2),
				Name: "op", Kind: "server", Status: "ok", Start: base + int64(round*100+i)*int64(time.Millisecond), Duration: 10,
				Attributes: telemetry.Tags{{Key: "round", Value: fmt.Sprint(round)}}})
		}
	}
	return out
}

const base = int64(1_790_000_000) * int64(time.Second)

func checkPowerLossImage(t *testing.T, img crashtest.Image, rounds, writers int) {
	t.Helper()
	s, err := tracepebble.Open("/traces", tracepebble.Options{FS: img.FS})
	if err != nil {
		t.Fatalf("acked %d: open after the cut: %v", img.Acked, err)
	}
	defer s.Close()
	ctx := context.Background()
	present := map[string]bool{}
	for round := range rounds {
		for w := range writers {
			n := 0
			for tr := range 3 {
				tid := fmt.Sprintf("%02x%02x%02x", round, w, tr)
				spans, err := s.Spans(ctx, tid, base, base+int64(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(spans) > 0 {
					present[tid] = true
				}
				n += len(spans)
			}
			switch {
			case round <= img.Acked && n != 12:
				t.Fatalf("acked %d: append %d of round %d has %d spans of 12", img.Acked, w, round, n)
			case n != 0 && n != 12:
				t.Fatalf("acked %d: append %d of round %d is half there: %d spans of 12", img.Acked, w, round, n)
			}
		}
	}
	it, err := s.SearchTraces(ctx, traces.TraceQuery{Filter: &telemetry.Match{Field: "service", Values: []string{"svc-1"}},
		Start: base, End: base + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	found := 0
	for it.Next() {
		if tr := it.At(); !present[tr.TraceID] || tr.SpanCount != 4 {
			t.Fatalf("acked %d: the search finds trace %s (%d spans), which reads back with %t", img.Acked, tr.TraceID, tr.SpanCount, present[tr.TraceID])
		}
		found++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if found != len(present) {
		t.Fatalf("acked %d: the search finds %d traces, %d read back", img.Acked, found, len(present))
	}
}
