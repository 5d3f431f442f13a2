package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// dataStores are the metric/event store and the span store of a data
// directory: each its own Pebble instance beside the graph's, in the
// telemetry/ and traces/ subdirectories (docs/storage-format.md).
type dataStores struct {
	tel    *telpebble.Store
	traces *tracepebble.Store
}

// openData opens (creating if needed) the data stores of dir.
func openData(dir string, now func() time.Time) (*dataStores, error) {
	tel, err := telpebble.Open(filepath.Join(dir, "telemetry"), telpebble.Options{Now: now})
	if err != nil {
		return nil, inUse(dir, err)
	}
	tr, err := tracepebble.Open(filepath.Join(dir, "traces"), tracepebble.Options{})
	if err != nil {
		tel.Close()
		return nil, inUse(dir, err)
	}
	return &dataStores{tel: tel, traces: tr}, nil
}

// engineStores are the stores the engine reads.
func (d *dataStores) engineStores() exec.DataStores {
	return exec.DataStores{Metrics: d.tel, Events: d.tel, Traces: d.traces}
}

// compact drops data past retention (cheap: whole partitions go with range
// deletions) and merges chunks written more than once.
func (d *dataStores) compact(ctx context.Context, now time.Time) error {
	return errors.Join(d.tel.Compact(ctx, now), d.traces.Compact(ctx, now))
}

func (d *dataStores) Close() error {
	return errors.Join(d.tel.Close(), d.traces.Close())
}

// inUse explains a locked data directory.
func inUse(dir string, err error) error {
	if isLocked(err) {
		return fmt.Errorf("the data directory %s is in use by another tetra process (a running tetra serve?): %w", dir, err)
	}
	return err
}
