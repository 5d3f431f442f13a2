package main

import (
	"context"
	"errors"

	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/scriptrt"
)

// graphSink is where scripts and automations write back: health states
// into the graph's health model, events into the event store.
type graphSink struct {
	graph *pebblestore.Store
}

// errNoHealthModel is what a write of health states answers until the
// graph keeps check states (the health model lands separately).
var errNoHealthModel = errors.New("this build keeps no check states yet (the health model is not in it): health states cannot be written")

// errNoEventStore is what an event emission answers until the event store
// is part of the build.
var errNoEventStore = errors.New("this build has no event store yet: events cannot be written")

func (s graphSink) SetHealth(context.Context, scriptrt.HealthWrite) error { return errNoHealthModel }

func (s graphSink) EmitEvents(context.Context, []scriptrt.Event) error { return errNoEventStore }
