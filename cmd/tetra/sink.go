package main

import (
	"context"
	"fmt"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/telemetry"
)

// graphSink is where scripts and automations write back: health states
// into the graph's health model, events into the event store.
type graphSink struct {
	graph  *pebblestore.Store
	events telemetry.EventStore
}

// SetHealth writes a run's health states as check states of its stream,
// in one batch: with w.Snapshot the stream is replaced by them (a
// monitor's run says everything it knows), otherwise they are put beside
// the stream's others. scriptrt has validated and named them
// (CheckHealthState; an unnamed state takes the run's name).
func (s graphSink) SetHealth(ctx context.Context, w scriptrt.HealthWrite) error {
	b := &graphstore.Batch{}
	if w.Snapshot {
		b.ReplaceStream(w.Stream)
	}
	for _, st := range w.States {
		state, err := graphstore.ParseHealthState(st.State)
		if err != nil {
			return err
		}
		b.PutCheck(w.Stream, st.CheckID, graphstore.CheckData{Name: st.Name, State: state, Message: st.Message, Identifier: st.Component})
	}
	if _, err := s.graph.Apply(ctx, b); err != nil {
		return fmt.Errorf("writing %d health states to stream %s: %w", len(w.States), w.Stream, err)
	}
	return nil
}

// EmitEvents appends a run's events to the event store, where EVENTS, the
// web view and event handlers find them. scriptrt has checked them against
// the store's rules (telemetry.CheckEvent).
func (s graphSink) EmitEvents(ctx context.Context, evs []scriptrt.Event) error {
	batch := make([]telemetry.Event, len(evs))
	for i, ev := range evs {
		batch[i] = ev.Telemetry()
	}
	if err := s.events.AppendEvents(ctx, batch); err != nil {
		return fmt.Errorf("writing %d events: %w", len(evs), err)
	}
	return nil
}
