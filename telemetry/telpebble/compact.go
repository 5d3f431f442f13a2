package telpebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// Compact drops what is past retention, then merges the chunks of windows
// that were sealed more than once (late samples, out-of-order arrivals,
// head size limits) into one chunk per series.
//
// Retention works in whole partitions: chunk windows (2 h) that ended
// before now − MetricRetention, and event days that ended before now −
// EventRetention, go with one range deletion each. A series with no chunk
// left and nothing in the head is forgotten.
func (s *Store) Compact(ctx context.Context, now time.Time) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkWritable(); err != nil {
		return err
	}
	if err := s.expire(now); err != nil {
		return err
	}
	return s.mergeDirty(ctx)
}

func (s *Store) expire(now time.Time) error {
	hw := windowOf(now.Add(-s.o.MetricRetention).UnixMilli())
	hd := dayOf(now.Add(-s.o.EventRetention).UnixMilli())
	b := s.db.NewBatch()
	defer b.Close()
	b.DeleteRange([]byte{tagChunk}, windowStart(tagChunk, hw), nil)
	b.DeleteRange([]byte{tagWAL}, windowStart(tagWAL, hw), nil)
	b.DeleteRange([]byte{tagDirty}, windowStart(tagDirty, hw), nil)
	// The sample log may still hold samples of the windows dropped (its
	// files go whole): replay skips windows before the horizon, which
	// makes their sealed marks useless.
	if h, ok, err := s.getMeta("log_horizon"); err != nil {
		return err
	} else if !ok || int64(h) < hw {
		setMeta(b, "log_horizon", uint64(hw))
		b.DeleteRange([]byte{tagSealed}, windowStart(tagSealed, hw), nil)
	}
	b.DeleteRange([]byte{tagEvent}, kv.AppendTime([]byte{tagEvent}, hd*DayMs), nil)
	b.DeleteRange([]byte{tagEventTerm}, windowStart(tagEventTerm, hd), nil)
	s.hmu.RLock()
	inHead := map[uint64]bool{}
	for w, win := range s.head.windows {
		if w >= hw {
			for id := range win.chunks {
				inHead[id] = true
			}
		}
	}
	var gone []uint64
	for _, id := range s.idx.all {
		if m := s.idx.byID[id]; m.lastWindow < hw && !inHead[id] {
			gone = append(gone, id)
			b.Delete(seriesKey(id), nil)
			b.Delete(lastWindowKey(id), nil)
		}
	}
	s.hmu.RUnlock()
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("telpebble: expire: %w", err)
	}
	s.hmu.Lock()
	for _, w := range s.head.all() {
		if w < hw {
			s.head.drop(w, false)
		}
	}
	if len(gone) > 0 {
		s.idx = s.idx.without(gone)
		s.scratch.prev = nil // may hold series just forgotten
	}
	needed := s.head.oldestSeq(s.logSeq + 1)
	s.hmu.Unlock()
	return s.log.removeBefore(needed)
}

// without returns the index without the given series.
func (x *seriesIndex) without(gone []uint64) *seriesIndex {
	drop := make(map[uint64]bool, len(gone))
	for _, id := range gone {
		drop[id] = true
	}
	n := newSeriesIndex()
	for _, id := range x.all {
		if !drop[id] {
			n.add(x.byID[id])
		}
	}
	return n
}

// mergeDirty rewrites every series' chunks of each dirty window, outside
// the head, as one chunk.
func (s *Store) mergeDirty(ctx context.Context) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagDirty}, UpperBound: []byte{tagDirty + 1}})
	if err != nil {
		return err
	}
	var windows []int64
	for it.First(); it.Valid(); it.Next() {
		windows = append(windows, kv.Time(it.Key()[1:]))
	}
	if err := errorsJoin(it.Error(), it.Close()); err != nil {
		return err
	}
	for _, w := range windows {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.hmu.RLock()
		_, open := s.head.windows[w]
		s.hmu.RUnlock()
		if open {
			continue // more is coming: merge after its next seal
		}
		if err := s.mergeWindow(w); err != nil {
			return err
		}
	}
	return nil
}

// mergeWindow merges the chunks of one window, series by series, in one
// batch. REQUIRES: wmu.
func (s *Store) mergeWindow(w int64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: windowStart(tagChunk, w), UpperBound: windowStart(tagChunk, w+1)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	var keys [][]byte
	var runs [][]telemetry.Sample
	var prefix []byte
	flush := func() error {
		if len(keys) > 1 {
			merged := mergeRuns(runs)
			c, err := s.scratch.enc.Encode(nil, merged, 0)
			if err != nil {
				return err
			}
			for _, k := range keys {
				b.Delete(k, nil)
			}
			s.chunkSeq++
			b.Set(kv.AppendUint64(bytes.Clone(prefix), s.chunkSeq), c, nil)
		}
		keys, runs = keys[:0], runs[:0]
		return nil
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 25 {
			return fmt.Errorf("telpebble: chunk key %x: %w", k, tsz.ErrCorrupt)
		}
		if !bytes.Equal(k[:17], prefix) {
			if err := flush(); err != nil {
				return err
			}
			prefix = bytes.Clone(k[:17])
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		samples, err := tsz.Decode(nil, v)
		if err != nil {
			return fmt.Errorf("telpebble: chunk %x: %w", k, err)
		}
		keys = append(keys, bytes.Clone(k))
		runs = append(runs, samples)
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	b.Delete(windowStart(tagDirty, w), nil)
	b.Set(metaKey("chunk_seq"), binary.BigEndian.AppendUint64(nil, s.chunkSeq), nil)
	return b.Commit(s.writeOpts())
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
