package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/scriptrt"
)

// graphSink is where scripts and automations write back: health states
// into the graph's health model, events into the event store.
type graphSink struct {
	graph *pebblestore.Store
}

// errNoEventStore is what an event emission answers until the event store
// is part of the build.
var errNoEventStore = errors.New("this build has no event store yet: events cannot be written")

// SetHealth writes a run's health states as check states of its stream,
// in one batch: with w.Snapshot the stream is replaced by them (a
// monitor's run says everything it knows), otherwise they are put beside
// the stream's others. scriptrt has validated them (CheckHealthState).
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
		name := st.Name
		if name == "" {
			name = writerName(w.Stream)
		}
		b.PutCheck(w.Stream, st.CheckID, graphstore.CheckData{Name: name, State: state, Message: st.Message, Identifier: st.Component})
	}
	if _, err := s.graph.Apply(ctx, b); err != nil {
		return fmt.Errorf("writing %d health states to stream %s: %w", len(w.States), w.Stream, err)
	}
	return nil
}

// writerName names a check by its writer when the script gave it no name:
// the last part of the stream (the monitor's name in
// urn:tetra:monitor:<name>).
func writerName(stream string) string {
	if i := strings.LastIndexByte(stream, ':'); i >= 0 && i < len(stream)-1 {
		return stream[i+1:]
	}
	return stream
}

func (s graphSink) EmitEvents(context.Context, []scriptrt.Event) error { return errNoEventStore }
