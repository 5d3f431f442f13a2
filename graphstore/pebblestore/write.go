package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// Apply implements graphstore.Store: plan the batch against the latest
// commit, write versions, posting changes, external-id mappings, the change
// log entry and the counters in one Pebble batch, commit it with sync, then
// update the caches and wake the feeds.
func (s *Store) Apply(ctx context.Context, b *graphstore.Batch) (*graphstore.Commit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	last, next, closed := s.last, s.nextID, s.closed
	s.mu.RUnlock()
	if closed {
		return nil, graphstore.ErrClosed
	}
	now := s.opts.Now()
	if !b.Time.IsZero() && b.Time.After(now.Add(s.opts.MaxFutureSkew)) {
		return nil, fmt.Errorf("graphstore: batch time %s is more than %s in the future",
			b.Time.UTC().Format(time.RFC3339Nano), s.opts.MaxFutureSkew)
	}
	ts, err := graphstore.StampTime(b.Time, now, last)
	if err != nil {
		return nil, err
	}
	plan, err := graphstore.PlanBatch(writeState{s}, b, ts, next)
	if err != nil {
		return nil, err
	}
	deltas, err := s.commit(plan)
	if err != nil {
		return nil, err
	}
	s.publish(plan, deltas)
	c := &graphstore.Commit{Time: time.Unix(0, ts)}
	c.Count(graphstore.ChangesOf(plan.Writes))
	return c, nil
}

// commit writes a plan in one synced Pebble batch and returns the change of
// every term's posting count.
func (s *Store) commit(plan *graphstore.Plan) (map[countKey]int, error) {
	batch := s.db.NewBatch()
	defer batch.Close()
	deltas := map[countKey]int{}
	for i := range plan.Writes {
		w := &plan.Writes[i]
		if err := batch.Set(versionKey(w.ID, plan.Time), encodeElement(w.After), nil); err != nil {
			return nil, err
		}
		if err := s.writePostings(batch, w, plan.Time, deltas); err != nil {
			return nil, err
		}
	}
	for _, m := range plan.Mappings {
		if err := batch.Set(externalKey(m.Kind, m.Source, m.ExternalID), appendU64(nil, uint64(m.ID)), nil); err != nil {
			return nil, err
		}
	}
	sets := []struct{ k, v []byte }{
		{logKey(plan.Time), encodeLog(plan.Writes)},
		{metaLast, appendU64(nil, uint64(plan.Time))},
		{metaNextID, appendU64(nil, uint64(plan.NextID))},
	}
	for _, kv := range sets {
		if err := batch.Set(kv.k, kv.v, nil); err != nil {
			return nil, err
		}
	}
	wo := pebble.Sync
	if s.opts.NoSync {
		wo = pebble.NoSync
	}
	if err := batch.Commit(wo); err != nil {
		return nil, fmt.Errorf("pebblestore: commit: %w", err)
	}
	return deltas, nil
}

type postingID struct {
	ix   graphstore.Index
	term string
	aux  graphstore.ID
}

// writePostings closes the postings the old version had and the new one has
// not (moving them to the history table with their validity interval) and
// opens the ones the new version adds.
func (s *Store) writePostings(batch *pebble.Batch, w *graphstore.Write, ts int64, deltas map[countKey]int) error {
	before := graphstore.Postings(w.Before)
	after := graphstore.Postings(w.After)
	kept := make(map[postingID]bool, len(before))
	for _, p := range after {
		kept[postingID{p.Index, p.Term, p.Aux}] = true
	}
	had := make(map[postingID]bool, len(before))
	for _, p := range before {
		id := postingID{p.Index, p.Term, p.Aux}
		had[id] = true
		if kept[id] {
			continue
		}
		if err := s.closePosting(batch, p, w.ID, ts); err != nil {
			return err
		}
		deltas[countKey{p.Index, p.Term}]--
	}
	for _, p := range after {
		if had[postingID{p.Index, p.Term, p.Aux}] {
			continue
		}
		v := appendU64(make([]byte, 0, 16), uint64(ts))
		if p.Aux != 0 {
			v = appendU64(v, uint64(p.Aux))
		}
		if err := batch.Set(postingKey(p.Index, p.Term, w.ID), v, nil); err != nil {
			return err
		}
		deltas[countKey{p.Index, p.Term}]++
	}
	return nil
}

// closePosting ends a posting at ts: the current entry is deleted and a
// history entry [from, ts) takes its place.
func (s *Store) closePosting(batch *pebble.Batch, p graphstore.Posting, id graphstore.ID, ts int64) error {
	key := postingKey(p.Index, p.Term, id)
	v, closer, err := s.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("pebblestore: posting %s %q of element %d is missing: %w", p.Index, p.Term, id, errCorrupt)
		}
		return err
	}
	if len(v) < 8 {
		closer.Close()
		return fmt.Errorf("pebblestore: posting %s of element %d: %w", p.Index, id, errCorrupt)
	}
	from := int64(u64(v))
	closer.Close()
	var aux []byte
	if p.Aux != 0 {
		aux = appendU64(nil, uint64(p.Aux))
	}
	if err := batch.Delete(key, nil); err != nil {
		return err
	}
	return batch.Set(historyKey(p.Index, p.Term, ts, id, from), aux, nil)
}

// publish makes a commit visible: caches first, then the commit time that
// readers use as their visibility bound, then the feeds' wake-up.
func (s *Store) publish(plan *graphstore.Plan, deltas map[countKey]int) {
	for i := range plan.Writes {
		w := &plan.Writes[i]
		s.elems.appendVersion(w.ID, plan.Time, w.After)
	}
	for k, d := range deltas {
		if d != 0 {
			s.count.add(k, d)
		}
	}
	s.mu.Lock()
	s.last, s.nextID = plan.Time, plan.NextID
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// writeState is what PlanBatch sees: the latest commit, read under the
// writer lock.
type writeState struct{ s *Store }

func (st writeState) Current(id graphstore.ID) (*graphstore.Element, error) {
	ch, err := st.s.chainOf(id)
	if err != nil || ch == nil {
		return nil, err
	}
	return st.s.load(id, ch.last())
}

func (st writeState) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	return lookupExternal(st.s.db, kind, source, ext)
}

func (st writeState) Holders(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	it, err := st.s.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []graphstore.ID
	err = scanCurrent(it, ix, term, func(id graphstore.ID, _ int64, _ graphstore.ID) {
		out = append(out, id)
	})
	return out, err
}

// reader is what Pebble's DB and Snapshot have in common for point reads.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func lookupExternal(r reader, kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	v, closer, err := r.Get(externalKey(kind, source, ext))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return graphstore.ID(u64(v)), nil
}
