package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/internal/usermsg"
	"github.com/tetrahq/tetra/lang"
)

// runLoad implements tetra load: each file's topology (StackState intake
// JSON, the check topology form, or a list of either) becomes one version of
// the graph, applied as the receiver applies it; its metrics, events and
// spans (intake metrics and events, /api/v1/series, trace-agent spans,
// OTLP/JSON) are appended to the data stores.
func runLoad(e *env, args []string) int {
	fs := newFlags(e, "load")
	data := dataFlag(fs)
	esURL := elasticFlag(fs)
	at := fs.String("time", "", "stamp every file's version at `T` (now, -1h, 2026-11-20T10:00:00Z, epoch ms); default: when it is loaded")
	source := fs.String("source", "", "source `NAME` for topologies without an instance (default: the file's name)")
	shiftFrom := fs.String("shift-from", "", "move the files' metrics, events and spans by now − `T`, as if T were now (replays recorded data)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(files) == 0 {
		return misuse(e, fs, "no files to load")
	}
	var stamp time.Time
	if *at != "" {
		tv, err := lang.ParseTime(*at)
		if err != nil {
			fmt.Fprint(e.stderr, "tetra load: --time: ", lang.Render(*at, err))
			return exitMisuse
		}
		stamp = tv.Resolve(e.now())
	}
	var shift time.Duration
	if *shiftFrom != "" {
		tv, err := lang.ParseTime(*shiftFrom)
		if err != nil {
			fmt.Fprint(e.stderr, "tetra load: --shift-from: ", lang.Render(*shiftFrom, err))
			return exitMisuse
		}
		shift = e.now().Sub(tv.Resolve(e.now()))
	}
	fresh := noteStoreDir(*data)
	st, err := openStore(*data, readWrite, e.now)
	if err != nil {
		return userError(e, "load", err)
	}
	defer st.Close()
	ds, err := openData(*data, *esURL, readWrite, e.now)
	if err != nil {
		return userError(e, "load", err)
	}
	defer ds.Close()
	target, finish, err := loadTarget(st, files)
	if err != nil {
		return userError(e, "load", err)
	}
	// Ctrl-C stops the load: the batch being applied is not committed
	// (a batch commits whole or not at all), the files before it stay.
	ctx, interrupted, release := e.stopOnInterrupt()
	defer release()
	ap := ingest.NewApplier(target)
	for i, f := range files {
		if err := loadFile(ctx, e, ap, target, ds, f, *source, stamp, shift); err != nil {
			if interrupted() {
				if ferr := finish(); ferr != nil {
					fmt.Fprintf(e.stderr, "tetra load: writing the files before %s failed too: %v\n", f, ferr)
				}
				return interruptedExit(e, "load", fmt.Sprintf(": %d of %d files were loaded; nothing of %s was", i, len(files), f))
			}
			printLoadError(e.stderr, f, err)
			if err := finish(); err != nil {
				fmt.Fprintf(e.stderr, "tetra load: writing the files before %s failed too: %v\n", f, err)
				return exitUser
			}
			if i > 0 {
				fmt.Fprintf(e.stderr, "tetra load: %d of %d files were loaded before this one; nothing of %s was\n", i, len(files), f)
			} else if st.LastCommit().IsZero() {
				// Nothing was written: leave no empty store behind, which
				// later commands would take for data.
				st.Close()
				if err := fresh.cleanup(); err != nil {
					fmt.Fprintf(e.stderr, "tetra load: removing the empty store in %s: %v\n", *data, err)
				}
			}
			return exitUser
		}
	}
	if err := finish(); err != nil {
		return userError(e, "load", err)
	}
	if open := ap.OpenSnapshots(); len(open) > 0 {
		fmt.Fprintf(e.stderr, "tetra load: warning: snapshots still open at the end (no stop_snapshot): %v; "+
			"a snapshot spans the files of one tetra load, so these are forgotten and a later stop_snapshot for them fails\n", open)
	}
	if err := ds.compact(ctx, e.now()); err != nil {
		fmt.Fprintf(e.stderr, "tetra load: warning: all %d files loaded, but dropping telemetry past retention failed (the next load retries): %v\n", len(files), err)
	}
	stats, err := compactIfDue(ctx, st, e.now())
	if err != nil {
		// Everything is committed: the load succeeded, the clean-up did not.
		fmt.Fprintf(e.stderr, "tetra load: warning: all %d files loaded, but compacting expired history failed (the next load retries): %v\n", len(files), err)
		return exitOK
	}
	if stats != nil && stats.Versions+stats.Postings > 0 {
		fmt.Fprintf(e.stdout, "dropped history before %s (retention %s): %d versions, %d index entries\n",
			stats.Horizon.UTC().Format(time.RFC3339), st.Retention(), stats.Versions, stats.Postings)
	}
	return exitOK
}

// bulkLoadBytes is how much input makes tetra load use the bulk loader on
// a store that already has data.
const bulkLoadBytes = 64 << 20

// loadTarget picks what tetra load writes through: the store's bulk loader
// (sorted tables handed to Pebble, the same result many times faster) for a
// first load or a large one, the store itself otherwise. finish ends the
// bulk load: what it gathered is written then.
func loadTarget(st *pebblestore.Store, files []string) (graphstore.Store, func() error, error) {
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	if !st.LastCommit().IsZero() && size < bulkLoadBytes {
		return st, func() error { return nil }, nil
	}
	ld, err := st.NewLoader(0)
	if err != nil {
		return nil, nil, err
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return ld, ld.Close, nil
	}
	prev := debug.SetMemoryLimit(bulkMemoryLimit)
	return ld, func() error {
		defer debug.SetMemoryLimit(prev)
		return ld.Close()
	}, nil
}

// bulkMemoryLimit is the Go heap's soft limit while tetra load bulk loads
// (unless GOMEMLIMIT is set; GOMEMLIMIT=off leaves the collector's
// default). A file is one batch: at a million components the live heap
// reaches about 2.5 GiB while a file of 400,000 elements plans, and the
// collector's default headroom (as much again) took the peak RSS to 5.5
// GiB. Under this limit, with Pebble's cache and memtables outside the Go
// heap, the first load of the 1M benchmark graph peaked at 3.8-3.9 GiB,
// for about half again as much CPU (3.3 GiB: 3.7-4.1 GiB for 20-35%
// more). A load
// whose live heap passes the limit is not stopped: the collector then
// runs nearly all the time (at most half the CPU), so it is slower, not
// failed.
const bulkMemoryLimit = 3 << 30

// printLoadError reports why a file was not loaded: every decoding error
// the decoder collected (each with its JSON path), not only the first.
func printLoadError(w io.Writer, name string, err error) {
	var list *ingest.ErrorList
	if !errors.As(err, &list) {
		fmt.Fprintf(w, "tetra load: %s: %s\n", name, usermsg.Message(err))
		return
	}
	for _, e := range list.Errs {
		fmt.Fprintf(w, "tetra load: %s: %s\n", name, usermsg.Message(e))
	}
	if list.Dropped > 0 {
		fmt.Fprintf(w, "tetra load: %s: and %d more errors\n", name, list.Dropped)
	}
}

// loadFile decodes one file, applies its topology as one batch and appends
// its metrics, events and spans. Nothing is written unless the whole file
// decodes; the topology and the data stores are written one after the
// other, not atomically together. target is what ap writes to (the store
// or its bulk loader).
func loadFile(ctx context.Context, e *env, ap *ingest.Applier, target graphstore.Store, ds *dataStores, name, source string, at time.Time, shift time.Duration) error {
	r, closeFn, err := openInput(e, name)
	if err != nil {
		return err
	}
	defer closeFn()
	r = ctxReader{ctx, r} // a large file's decoding stops at Ctrl-C too
	if source == "" {
		source = "file:" + filepath.Base(name)
	}
	dec := ingest.Decoder{DefaultSource: source}
	p, err := dec.DecodePayload(r)
	if err != nil {
		return err
	}
	p.Shift(shift)
	if len(p.Topologies) > 0 || p.Empty() {
		topos := p.Topologies
		p.Topologies = nil // the batch holds what is applied: the decoded topologies need not stay alive while it plans
		sum, err := ap.Apply(ctx, topos, at)
		if err != nil {
			return err
		}
		// The bulk loader writes what it gathered when told to: a file's
		// line is printed once the file is durable, as with Apply.
		if l, ok := target.(interface{ Flush(context.Context) error }); ok {
			if err := l.Flush(ctx); err != nil {
				return err
			}
		}
		printLoadSummary(e.stdout, name, sum)
	}
	if len(p.Metrics) > 0 {
		if err := ds.tel.AppendMetrics(ctx, p.Metrics); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %d samples of %d series\n", name, p.Samples(), len(p.Metrics))
	}
	if len(p.Events) > 0 {
		if err := ds.tel.AppendEvents(ctx, p.Events); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %d events\n", name, len(p.Events))
	}
	if len(p.Spans) > 0 {
		if err := ds.traces.AppendSpans(ctx, p.Spans); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %d spans\n", name, len(p.Spans))
	}
	return nil
}

func printLoadSummary(w io.Writer, name string, sum *ingest.Summary) {
	if sum.Commit == nil {
		fmt.Fprintf(w, "%s: nothing to write\n", name)
	} else {
		c := sum.Commit
		fmt.Fprintf(w, "%s: version at %s: %d added, %d changed, %d removed\n", name,
			c.Time.UTC().Format(time.RFC3339Nano), c.Added, c.Changed, c.Removed)
	}
	for _, s := range sum.Sources {
		fmt.Fprintf(w, "  %s\n", s)
	}
	for _, s := range sum.Streams {
		fmt.Fprintf(w, "  %s\n", s)
	}
}

// ctxReader is a reader that fails once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
