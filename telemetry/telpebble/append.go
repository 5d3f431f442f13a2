package telpebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// AppendMetrics writes samples: new series and one log record per window
// touched go into one Pebble batch, committed before the samples join the
// head, so a reader sees an append whole or not at all. Windows that the
// latest sample time has left behind (by more than SealGrace) are then
// sealed.
func (s *Store) AppendMetrics(ctx context.Context, batch []telemetry.SeriesSamples) error {
	for i := range batch {
		if err := telemetry.CheckSeries(&batch[i]); err != nil {
			return fmt.Errorf("telpebble: series %d (%s): %w", i, batch[i].Series.Name, err)
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
	b := s.db.NewBatch()
	defer b.Close()
	metas, fresh := s.resolve(b, batch)
	s.logSamples(b, batch, metas)
	if len(fresh) > 0 {
		setMeta(b, "next_series", s.nextID)
	}
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("telpebble: append: %w", err)
	}
	s.hmu.Lock()
	for _, m := range fresh {
		s.idx.add(m)
	}
	for i := range batch {
		s.addToHead(metas[i], batch[i].Samples)
	}
	due := s.dueWindows()
	s.hmu.Unlock()
	return s.sealLocked(due)
}

// appendScratch is memory AppendMetrics reuses from one call to the next
// (REQUIRES: Store.wmu): the series of the batch, the log records being
// built and a key buffer.
type appendScratch struct {
	metas   []*seriesMeta
	recs    map[int64]*walRecord
	windows []int64
	key     []byte
	enc     tsz.Encoder // seal, compaction
}

// logSamples writes one log record per window the batch touches to b, in
// window order (so sequence numbers follow windows). REQUIRES: wmu.
func (s *Store) logSamples(b *pebble.Batch, batch []telemetry.SeriesSamples, metas []*seriesMeta) {
	sc := &s.scratch
	if sc.recs == nil {
		sc.recs = map[int64]*walRecord{}
	}
	for _, r := range sc.recs {
		r.reset()
	}
	var last *walRecord
	lastW := int64(-1 << 62)
	for i := range batch {
		for _, x := range batch[i].Samples {
			if w := windowOf(x.T); w != lastW {
				if last = sc.recs[w]; last == nil {
					last = &walRecord{}
					sc.recs[w] = last
				}
				lastW = w
			}
			last.add(metas[i].id, x)
		}
	}
	sc.windows = sc.windows[:0]
	for w, r := range sc.recs {
		if r.n == 0 {
			delete(sc.recs, w) // a window of an earlier batch: no memory kept for it
			continue
		}
		sc.windows = append(sc.windows, w)
	}
	slices.Sort(sc.windows)
	for _, w := range sc.windows {
		s.walSeq++
		b.Set(walKey(w, s.walSeq), sc.recs[w].bytes(), nil) // Set copies
	}
}

// addToHead adds one series' samples, split by window.
// REQUIRES: wmu, and hmu held for writing.
func (s *Store) addToHead(m *seriesMeta, samples []telemetry.Sample) {
	for i := 0; i < len(samples); {
		w := windowOf(samples[i].T)
		j := i + 1
		for j < len(samples) && windowOf(samples[j].T) == w {
			j++
		}
		s.head.addTo(m, w, samples[i:j])
		i = j
	}
}

// dueWindows returns the windows to seal now. REQUIRES: hmu held.
func (s *Store) dueWindows() []int64 {
	if s.head.samples > s.o.MaxHeadSamples {
		return s.head.all()
	}
	return s.head.sealable(s.o.SealGrace.Milliseconds())
}

// resolve finds or allocates each entry's series; new series are
// written to b and returned, to join the index after the commit. The
// returned slice is reused by the next call. REQUIRES: wmu.
func (s *Store) resolve(b *pebble.Batch, batch []telemetry.SeriesSamples) ([]*seriesMeta, []*seriesMeta) {
	sc := &s.scratch
	sc.metas = slices.Grow(sc.metas[:0], len(batch))
	var fresh []*seriesMeta
	var pending map[string]*seriesMeta
	for i := range batch {
		ser := &batch[i].Series
		if !ser.Tags.IsCanonical() {
			// The key of the canonical tags, as the series is stored.
			ser = &telemetry.Series{Name: ser.Name, Tags: telemetry.NewTags(slices.Clone(ser.Tags)), Identifiers: ser.Identifiers}
		}
		sc.key = ser.AppendKey(sc.key[:0])
		// The index only changes under wmu, which this writer holds; the
		// lookups convert the key without allocating.
		m := s.idx.byKey[string(sc.key)]
		if m == nil {
			m = pending[string(sc.key)]
		}
		if m == nil {
			m = s.newSeries(b, ser)
			fresh = append(fresh, m)
			if pending == nil {
				pending = map[string]*seriesMeta{}
			}
			pending[m.key] = m
		}
		sc.metas = append(sc.metas, m)
	}
	return sc.metas, fresh
}

// newSeries allocates a series and writes it to b. REQUIRES: wmu.
func (s *Store) newSeries(b *pebble.Batch, ser *telemetry.Series) *seriesMeta {
	cp := telemetry.Series{Name: ser.Name, Tags: telemetry.NewTags(slices.Clone(ser.Tags))}
	cp.Identifiers = telemetry.Identifiers(cp.Tags, ser.Identifiers)
	m := &seriesMeta{id: s.nextID, key: cp.Key(), series: cp, lastWindow: windowOf(0) - 1}
	s.nextID++
	b.Set(seriesKey(m.id), encodeSeries(&cp), nil)
	return m
}

// sealLocked encodes the head chunks of the given windows into chunks,
// drops their log records and removes them from the head.
// REQUIRES: wmu.
func (s *Store) sealLocked(windows []int64) error {
	for _, w := range windows {
		if err := s.seal(w); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) seal(w int64) error {
	s.hmu.RLock()
	hw := s.head.windows[w]
	s.hmu.RUnlock()
	if hw == nil {
		return nil
	}
	// The chunks only grow under wmu, which the caller holds: reading them
	// without hmu is safe.
	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	var bumped []*seriesMeta
	dirty := false
	for _, id := range slices.Sorted(maps.Keys(hw.chunks)) { // sequence numbers in id order
		samples := hw.chunks[id].sealed()
		if len(samples) == 0 {
			continue
		}
		var err error
		if buf, err = s.scratch.enc.Encode(buf[:0], samples, 0); err != nil {
			return fmt.Errorf("telpebble: seal: %w", err)
		}
		s.chunkSeq++
		b.Set(chunkKey(w, id, s.chunkSeq), buf, nil)
		m := s.idx.byID[id]
		if m != nil && m.headWin == hw {
			// Forget the chunk, keep its size for the next (forgetting
			// spares the memory of a series that stops reporting).
			m.headHint, m.headWin, m.headChunk = len(samples), nil, nil
		}
		switch {
		case m == nil:
		case w > m.lastWindow:
			b.Set(lastWindowKey(id), binary.BigEndian.AppendUint64(nil, uint64(w)), nil)
			bumped = append(bumped, m)
		default:
			// The series may have a chunk in w already: compaction merges.
			dirty = true
		}
	}
	if dirty {
		b.Set(windowStart(tagDirty, w), nil, nil)
	}
	b.DeleteRange(walKey(w, 0), walKey(w+1, 0), nil)
	setMeta(b, "chunk_seq", s.chunkSeq)
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("telpebble: seal: %w", err)
	}
	s.hmu.Lock()
	s.head.drop(w)
	for _, m := range bumped {
		m.lastWindow = w
	}
	s.hmu.Unlock()
	return nil
}
