// Package tracepebble is the embedded span store: spans on their own
// Pebble instance, partitioned by day, written in chunks (one per trace,
// append and ten-minute window) and indexed by posting lists per term
// (service, name, kind, status, attributes, resource attributes,
// component identifiers, a service's duration bucket, and every chunk by
// time). Concurrent appends commit as one group. docs/storage-format.md
// draws the keys.
package tracepebble

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/internal/pebblefs"
	"github.com/tetrahq/tetra/traces"
)

// Options configure a store. The zero value is usable.
type Options struct {
	// Retention is how long spans are kept (traces.DefaultRetention when
	// zero), in whole days.
	Retention time.Duration
	// BlockCacheBytes sizes Pebble's block cache (64 MiB when zero).
	BlockCacheBytes int64
	// NoSync commits without waiting for the disk (benchmarks, tests).
	NoSync bool
	// ReadOnly opens an existing store for reading only, sharing it with
	// other read-only opens and excluding writers; writes fail with
	// ErrReadOnly.
	ReadOnly bool
	// ErrorLog receives Pebble's error messages (os.Stderr when nil).
	ErrorLog io.Writer
	// FS is the file system the store lives on (the operating system's
	// when nil); tests give Pebble's crash-simulating in-memory one.
	FS vfs.FS
}

// Store is the Pebble span store, safe for concurrent use: writers are
// serialised, searches read a snapshot.
type Store struct {
	db     *pebble.DB
	o      Options
	wmu    sync.Mutex   // serialises Compact and Close; ordered before mu
	mu     sync.RWMutex // guards closed: appends hold it shared while they commit
	closed bool
	seq    atomic.Uint64 // the last append's sequence (nextSeq)

	gmu     sync.Mutex // guards the group commit's state; ordered after mu
	waiting []*waiter  // appends for the next group
	leading bool       // a group is being committed
}

var _ traces.Store = (*Store)(nil)

// Open opens (creating if needed) a store in dir.
func Open(dir string, o Options) (*Store, error) {
	if o.Retention <= 0 {
		o.Retention = traces.DefaultRetention
	}
	if o.BlockCacheBytes <= 0 {
		o.BlockCacheBytes = 64 << 20
	}
	if o.ErrorLog == nil {
		o.ErrorLog = os.Stderr
	}
	cache := pebble.NewCache(o.BlockCacheBytes + 64<<20)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebblefs.Logger{W: o.ErrorLog, Prefix: "tracepebble: "},
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	po.FS = o.FS
	if o.ReadOnly {
		fs := o.FS
		if fs == nil {
			fs = vfs.Default
		}
		po.ReadOnly, po.ErrorIfNotExists = true, true
		po.FS = pebblefs.SharedLockFS{FS: fs}
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("tracepebble: open %s: %w", dir, err)
	}
	s := &Store{db: db, o: o}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, fmt.Errorf("tracepebble: open %s: %w", dir, err)
	}
	return s, nil
}

// schemaVersion is the data format: 2 since spans are stored in chunks
// with posting lists. Version 1 (a record and a dozen index keys per span)
// is not read: spans are kept days, not years, and the old index would
// need its own search; a version 1 directory is refused with a message
// saying to move it away.
const schemaVersion = 2

func (s *Store) checkSchema() error {
	key := []byte{tagMeta, 's'}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) && s.o.ReadOnly {
		return fmt.Errorf("not a trace store (no schema)")
	}
	if errors.Is(err, pebble.ErrNotFound) {
		return s.db.Set(key, binary.BigEndian.AppendUint64(nil, schemaVersion), pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
		if binary.BigEndian.Uint64(v) == 1 {
			return fmt.Errorf("data format version 1 (a record per span), which this build does not read: " +
				"move the directory away (spans expire after the retention) and restart")
		}
		return fmt.Errorf("data format version %x, this build reads version %d", v, schemaVersion)
	}
	return nil
}

func (s *Store) writeOpts() *pebble.WriteOptions {
	if s.o.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// ErrReadOnly is a write to a store opened ReadOnly.
var ErrReadOnly = errors.New("tracepebble: the store is open read-only")

func (s *Store) checkWritable() error {
	if s.o.ReadOnly {
		return ErrReadOnly
	}
	return s.checkOpen()
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return traces.ErrClosed
	}
	return nil
}

// hold keeps the store open for one read: Close waits until release is
// called. Reads run to their end within the call that holds (their
// snapshots never leave it), so Close waits for reads in flight and a read
// that starts after Close gets ErrClosed instead of using a closed
// database. A read must not call hold again while holding: a Close
// waiting between the two would deadlock it.
func (s *Store) hold() (release func(), err error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, traces.ErrClosed
	}
	return s.mu.RUnlock, nil
}

// Close closes the store.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// AppendSpans writes spans and their index entries in one batch (see
// append.go). Appends run concurrently: each builds its chunks and terms
// on its own goroutine, then joins the next group commit. A span stored
// before with the same ids in the same day is replaced: its newer chunk
// wins when the trace is read.
func (s *Store) AppendSpans(ctx context.Context, batch []traces.Span) error {
	for i := range batch {
		if err := traces.CheckSpan(&batch[i]); err != nil {
			return fmt.Errorf("tracepebble: span %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock() // Close waits for appends in flight
	defer s.mu.RUnlock()
	if s.closed {
		return traces.ErrClosed
	}
	if s.o.ReadOnly {
		return ErrReadOnly
	}
	if len(batch) == 0 {
		return nil
	}
	// The sequence is taken before building: an append that starts after
	// another returned still gets the higher one, and concurrent appends
	// have no order to keep.
	p := prepareAppend(s.db, batch, s.nextSeq(1))
	err := s.group(&waiter{p: p, done: make(chan error, 1)})
	builds.Put(p.build) // the group is committed: its lists are written
	return err
}

// waiter is an append waiting for its group's commit.
type waiter struct {
	p    *prepared
	done chan error // the group's result, or errLead
}

// errLead tells a waiter that it commits the next group.
var errLead = errors.New("tracepebble: lead the next group")

// group commits an append together with those that arrive while another
// group commits (group commit): one leader at a time commits the appends
// waiting, then hands the lead to the first of those that arrived
// meanwhile. Concurrent exports so share one batch and one sync, and
// their terms share posting lists; each append was built before it
// joined, so the leader only concatenates and merges.
func (s *Store) group(w *waiter) error {
	s.gmu.Lock()
	s.waiting = append(s.waiting, w)
	if s.leading {
		s.gmu.Unlock()
		if err := <-w.done; err != errLead {
			return err
		}
		s.gmu.Lock()
	}
	s.leading = true
	group := s.waiting
	s.waiting = nil
	s.gmu.Unlock()

	err := s.commit(group)

	s.gmu.Lock()
	if len(s.waiting) > 0 {
		s.waiting[0].done <- errLead
	} else {
		s.leading = false
	}
	s.gmu.Unlock()
	for _, o := range group {
		if o != w {
			o.done <- err
		}
	}
	return err
}

// commit writes a group of appends in one batch. The batch comes from
// Pebble's pool, which keeps its buffer (up to groupBatchRetained) for
// the next group instead of a new one of a megabyte or more each time.
func (s *Store) commit(group []*waiter) error {
	ps := make([]*prepared, len(group))
	for i, w := range group {
		ps[i] = w.p
	}
	b := s.db.NewBatch(pebble.WithMaxRetainedSizeBytes(groupBatchRetained))
	defer b.Close()
	groupBatch(b, ps)
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("tracepebble: append: %w", err)
	}
	return nil
}

// groupBatchRetained is the largest buffer a group's batch keeps: a
// group of a dozen exports of 500 spans.
const groupBatchRetained = 8 << 20

// nextSeq reserves n sequences of appends and returns the first: the
// wall clock in nanoseconds, kept increasing within the process, so that
// a later append of a span wins over an earlier one, also across restarts
// (unless the clock goes back).
func (s *Store) nextSeq(n int) uint64 {
	for {
		last := s.seq.Load()
		next := max(last+1, uint64(time.Now().UnixNano()))
		if s.seq.CompareAndSwap(last, next+uint64(n)-1) {
			return next
		}
	}
}

// Compact drops the days that ended before now − Retention.
func (s *Store) Compact(ctx context.Context, now time.Time) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkWritable(); err != nil {
		return err
	}
	horizon := dayOf(now.Add(-s.o.Retention).UnixNano())
	b := s.db.NewBatch()
	defer b.Close()
	for _, tag := range spanTags {
		b.DeleteRange([]byte{tag}, dayPrefix(tag, horizon), nil)
	}
	return b.Commit(s.writeOpts())
}

// Spans returns a trace's spans starting within [start, end].
func (s *Store) Spans(ctx context.Context, traceID string, start, end int64) ([]traces.Span, error) {
	release, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer release()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagChunk}, UpperBound: []byte{tagChunk + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	spans, _, err := traceSpans(it, traceID, start, end)
	return spans, err
}

// chunkID names a chunk of a trace.
type chunkID struct {
	day   int64
	win   uint16
	batch uint64
}

// chunkSpan is a span in a chunk.
type chunkSpan struct {
	chunkID
	sid string
}

// traceSpans reads a trace's spans in [start, end] from an iterator over
// the chunk table, by start time. A span stored twice in a day counts in
// the chunk of the later append; gone lists the others (nil when none).
func traceSpans(it *pebble.Iterator, tid string, start, end int64) ([]traces.Span, map[chunkSpan]bool, error) {
	var out []traces.Span
	var gone map[chunkSpan]bool
	for day := dayOf(start); day <= dayOf(end); day++ {
		var ids []chunkID
		var chunks []chunk
		err := eachChunk(it, day, tid, func(id chunkID, c chunk) {
			ids, chunks = append(ids, id), append(chunks, c)
		})
		if err != nil {
			return nil, nil, err
		}
		if len(chunks) > 1 { // an append holds a span once: only several can repeat one
			gone = replaced(ids, chunks, gone)
		}
		for i, c := range chunks {
			for _, sp := range c.spans {
				if sp.Start >= start && sp.Start <= end && !gone[chunkSpan{chunkID: ids[i], sid: sp.SpanID}] {
					out = append(out, sp)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b traces.Span) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.SpanID, b.SpanID))
	})
	return out, gone, nil
}

// replaced adds to gone the spans of a day's chunks that a chunk of a
// later append holds again.
func replaced(ids []chunkID, chunks []chunk, gone map[chunkSpan]bool) map[chunkSpan]bool {
	type version struct {
		id  chunkID
		seq uint64
	}
	latest := map[string]version{}
	for i, c := range chunks {
		for _, sp := range c.spans {
			v := version{id: ids[i], seq: c.seq}
			prev, seen := latest[sp.SpanID]
			if !seen {
				latest[sp.SpanID] = v
				continue
			}
			if prev.seq > v.seq {
				prev, v = v, prev
			}
			latest[sp.SpanID] = v
			if gone == nil {
				gone = map[chunkSpan]bool{}
			}
			gone[chunkSpan{chunkID: prev.id, sid: sp.SpanID}] = true
		}
	}
	return gone
}

// eachChunk calls f with each chunk of a trace in a day.
func eachChunk(it *pebble.Iterator, day int64, tid string, f func(chunkID, chunk)) error {
	p := tracePrefix(day, tid)
	for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
		k := it.Key()[len(p):]
		if len(k) != 10 {
			return fmt.Errorf("tracepebble: chunk key %x: %w", it.Key(), kv.ErrCorrupt)
		}
		id := chunkID{day: day, win: binary.BigEndian.Uint16(k), batch: binary.BigEndian.Uint64(k[2:])}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		c, err := decodeChunk(v, tid, day*dayNs+int64(id.win)*windowNs)
		if err != nil {
			return fmt.Errorf("tracepebble: chunk %x: %w", it.Key(), err)
		}
		f(id, c)
	}
	return it.Error()
}
