// Package pebblestore is the versioned topology graph on Pebble
// (github.com/cockroachdb/pebble/v2): Tetra's product store.
//
// Every batch becomes one Pebble batch, committed with sync: atomic and
// durable, so a crash loses nothing committed and exposes nothing
// half-written. Element versions are never overwritten; secondary indexes and
// adjacency are kept as postings with validity intervals (a current table and
// a history table), so a read at any time within retention scans only the
// postings of the terms it asks for. docs/storage-format.md draws the keys.
//
// Reads open on a Pebble snapshot at a time. A shared element cache (see
// cache.go) keeps version directories and decoded versions in memory. Reads
// at the current time are answered from an in-memory index of the present
// graph (present.go: postings as bitmaps, adjacency and the current
// versions in arrays), which closing the store writes to a file and
// opening reads back when it is of the last commit (presentfile.go).
package pebblestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/pebblefs"
)

// Options configure a store. The zero value is usable.
type Options struct {
	// Retention is how long history is kept (graphstore.DefaultRetention
	// when zero).
	Retention time.Duration
	// BlockCacheBytes sizes Pebble's block cache for blocks (128 MiB when
	// zero); the memtables Pebble charges to it come on top.
	BlockCacheBytes int64
	// ElementCacheBytes bounds the decoded element cache (256 MiB when zero).
	ElementCacheBytes int64
	// PostingCacheBytes bounds the posting interval cache (128 MiB when
	// zero); terms with more than PostingCacheMaxLen intervals (16384 when
	// zero) are never cached.
	PostingCacheBytes  int64
	PostingCacheMaxLen int
	// MaxFutureSkew is how far past the clock a batch may be stamped (5
	// minutes when zero).
	MaxFutureSkew time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ErrorLog receives Pebble's error messages (os.Stderr when nil).
	ErrorLog io.Writer
	// NoSync commits without waiting for the disk: for benchmarks and
	// throwaway stores only. A crash may then lose recent commits (never
	// expose half of one).
	NoSync bool
	// ReadOnly opens an existing store for reading only: it writes no file
	// (no MANIFEST, no OPTIONS), runs no compaction, and takes a shared
	// lock, so read-only opens run side by side while a writer (tetra load,
	// tetra serve) keeps them out, and they keep a writer out. Apply and
	// Compact fail.
	ReadOnly bool
	// MustExist fails the open with ErrNotExist when dir holds no store,
	// instead of creating one (implied by ReadOnly).
	MustExist bool
	// FS is the file system the store lives on (the operating system's
	// when nil); tests give Pebble's crash-simulating in-memory one.
	FS vfs.FS
	// NoPresentIndex leaves out the in-memory index of the present graph
	// (present.go): reads at the current time then go through Pebble and
	// the caches like past ones. It saves the index's memory (about 300
	// bytes per component) and its build when the store opens.
	NoPresentIndex bool
	// PresentElementBytes bounds the decoded current versions the present
	// graph holds for reads at the current time (1 GiB when zero; an
	// element counts as the element cache estimates it, about 1 KiB for a
	// small one). Beyond it, reads load
	// elements through the element cache.
	PresentElementBytes int64

	// chunkWrites overrides chunkWrites (tests: a commit's writes are
	// encoded one at a time, by two goroutines in turn).
	chunkWrites int
}

// Errors of Open, tested with errors.Is.
var (
	// ErrNotExist: the directory holds no store (with MustExist or
	// ReadOnly).
	ErrNotExist = errors.New("pebblestore: no store in the directory")
	// ErrInUse: another process has the store open in a way that excludes
	// this open (a writer excludes everyone; readers exclude a writer).
	ErrInUse = errors.New("pebblestore: the store is in use by another process")
	// ErrSchema: the directory holds a store in a format this build does
	// not read (written by an older or newer build).
	ErrSchema = errors.New("pebblestore: the store's format is not this build's")
)

func (o *Options) fill() {
	if o.Retention == 0 {
		o.Retention = graphstore.DefaultRetention
	}
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = 128 << 20
	}
	if o.ElementCacheBytes == 0 {
		o.ElementCacheBytes = 256 << 20
	}
	if o.PostingCacheBytes == 0 {
		o.PostingCacheBytes = 128 << 20
	}
	if o.PostingCacheMaxLen == 0 {
		o.PostingCacheMaxLen = 16384
	}
	if o.PresentElementBytes == 0 {
		o.PresentElementBytes = 1 << 30
	}
	if o.MaxFutureSkew == 0 {
		o.MaxFutureSkew = graphstore.DefaultMaxFutureSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ErrorLog == nil {
		o.ErrorLog = os.Stderr
	}
}

// Store is the Pebble-backed graphstore.Store. It is safe for concurrent
// use: writes are serialised, reads run in parallel with them.
//
// Lock order. The store's mutexes are taken in this order, never the other
// way round: cmu, then wmu, then mu, then a cache shard's lock. Close takes
// all three store locks (cmu, wmu, mu), so it waits for a running
// compaction and a running write. Compact holds cmu and takes mu briefly
// (never wmu: it runs beside writers). Apply holds wmu and takes mu briefly
// to read and to publish counters; it takes cache shard locks while it
// holds wmu but never while it holds mu. Readers take mu briefly (to open
// and close a snapshot) and shard locks briefly, one at a time, never
// while holding mu.
type Store struct {
	db    *pebble.DB
	dir   string
	po    *pebble.Options // what the store opened Pebble with (the bulk loader writes tables to match)
	opts  Options
	elems *elementCache
	posts *postingCache
	count *countCache
	now   *present // the present graph in memory; updated by the writer under wmu
	// presentFrom says where the present graph came from when the store
	// opened: "file" (presentfile.go) or "build" (Pebble's postings).
	presentFrom string
	cmu         sync.Mutex   // serialises compactions; first in the lock order
	wmu         sync.Mutex   // serialises writers; after cmu
	wbuf        [2]writeBuf  // a commit's keys, values and posting changes, in two halves; reused under wmu
	wopen       openPostings // a commit's new current postings, in key order; reused under wmu
	wpre        prefetched   // the maps a commit's prefetch fills; reused under wmu

	mu      sync.RWMutex // guards the fields below; after cmu and wmu, before shard locks
	last    int64        // time of the latest commit (ns)
	asked   int64        // latest time a batch asked for (ns)
	horizon int64        // oldest readable time (ns)
	nextID  graphstore.ID
	notify  chan struct{} // closed and replaced on every commit
	readers map[int64]int // read times of open snapshots: compaction never passes them
	closed  bool

	corrupt atomic.Pointer[string] // the first damaged file a read found
}

var _ graphstore.Store = (*Store)(nil)

// memTableSize is the size of Pebble's memtables.
const memTableSize = 64 << 20

// Open opens (creating if needed) a store in directory dir.
func Open(dir string, o Options) (*Store, error) {
	o.fill()
	// Pebble charges its memtables to the block cache: the active one and
	// one being flushed hold 2×memTableSize, so size the cache for both and
	// keep BlockCacheBytes for blocks. (With a cache of BlockCacheBytes
	// alone, two 64 MiB memtables left a 128 MiB cache empty: every read
	// went to the file.)
	cache := pebble.NewCache(o.BlockCacheBytes + 2*memTableSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		Comparer:           comparer,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.ErrorLog},
		// A batch of ten thousand elements writes tens of megabytes of
		// versions and postings; with Pebble's 4 MiB default every such
		// batch became a flushable batch and writers stalled on flushes.
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
		FS:                          o.FS,
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10) // exact-key Gets of versions and mappings
	}
	s := &Store{}
	po.EventListener = &pebble.EventListener{DataCorruption: s.dataCorruption}
	if o.ReadOnly || o.MustExist {
		po.ErrorIfNotExists = true
		if ok, err := Exists(dir); err == nil && !ok {
			return nil, fmt.Errorf("%w %s", ErrNotExist, dir)
		}
	}
	if o.ReadOnly {
		po.ReadOnly = true
		fs := o.FS
		if fs == nil {
			fs = vfs.Default
		}
		po.FS = pebblefs.SharedLockFS{FS: fs}
	}
	po.EnsureDefaults() // the bulk loader writes tables with the options Pebble runs with
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, openError(dir, err)
	}
	*s = Store{
		db: db, dir: dir, po: po, opts: o,
		elems:   newElementCache(o.ElementCacheBytes),
		posts:   newPostingCache(o.PostingCacheBytes, o.PostingCacheMaxLen),
		count:   newCountCache(),
		notify:  make(chan struct{}),
		readers: map[int64]int{},
		nextID:  1,
	}
	if err := s.loadMeta(); err != nil {
		db.Close()
		markCorrupt(&err)
		return nil, err
	}
	if !o.NoPresentIndex {
		s.now = newPresent(o.PresentElementBytes)
		if s.loadPresent(s.last, s.nextID) {
			s.presentFrom = "file"
			return s, nil
		}
		s.presentFrom = "build"
		if err := s.now.build(db, s.last, s.nextID); err != nil {
			db.Close()
			markCorrupt(&err)
			return nil, fmt.Errorf("pebblestore: building the present graph: %w", err)
		}
	}
	return s, nil
}

// openError names why Pebble could not open a store: no store, a store in
// use, damaged files, or the error as it is.
func openError(dir string, err error) error {
	switch {
	case errors.Is(err, pebble.ErrDBDoesNotExist):
		return fmt.Errorf("%w %s", ErrNotExist, dir)
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EACCES),
		strings.Contains(err.Error(), "lock held by current process"): // Pebble's in-process check has no sentinel
		return fmt.Errorf("%w: %s", ErrInUse, dir)
	}
	markCorrupt(&err)
	return fmt.Errorf("pebblestore: open %s: %w", dir, err)
}

// dataCorruption is Pebble's report of damaged data found while reading.
// Pebble's default ends the process; here the read that met it fails
// with an error wrapping graphstore.ErrCorrupt (markCorrupt), Check reports
// it from then on, and the store goes on serving what is intact.
func (s *Store) dataCorruption(info pebble.DataCorruptionInfo) {
	s.corrupt.CompareAndSwap(nil, &info.Path)
	if s.opts.ErrorLog != nil {
		fmt.Fprintf(s.opts.ErrorLog, "pebble: damaged data in %s: %v\n", info.Path, info.Details)
	}
}

// markCorrupt makes an error about damaged data wrap graphstore.ErrCorrupt.
func markCorrupt(err *error) {
	if *err != nil && pebble.IsCorruptionError(*err) && !errors.Is(*err, graphstore.ErrCorrupt) {
		*err = fmt.Errorf("%w: %w", graphstore.ErrCorrupt, *err)
	}
}

// Check returns an error when the store cannot serve: it is closed, or a
// read found damaged data (which wraps graphstore.ErrCorrupt).
func (s *Store) Check() error {
	if p := s.corrupt.Load(); p != nil {
		return fmt.Errorf("%w in %s", graphstore.ErrCorrupt, *p)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return graphstore.ErrClosed
	}
	return nil
}

// Stats are figures about the store for monitoring.
type Stats struct {
	DiskBytes        uint64
	Compactions      int64
	CompactionDebt   uint64
	BlockCacheHits   int64
	BlockCacheMisses int64
	BlockCacheBytes  int64
	MemtableBytes    uint64
	ReadAmp          int
}

// Stats returns the store's current figures (Pebble's metrics).
func (s *Store) Stats() Stats {
	m := s.db.Metrics()
	return Stats{
		DiskBytes: m.DiskSpaceUsage(), Compactions: m.Compact.Count, CompactionDebt: m.Compact.EstimatedDebt,
		BlockCacheHits: m.BlockCache.Hits, BlockCacheMisses: m.BlockCache.Misses, BlockCacheBytes: m.BlockCache.Size,
		MemtableBytes: m.MemTable.Size, ReadAmp: m.ReadAmp(),
	}
}

// Exists reports whether dir holds a store, without opening it.
func Exists(dir string) (bool, error) {
	desc, err := pebble.Peek(dir, vfs.Default)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	return desc.Exists, nil
}

// loadMeta reads the store's counters, writing the schema on first open.
func (s *Store) loadMeta() error {
	v, err := s.getU64(metaSchema)
	if errors.Is(err, pebble.ErrNotFound) {
		return s.db.Set(metaSchema, appendU64(nil, schemaVersion), pebble.Sync)
	}
	if err != nil {
		return err
	}
	if v != schemaVersion {
		return fmt.Errorf("%w: the data directory has schema version %d; this build reads version %d", ErrSchema, v, schemaVersion)
	}
	last, err := s.getU64Or(metaLast, 0)
	if err != nil {
		return err
	}
	horizon, err := s.getU64Or(metaHorizon, 0)
	if err != nil {
		return err
	}
	next, err := s.getU64Or(metaNextID, 1)
	if err != nil {
		return err
	}
	asked, err := s.getU64Or(metaAsked, last)
	if err != nil {
		return err
	}
	s.last, s.asked, s.horizon, s.nextID = int64(last), int64(asked), int64(horizon), graphstore.ID(next)
	return nil
}

// getU64 reads an 8-byte value from the live database.
func (s *Store) getU64(key []byte) (uint64, error) {
	v, closer, err := s.db.Get(key)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("pebblestore: meta key %q: %w", key, errCorrupt)
	}
	return u64(v), nil
}

func (s *Store) getU64Or(key []byte, def uint64) (uint64, error) {
	v, err := s.getU64(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return def, nil
	}
	return v, err
}

// pebbleLogger drops Pebble's informational chatter (the CLI's stderr is for
// the user) and keeps its errors. A fatal error inside Pebble means the
// store cannot go on; it panics rather than exiting the process.
type pebbleLogger struct{ w io.Writer }

func (pebbleLogger) Infof(string, ...any) {}

func (l pebbleLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(l.w, "pebble: "+format+"\n", args...)
}

func (pebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// LastCommit implements graphstore.Store.
func (s *Store) LastCommit() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.last == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.last)
}

// Horizon implements graphstore.Store.
func (s *Store) Horizon() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return time.Unix(0, s.horizon)
}

// Retention returns how long the store keeps history.
func (s *Store) Retention() time.Duration { return s.opts.Retention }

// DiskUsage returns the bytes the store occupies on disk.
func (s *Store) DiskUsage() uint64 { return s.db.Metrics().DiskSpaceUsage() }

// Flush writes the memtable to disk (for measurements of on-disk size).
func (s *Store) Flush() error { return s.db.Flush() }

// Close implements graphstore.Store. It waits for a running write or
// compaction to finish (locks in the order Compact and Apply take them:
// cmu, wmu, mu) and wakes every feed.
func (s *Store) Close() error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if s.now != nil && !s.opts.ReadOnly && s.last != 0 && s.now.usable(s.last) {
		// The next open reads the index from this file instead of
		// rebuilding it; failing to write it costs only that.
		if err := s.savePresent(s.last, s.nextID); err != nil {
			fmt.Fprintln(s.opts.ErrorLog, err)
		}
	}
	return s.db.Close()
}
