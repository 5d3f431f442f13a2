package telpebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/pebblefs"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// Options configure a store. The zero value is usable.
type Options struct {
	// MetricRetention and EventRetention are how long each kind is kept
	// (telemetry.DefaultMetricRetention / DefaultEventRetention when zero).
	MetricRetention time.Duration
	EventRetention  time.Duration
	// MaxHeadSamples bounds the samples held in memory before their
	// windows are sealed into chunks (8M, about 128 MiB, when zero): past
	// it, every window is sealed at once.
	MaxHeadSamples int
	// SealGrace is how long after a window ends (by the latest sample
	// time) it is sealed (10 minutes when zero); samples arriving later
	// still land, as an extra chunk merged by compaction.
	SealGrace time.Duration
	// BlockCacheBytes sizes Pebble's block cache (256 MiB when zero): a
	// day of 10,000 series at 10 s takes about 550 MiB of chunks.
	BlockCacheBytes int64
	// NoSync commits without waiting for the disk: for benchmarks and
	// throwaway stores. A crash may lose recent appends, never half of one.
	NoSync bool
	// ReadOnly opens an existing store for reading only, sharing it with
	// other read-only opens (tetra query) and excluding writers: nothing is
	// written, appended samples not yet sealed are read from the log into
	// memory, and every write fails with ErrReadOnly.
	ReadOnly bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// FS is the file system (vfs.Default when nil): tests pass Pebble's
	// crash-simulating one.
	FS vfs.FS
	// ErrorLog receives Pebble's error messages (os.Stderr when nil).
	ErrorLog io.Writer
}

func (o *Options) fill() {
	if o.MetricRetention <= 0 {
		o.MetricRetention = telemetry.DefaultMetricRetention
	}
	if o.EventRetention <= 0 {
		o.EventRetention = telemetry.DefaultEventRetention
	}
	if o.MaxHeadSamples <= 0 {
		o.MaxHeadSamples = 8 << 20
	}
	if o.SealGrace <= 0 {
		o.SealGrace = 10 * time.Minute
	}
	if o.BlockCacheBytes <= 0 {
		o.BlockCacheBytes = 256 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ErrorLog == nil {
		o.ErrorLog = os.Stderr
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
}

// Store is the Pebble metric and event store. It is safe for concurrent
// use: writers are serialised, reads run beside them.
//
// Lock order: wmu before hmu.
type Store struct {
	db *pebble.DB
	o  Options

	wmu      sync.Mutex    // serialises appends, seals and compactions
	nextID   uint64        // next series id; REQUIRES: wmu
	log      sampleLog     // REQUIRES: wmu
	logSeq   uint64        // last sample log record's sequence; REQUIRES: wmu
	chunkSeq uint64        // last chunk sequence; REQUIRES: wmu
	scratch  appendScratch // REQUIRES: wmu

	hmu    sync.RWMutex // guards idx, head and closed
	idx    *seriesIndex
	head   *head
	closed bool

	// readers counts the reads open (taken under hmu, read or write, given
	// back when a read closes): a window dropped while none is open may
	// have its head memory reused, since no reader holds a view of it.
	readers atomic.Int64

	// reads counts the reads holding a snapshot (metric readers and event
	// iterators): added under hmu while the store is open, done once the
	// read has closed its snapshot. Close waits for them, up to closeWait,
	// before it closes the database.
	reads sync.WaitGroup

	stats  readStats
	schema uint64 // the directory's format version; REQUIRES: wmu after Open
	oldWAL bool   // table 0x05 held records at open: seals clear it
}

var _ telemetry.Store = (*Store)(nil)

// schemaVersion is the data format this build writes: 3 since head
// samples are logged in the store's own sample log (log/, table 0x07)
// rather than in table 0x05; 2 since chunks carry a summary
// (internal/tsz). It reads versions 1 and 2 too (version 1's chunks have
// no summary and are decoded; table 0x05 is still replayed). A directory
// is marked 3 when the sample log is first written (and 2 by a writable
// open), which older builds refuse with a clear error rather than miss
// the log's samples or misread the new chunks.
const schemaVersion = 3

// summarySchema is the format of a directory with chunk summaries and no
// sample log yet: what a writable open marks.
const summarySchema = 2

// oldestSchema is the oldest format this build reads.
const oldestSchema = 1

// Open opens (creating if needed) a store in directory dir, replaying
// samples that were appended but not yet sealed.
func Open(dir string, o Options) (*Store, error) {
	o.fill()
	cache := pebble.NewCache(o.BlockCacheBytes + 2*memTableSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebblefs.Logger{W: o.ErrorLog, Prefix: "telpebble: "},
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Chunks are compressed already (a block compressor gains a few
		// percent on them and costs a decompression per block read), and
		// a query reads them in long runs: big uncompressed blocks.
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		po.Levels[i].BlockSize = 32 << 10
	}
	po.FS = o.FS
	if o.ReadOnly {
		po.ReadOnly, po.ErrorIfNotExists = true, true
		po.FS = pebblefs.SharedLockFS{FS: o.FS}
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("telpebble: open %s: %w", dir, err)
	}
	s := &Store{db: db, o: o, idx: newSeriesIndex(), head: newHead(),
		log: sampleLog{fs: o.FS, dir: o.FS.PathJoin(dir, logDir), noSync: o.NoSync,
			segmentBytes: logSegmentBytes, maxRecord: maxLogRecord}}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("telpebble: open %s: %w", dir, err)
	}
	return s, nil
}

// memTableSize is the size of Pebble's memtables: an append of a hundred
// thousand samples writes a few megabytes of log.
const memTableSize = 32 << 20

// load reads the meta table, the series and the write-ahead log.
func (s *Store) load() error {
	if err := s.checkSchema(); err != nil {
		return err
	}
	var err error
	if s.nextID, _, err = s.getMeta("next_series"); err != nil {
		return err
	}
	if s.chunkSeq, _, err = s.getMeta("chunk_seq"); err != nil {
		return err
	}
	s.nextID = max(s.nextID, 1)
	if err := s.loadSeries(); err != nil {
		return err
	}
	if err := s.replayWAL(); err != nil {
		return err
	}
	return s.replayLog()
}

// checkSchema refuses a directory of a format this build cannot read, and
// marks a writable one with the format it will write.
func (s *Store) checkSchema() error {
	v, ok, err := s.getMeta("schema")
	switch {
	case err != nil:
		return err
	case ok && (v < oldestSchema || v > schemaVersion):
		return fmt.Errorf("data format version %d, this build reads versions %d to %d", v, oldestSchema, schemaVersion)
	case !ok && s.o.ReadOnly:
		return fmt.Errorf("not a telemetry store (no schema)")
	case ok:
		s.schema = v
	}
	if s.o.ReadOnly || s.schema >= summarySchema {
		return nil
	}
	return s.markSchema(summarySchema)
}

// markSchema records the directory's format version.
func (s *Store) markSchema(v uint64) error {
	if err := s.db.Set(metaKey("schema"), binary.BigEndian.AppendUint64(nil, v), pebble.Sync); err != nil {
		return err
	}
	s.schema = v
	return nil
}

func (s *Store) getMeta(name string) (uint64, bool, error) {
	v, closer, err := s.db.Get(metaKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("meta %s: %w", name, tsz.ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func setMeta(b *pebble.Batch, name string, v uint64) {
	b.Set(metaKey(name), binary.BigEndian.AppendUint64(nil, v), nil)
}

func (s *Store) loadSeries() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagSeries}, UpperBound: []byte{tagSeries + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		ser, err := decodeSeries(it.Value())
		if err != nil {
			return fmt.Errorf("series record %x: %w", it.Key(), err)
		}
		id := binary.BigEndian.Uint64(it.Key()[1:])
		s.idx.add(&seriesMeta{id: id, key: ser.Key(), series: ser, lastWindow: windowOf(0) - 1})
	}
	if err := it.Error(); err != nil {
		return err
	}
	lw, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagLastWindow}, UpperBound: []byte{tagLastWindow + 1}})
	if err != nil {
		return err
	}
	defer lw.Close()
	for lw.First(); lw.Valid(); lw.Next() {
		if m := s.idx.byID[binary.BigEndian.Uint64(lw.Key()[1:])]; m != nil && len(lw.Value()) == 8 {
			m.lastWindow = int64(binary.BigEndian.Uint64(lw.Value()))
		}
	}
	return lw.Error()
}

// replayWAL puts the samples logged in table 0x05 (by builds before the
// sample log, format 2 and older) back into the head.
func (s *Store) replayWAL() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagWAL}, UpperBound: []byte{tagWAL + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 17 {
			return fmt.Errorf("wal key %x: %w", k, tsz.ErrCorrupt)
		}
		w := windowFromKey(k[1:9])
		s.oldWAL = true
		err := readWAL(it.Value(), func(id uint64, x telemetry.Sample) {
			s.head.add(w, id, []telemetry.Sample{x})
		})
		if err != nil {
			return fmt.Errorf("wal record %x: %w", k, err)
		}
	}
	return it.Error()
}

func (s *Store) writeOpts() *pebble.WriteOptions {
	if s.o.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// Close seals the head into chunks, so that the next open has no log to
// replay, and closes the database.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.hmu.Lock()
	if s.closed {
		s.hmu.Unlock()
		return nil
	}
	windows := s.head.all()
	s.hmu.Unlock()
	var err error
	if !s.o.ReadOnly {
		err = s.sealLocked(windows)
	}
	s.hmu.Lock()
	s.closed = true
	s.hmu.Unlock()
	return errors.Join(err, s.waitReads(closeWait), s.log.close(), s.db.Close())
}

// closeWait bounds how long Close waits for reads in flight: a caller that
// never closes an iterator must not keep the process from stopping.
const closeWait = 10 * time.Second

// waitReads waits until every read open has closed its snapshot, or d has
// passed. REQUIRES: closed is set, so no read starts any more.
func (s *Store) waitReads(d time.Duration) error {
	done := make(chan struct{})
	go func() { s.reads.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("telpebble: closing with reads still open after %s", d)
	}
}

func (s *Store) checkOpen() error {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	if s.closed {
		return telemetry.ErrClosed
	}
	return nil
}

// ErrReadOnly is a write to a store opened ReadOnly.
var ErrReadOnly = errors.New("telpebble: the store is open read-only")

// checkWritable is checkOpen for writers.
func (s *Store) checkWritable() error {
	if s.o.ReadOnly {
		return ErrReadOnly
	}
	return s.checkOpen()
}

// Flush seals every window in the head into chunks (tests and benchmarks
// use it to measure the chunks alone).
func (s *Store) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkWritable(); err != nil {
		return err
	}
	s.hmu.RLock()
	windows := s.head.all()
	s.hmu.RUnlock()
	return s.sealLocked(windows)
}

// DiskUsage returns the bytes of the store's tables after flushing the
// memtables and compacting (for measurements): what the data takes at
// rest, without Pebble's write-ahead log files, which it recycles.
func (s *Store) DiskUsage() (uint64, error) {
	if err := s.db.Flush(); err != nil {
		return 0, err
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		return 0, err
	}
	return s.db.EstimateDiskUsage([]byte{0}, []byte{0xff})
}
