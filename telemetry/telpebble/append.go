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

// AppendMetrics writes samples: new series are committed to Pebble, then
// the samples are written to the sample log as one record (synced unless
// NoSync) before they join the head, so a reader sees an append whole or
// not at all, and a crash keeps it whole or loses it whole. Windows that
// the latest sample time has left behind (by more than SealGrace) are
// then sealed.
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
	if err := s.log.checkSize(batch); err != nil {
		return err
	}
	metas, err := s.resolve(batch)
	if err != nil {
		return err
	}
	if err := s.logAppend(batch, metas); err != nil {
		return err
	}
	s.hmu.Lock()
	s.head.seq = s.logSeq
	for i := range batch {
		s.addToHead(metas[i], batch[i].Samples)
	}
	due := s.dueWindows()
	s.hmu.Unlock()
	return s.sealLocked(due)
}

// appendScratch is memory AppendMetrics reuses from one call to the next
// (REQUIRES: Store.wmu): the series of the batch and a key buffer.
type appendScratch struct {
	metas []*seriesMeta
	// prev is the series of the previous append by position: agents send
	// the same series in the same order each time, and comparing an
	// entry's name and tags with its predecessor's costs less than
	// building its key and looking it up. Forgotten when retention drops
	// series.
	prev []*seriesMeta
	key  []byte
	enc  tsz.Encoder // seal, compaction
}

// logAppend writes the batch to the sample log as one record. The first
// record marks the directory with the format that has the log.
// REQUIRES: wmu.
func (s *Store) logAppend(batch []telemetry.SeriesSamples, metas []*seriesMeta) error {
	if s.schema < schemaVersion {
		if err := s.markSchema(schemaVersion); err != nil {
			return fmt.Errorf("telpebble: append: %w", err)
		}
	}
	seq := s.logSeq + 1
	s.log.begin(seq)
	s.log.encode(batch, metas)
	if err := s.log.write(seq); err != nil {
		return err
	}
	s.logSeq = seq
	return nil
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
// committed to Pebble and join the index. The returned slice is reused by
// the next call. REQUIRES: wmu.
func (s *Store) resolve(batch []telemetry.SeriesSamples) ([]*seriesMeta, error) {
	sc := &s.scratch
	sc.metas = slices.Grow(sc.metas[:0], len(batch))
	var b *pebble.Batch
	var fresh []*seriesMeta
	var pending map[string]*seriesMeta
	for i := range batch {
		ser := &batch[i].Series
		if i < len(sc.prev) && sc.prev[i].is(ser) {
			sc.metas = append(sc.metas, sc.prev[i])
			continue
		}
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
			if b == nil {
				b = s.db.NewBatch()
				defer b.Close()
				pending = map[string]*seriesMeta{}
			}
			m = s.newSeries(b, ser)
			fresh = append(fresh, m)
			pending[m.key] = m
		}
		sc.metas = append(sc.metas, m)
	}
	if b != nil {
		setMeta(b, "next_series", s.nextID)
		if err := b.Commit(s.writeOpts()); err != nil {
			return nil, fmt.Errorf("telpebble: append: %w", err)
		}
		s.hmu.Lock()
		for _, m := range fresh {
			s.idx.add(m)
		}
		s.hmu.Unlock()
	}
	// Only series that are stored: a failed commit's are not.
	sc.prev = append(sc.prev[:0], sc.metas...)
	return sc.metas, nil
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
	// without hmu is safe. The batch is sized for the chunks (a random walk
	// takes 6.5 bytes a sample, a chunk's keys and header about a hundred)
	// rather than grown by copying.
	b := s.db.NewBatchWithSize(8*hw.samples + 128*len(hw.chunks))
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
	if s.oldWAL {
		b.DeleteRange(walKey(w, 0), walKey(w+1, 0), nil)
	}
	// Replay skips the window's samples logged so far: they are in chunks.
	b.Set(sealedKey(w), binary.BigEndian.AppendUint64(nil, s.logSeq), nil)
	setMeta(b, "chunk_seq", s.chunkSeq)
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("telpebble: seal: %w", err)
	}
	s.hmu.Lock()
	s.head.drop(w, s.readers.Load() == 0)
	for _, m := range bumped {
		m.lastWindow = w
	}
	needed := s.head.oldestSeq(s.logSeq + 1)
	s.hmu.Unlock()
	return s.log.removeBefore(needed)
}
