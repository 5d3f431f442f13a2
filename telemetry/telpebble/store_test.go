package telpebble_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/telemetry/teltest"
)

func open(t *testing.T) telemetry.Store {
	s, err := telpebble.Open(t.TempDir(), telpebble.Options{NoSync: true, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { teltest.Run(t, open) }

// TestCloseWaitsForReads closes the store while a metric set and an event
// iterator are open: Close refuses new reads at once but closes the
// database only after both are closed, so they read to their end and
// Close reports no leaked snapshot.
func TestCloseWaitsForReads(t *testing.T) {
	s, err := telpebble.Open(t.TempDir(), telpebble.Options{NoSync: true, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var samples []telemetry.Sample
	var events []telemetry.Event
	for i := range 100 {
		samples = append(samples, telemetry.Sample{T: int64(i) * 1000, V: float64(i)})
		events = append(events, telemetry.Event{ID: fmt.Sprint(i), Time: int64(i) * 1000, Name: "deploy", Category: "Changes"})
	}
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{{Series: telemetry.Series{Name: "cpu"}, Samples: samples}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	set, err := s.SelectMetrics(ctx, telemetry.MetricQuery{Start: 0, End: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.SelectEvents(ctx, telemetry.EventQuery{Start: 0, End: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Wait until Close refuses new reads: from then on the database would
	// be closed under the open ones if Close did not wait for them.
	for {
		it, err := s.SelectEvents(ctx, telemetry.EventQuery{Start: 0, End: 100_000})
		if errors.Is(err, telemetry.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		it.Close()
		runtime.Gosched()
	}
	n := 0
	for set.Next() {
		n += len(set.At().Points)
	}
	if err := cmp.Or(set.Err(), set.Close()); err != nil || n != 100 {
		t.Fatalf("metric read after Close began: %d samples, %v", n, err)
	}
	m := 0
	for evs.Next() {
		m++
	}
	if err := cmp.Or(evs.Err(), evs.Close()); err != nil || m != 100 {
		t.Fatalf("event read after Close began: %d events, %v", m, err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}
