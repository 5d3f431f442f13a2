package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
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
// with --elasticsearch, indices of that cluster (docs/telemetry.md). A
// read-only open of a directory that has none yet leaves the field nil:
// the statement then says there is no such data.
type dataStores struct {
	tel    telemetry.Store
	traces traces.Store
	dir    string
	shared bool // every node writes the same stores (Elasticsearch)
}

// elasticFlag adds --elasticsearch to a command's flags.
func elasticFlag(fs *flags) *string {
	return fs.String("elasticsearch", "", "keep metrics, events and spans in the Elasticsearch cluster at `URL` (http://user:password@host:9200) instead of the data directory")
}

// openData opens the data stores: Elasticsearch at esURL when given, else
// those of dir (created if needed when mode is readWrite; shared with
// other readers when readOnly).
func openData(dir, esURL string, mode storeMode, now func() time.Time) (*dataStores, error) {
	if esURL != "" {
		return openElastic(esURL)
	}
	ds := &dataStores{dir: dir}
	telDir, trDir := filepath.Join(dir, "telemetry"), filepath.Join(dir, "traces")
	ro := mode == readOnly
	if !ro || exists(telDir) {
		tel, err := telpebble.Open(telDir, telpebble.Options{Now: now, ReadOnly: ro})
		if err != nil {
			return nil, inUse(dir, mode, err)
		}
		ds.tel = tel
	}
	if !ro || exists(trDir) {
		tr, err := tracepebble.Open(trDir, tracepebble.Options{ReadOnly: ro})
		if err != nil {
			ds.Close()
			return nil, inUse(dir, mode, err)
		}
		ds.traces = tr
	}
	return ds, nil
}

// exists reports whether dir holds a Pebble database.
func exists(dir string) bool {
	desc, err := pebble.Peek(dir, vfs.Default)
	return err == nil && desc.Exists
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
	return &dataStores{tel: tel, traces: tr, shared: true}, nil
}

// engineStores are the stores the engine reads; a kind with no store
// answers that there is no such data.
func (d *dataStores) engineStores() exec.DataStores {
	var out exec.DataStores
	if d.tel != nil {
		out.Metrics, out.Events = d.tel, d.tel
	} else {
		none := noData{d.dir, "metrics or events"}
		out.Metrics, out.Events = none, none
	}
	if d.traces != nil {
		out.Traces = d.traces
	} else {
		out.Traces = noData{d.dir, "spans"}
	}
	return out
}

// compact drops data past retention (cheap: whole partitions go with range
// deletions) and merges chunks written more than once.
func (d *dataStores) compact(ctx context.Context, now time.Time) error {
	return errors.Join(d.tel.Compact(ctx, now), d.traces.Compact(ctx, now))
}

func (d *dataStores) Close() error {
	var errs []error
	if d.tel != nil {
		errs = append(errs, d.tel.Close())
	}
	if d.traces != nil {
		errs = append(errs, d.traces.Close())
	}
	return errors.Join(errs...)
}

// inUse explains a data store another process holds.
func inUse(dir string, mode storeMode, err error) error {
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EACCES) &&
		!strings.Contains(err.Error(), "lock held by current process") {
		return err
	}
	if mode == readOnly {
		return fmt.Errorf("the data directory %s is in use by a tetra process that writes to it (tetra serve or tetra load); "+
			"query a running server with --server URL, or wait for the load to finish", dir)
	}
	return fmt.Errorf("the data directory %s is in use by another tetra process (a running tetra serve, load or query)", dir)
}

// noData stands for a store a data directory does not have yet.
type noData struct{ dir, what string }

func (n noData) err() error {
	return fmt.Errorf("no %s in %s: load some first (tetra load --data %s FILE…)", n.what, n.dir, n.dir)
}

func (n noData) AppendMetrics(context.Context, []telemetry.SeriesSamples) error { return n.err() }
func (n noData) SelectMetrics(context.Context, telemetry.MetricQuery) (telemetry.SeriesSet, error) {
	return nil, n.err()
}
func (n noData) MetricIdentifiers(context.Context, telemetry.MetricQuery) ([]string, error) {
	return nil, n.err()
}
func (n noData) ExplainMetrics(telemetry.MetricQuery) string           { return n.err().Error() + "\n" }
func (n noData) AppendEvents(context.Context, []telemetry.Event) error { return n.err() }
func (n noData) SelectEvents(context.Context, telemetry.EventQuery) (telemetry.EventIterator, error) {
	return nil, n.err()
}
func (n noData) ExplainEvents(telemetry.EventQuery) string { return n.err().Error() + "\n" }
func (n noData) SearchTraces(context.Context, traces.TraceQuery) (traces.TraceIterator, error) {
	return nil, n.err()
}
func (n noData) ExplainTraces(traces.TraceQuery) string { return n.err().Error() + "\n" }
