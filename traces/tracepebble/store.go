// Package tracepebble is the embedded span store: spans on their own
// Pebble instance, partitioned by day and indexed by start time, by terms
// (service, name, kind, status, attributes, resource attributes,
// component identifiers) and by service and duration.
// docs/storage-format.md draws the keys.
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
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/pebblefs"
	"github.com/tetrahq/tetra/telemetry"
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
}

// Store is the Pebble span store, safe for concurrent use: writers are
// serialised, searches read a snapshot.
type Store struct {
	db     *pebble.DB
	o      Options
	wmu    sync.Mutex
	mu     sync.RWMutex // guards closed
	closed bool
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
	if o.ReadOnly {
		po.ReadOnly, po.ErrorIfNotExists = true, true
		po.FS = pebblefs.SharedLockFS{FS: vfs.Default}
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

const schemaVersion = 1

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

// AppendSpans writes spans and their index entries in one batch. A span
// stored before with the same ids in the same day is replaced, its old
// index entries deleted.
func (s *Store) AppendSpans(ctx context.Context, batch []traces.Span) error {
	for i := range batch {
		if err := traces.CheckSpan(&batch[i]); err != nil {
			return fmt.Errorf("tracepebble: span %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkWritable(); err != nil {
		return err
	}
	// A plain batch: a span stored before is looked up in the database
	// (its bloom filters make the usual miss cheap), one written earlier
	// in this batch in the map; either's index entries are deleted.
	b := s.db.NewBatch()
	defer b.Close()
	inBatch := make(map[string]*traces.Span, len(batch))
	for i := range batch {
		sp := canonical(&batch[i])
		key := spanKey(dayOf(sp.Start), sp.TraceID, sp.SpanID)
		if prev := inBatch[string(key)]; prev != nil {
			deleteIndex(b, prev)
		} else if err := s.deleteStored(b, key); err != nil {
			return err
		}
		inBatch[string(key)] = &sp
		b.Set(key, encodeSpan(&sp), nil)
		writeIndex(b, &sp)
	}
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("tracepebble: append: %w", err)
	}
	return nil
}

// canonical returns the span as stored: tags sorted, identifiers derived.
func canonical(in *traces.Span) traces.Span {
	sp := *in
	sp.Attributes = telemetry.NewTags(slices.Clone(in.Attributes))
	sp.Resource = telemetry.NewTags(slices.Clone(in.Resource))
	sp.Identifiers = traces.SpanIdentifiers(&sp)
	return sp
}

func writeIndex(b *pebble.Batch, sp *traces.Span) {
	dur := durValue(sp.Duration)
	b.Set(timeKey(sp), dur, nil)
	for _, t := range spanTerms(sp) {
		b.Set(termKey(t, sp), dur, nil)
	}
	b.Set(svcDurKey(sp), nil, nil)
}

// deleteStored removes the index entries of a span stored under key
// before it is replaced.
func (s *Store) deleteStored(b *pebble.Batch, key []byte) error {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	old, err := decodeSpan(v)
	closer.Close()
	if err != nil {
		return fmt.Errorf("tracepebble: span record %x: %w", key, err)
	}
	deleteIndex(b, &old)
	return nil
}

// deleteIndex deletes a span's index entries.
func deleteIndex(b *pebble.Batch, sp *traces.Span) {
	b.Delete(timeKey(sp), nil)
	for _, t := range spanTerms(sp) {
		b.Delete(termKey(t, sp), nil)
	}
	b.Delete(svcDurKey(sp), nil)
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
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagSpan}, UpperBound: []byte{tagSpan + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	return traceSpans(it, traceID, start, end)
}

// traceSpans reads a trace's spans in [start, end] from an iterator over
// the span table, by start time.
func traceSpans(it *pebble.Iterator, tid string, start, end int64) ([]traces.Span, error) {
	var out []traces.Span
	for day := dayOf(start); day <= dayOf(end); day++ {
		p := tracePrefix(day, tid)
		for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, err
			}
			sp, err := decodeSpan(v)
			if err != nil {
				return nil, fmt.Errorf("tracepebble: span record %x: %w", it.Key(), err)
			}
			if sp.Start >= start && sp.Start <= end {
				out = append(out, sp)
			}
		}
		if err := it.Error(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b traces.Span) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.SpanID, b.SpanID))
	})
	return out, nil
}
