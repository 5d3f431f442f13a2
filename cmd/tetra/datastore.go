package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telelastic"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/traceelastic"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// dataStores are the metric/event store and the span store: by default
// each its own Pebble instance beside the graph's, in the telemetry/ and
// traces/ subdirectories of the data directory (docs/storage-format.md);
// with --elasticsearch, indices of that cluster (docs/telemetry.md).
type dataStores struct {
	tel    telemetry.Store
	traces traces.Store
}

// elasticFlag adds --elasticsearch to a command's flags.
func elasticFlag(fs *flag.FlagSet) *string {
	return fs.String("elasticsearch", "", "keep metrics, events and spans in the Elasticsearch cluster at `URL` (http://user:password@host:9200) instead of the data directory")
}

// openData opens the data stores: Elasticsearch at esURL when given, else
// (creating if needed) those of dir.
func openData(dir, esURL string, now func() time.Time) (*dataStores, error) {
	if esURL != "" {
		return openElastic(esURL)
	}
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

// openElastic connects to an Elasticsearch cluster and installs the index
// templates.
func openElastic(url string) (*dataStores, error) {
	c, err := esutil.New(esutil.Options{URL: url})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tel, err := telelastic.Open(ctx, c, telelastic.Options{})
	if err != nil {
		return nil, err
	}
	tr, err := traceelastic.Open(ctx, c, traceelastic.Options{})
	if err != nil {
		return nil, err
	}
	return &dataStores{tel: tel, traces: tr}, nil
}

// inUse explains a locked data directory.
func inUse(dir string, err error) error {
	if isLocked(err) {
		return fmt.Errorf("the data directory %s is in use by another tetra process (a running tetra serve?): %w", dir, err)
	}
	return err
}
