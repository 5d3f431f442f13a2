package pebblestore

import (
	"context"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// compactBatch is how many deletions one Pebble batch of a compaction holds.
const compactBatch = 10_000

// Compact implements graphstore.Store. The new horizon is made durable
// first, so a crash in the middle leaves a store that refuses reads of the
// half-dropped past instead of answering them wrongly. Compaction runs beside
// writers: it only deletes versions and history entries that ended at or
// before the horizon, which no writer touches.
func (s *Store) Compact(ctx context.Context, now time.Time) (_ *graphstore.CompactStats, err error) {
	defer markCorrupt(&err)
	s.cmu.Lock()
	defer s.cmu.Unlock()
	h, moved, err := s.advanceHorizon(now)
	if err != nil || !moved {
		return &graphstore.CompactStats{Horizon: time.Unix(0, h)}, err
	}
	stats := &graphstore.CompactStats{Horizon: time.Unix(0, h)}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	if stats.Versions, err = s.dropVersions(ctx, snap, h); err != nil {
		return stats, err
	}
	if stats.Postings, err = s.dropHistory(ctx, snap, h); err != nil {
		return stats, err
	}
	if stats.Commits, err = s.dropLog(snap, h); err != nil {
		return stats, err
	}
	s.mu.RLock()
	last := s.last
	s.mu.RUnlock()
	s.elems.clear(last)
	s.posts.clear(last)
	return stats, nil
}

// advanceHorizon moves the horizon to now minus retention, but never past
// an open snapshot's read time nor past the last commit (a feed that has
// seen everything must stay readable), and persists it.
func (s *Store) advanceHorizon(now time.Time) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false, graphstore.ErrClosed
	}
	h := min(now.Add(-s.opts.Retention).UnixNano(), s.last)
	for t := range s.readers {
		h = min(h, t)
	}
	if h <= s.horizon {
		return s.horizon, false, nil
	}
	if err := s.db.Set(metaHorizon, appendU64(nil, uint64(h)), pebble.Sync); err != nil {
		return s.horizon, false, err
	}
	s.horizon = h
	return h, true, nil
}

// errCompactAborted marks a compaction step that returned early: the
// deletions it had batched are dropped, not written.
var errCompactAborted = errors.New("pebblestore: compaction step aborted")

// deleter batches point deletions.
type deleter struct {
	db    *pebble.DB
	batch *pebble.Batch
	n     int
}

func (d *deleter) delete(k []byte) error {
	if d.batch == nil {
		d.batch = d.db.NewBatch()
	}
	if err := d.batch.Delete(k, nil); err != nil {
		return err
	}
	d.n++
	if d.batch.Count() >= compactBatch {
		return d.flush()
	}
	return nil
}

func (d *deleter) flush() error {
	if d.batch == nil {
		return nil
	}
	err := d.batch.Commit(pebble.NoSync)
	d.batch.Close()
	d.batch = nil
	return err
}

// finish commits the pending deletions if the scan that chose them ended
// without an error, and drops them otherwise: a deletion decided on a bad
// read must not be written.
func (d *deleter) finish(scanErr error) error {
	if scanErr != nil {
		if d.batch != nil {
			d.batch.Close()
			d.batch = nil
		}
		return scanErr
	}
	return d.flush()
}

// dropVersions deletes, per element, every version superseded at or before
// h, and all versions of elements deleted at or before h.
func (s *Store) dropVersions(ctx context.Context, snap *pebble.Snapshot, h int64) (int, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagVersion}, UpperBound: []byte{tagVersion + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	d := &deleter{db: s.db}
	defer d.finish(errCompactAborted) // no-op unless an early return left deletions pending
	var (
		cur     graphstore.ID
		pending [][]byte // versions of cur at or before h, oldest first
		tomb    bool     // the newest of them is a deletion
	)
	settle := func() error {
		drop := len(pending) - 1 // keep the version live at h…
		if tomb {
			drop = len(pending) // …unless it is a deletion
		}
		for _, k := range pending[:max(drop, 0)] {
			if err := d.delete(k); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return nil
	}
	for valid := it.First(); valid; valid = it.Next() {
		if err := ctx.Err(); err != nil {
			return d.n, err
		}
		k := it.Key()
		id, ts := graphstore.ID(u64(k[1:9])), int64(u64(k[9:17]))
		if id != cur {
			if err := settle(); err != nil {
				return d.n, err
			}
			cur = id
		}
		if ts <= h {
			pending = append(pending, append([]byte(nil), k...))
			lv := it.LazyValue() // the length alone tells a deletion; no need to fetch the value
			tomb = lv.Len() == 0
		}
	}
	if err := it.Error(); err != nil {
		return d.n, d.finish(err) // pending deletions were decided on a failed scan
	}
	if err := settle(); err != nil {
		return d.n, err
	}
	return d.n, d.finish(nil)
}

// dropHistory deletes the history entries that ended at or before h.
func (s *Store) dropHistory(ctx context.Context, snap *pebble.Snapshot, h int64) (int, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagHistory}, UpperBound: []byte{tagHistory + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	d := &deleter{db: s.db}
	defer d.finish(errCompactAborted)
	for valid := it.First(); valid; valid = it.Next() {
		if err := ctx.Err(); err != nil {
			return d.n, err
		}
		k := it.Key()
		if len(k) < 26 {
			return d.n, errCorrupt
		}
		if to := int64(u64(k[len(k)-24:])); to <= h {
			if err := d.delete(k); err != nil {
				return d.n, err
			}
		}
	}
	return d.n, d.finish(it.Error())
}

// dropLog deletes the change-log entries at or before h.
func (s *Store) dropLog(snap *pebble.Snapshot, h int64) (int, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: logKey(0), UpperBound: logKey(h + 1)})
	if err != nil {
		return 0, err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	return n, s.db.DeleteRange(logKey(0), logKey(h+1), pebble.NoSync)
}
