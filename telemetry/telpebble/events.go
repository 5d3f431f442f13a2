package telpebble

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
)

// AppendEvents writes events with their index terms in one batch. An event
// with the id and time of a stored one replaces it (its old terms are
// deleted first, so a replaced event is not found by what it said before).
func (s *Store) AppendEvents(ctx context.Context, batch []telemetry.Event) error {
	for i := range batch {
		if err := telemetry.CheckEvent(&batch[i]); err != nil {
			return fmt.Errorf("telpebble: event %d: %w", i, err)
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
	b := s.db.NewIndexedBatch()
	defer b.Close()
	for i := range batch {
		e := canonicalEvent(&batch[i])
		key := eventKey(e.Time, e.ID)
		if old, closer, err := b.Get(key); err == nil {
			prev, derr := decodeEvent(old)
			closer.Close()
			if derr != nil {
				return fmt.Errorf("telpebble: event record %x: %w", key, derr)
			}
			for _, t := range eventTerms(&prev) {
				b.Delete(eventTermKey(dayOf(prev.Time), t, prev.Time, prev.ID), nil)
			}
		} else if err != pebble.ErrNotFound {
			return err
		}
		b.Set(key, encodeEvent(&e), nil)
		for _, t := range eventTerms(&e) {
			b.Set(eventTermKey(dayOf(e.Time), t, e.Time, e.ID), nil, nil)
		}
	}
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("telpebble: append events: %w", err)
	}
	return nil
}

// canonicalEvent returns the event as stored: tags sorted, category
// spelled canonically, identifiers derived.
func canonicalEvent(e *telemetry.Event) telemetry.Event {
	c := *e
	c.Tags = telemetry.NewTags(append(telemetry.Tags(nil), e.Tags...))
	c.Category = telemetry.CanonicalCategory(e.Category)
	c.Identifiers = telemetry.Identifiers(c.Tags, e.Identifiers)
	return c
}

// eventTerms are the index terms of an event.
func eventTerms(e *telemetry.Event) []string {
	terms := []string{fieldTerm("name", e.Name), fieldTerm("category", e.Category),
		fieldTerm("type", e.Type), fieldTerm("source", e.Source)}
	for _, t := range e.Tags {
		terms = append(terms, tagTerm(t.Key, t.Value))
	}
	for _, id := range e.Identifiers {
		terms = append(terms, identTerm(id))
	}
	slices.Sort(terms)
	return slices.Compact(terms)
}

// EventFields gives an event's fields to telemetry.Eval: the known fields
// by name, any other name a tag key.
func EventFields(e *telemetry.Event) telemetry.Fields {
	return func(f string) []string {
		switch f {
		case "name":
			return []string{e.Name}
		case "category":
			return []string{e.Category}
		case "type":
			return []string{e.Type}
		case "source":
			return []string{e.Source}
		case "message":
			return []string{e.Message}
		}
		return e.Tags.Get(f)
	}
}

// termOf maps a filter field and value to an index term.
func termOf(field, value string) string {
	switch field {
	case "name", "category", "type", "source":
		return fieldTerm(field, value)
	case "message":
		return "" // not indexed
	}
	return tagTerm(field, value)
}

// drivingTerms chooses the index terms to read: the identifiers of a FOR
// clause, else the first equality on an indexed field (categories last:
// they are coarse). nil means a scan by time.
func drivingTerms(q *telemetry.EventQuery) ([]string, string) {
	if q.Identifiers != nil {
		out := make([]string, len(q.Identifiers))
		for i, id := range q.Identifiers {
			out[i] = identTerm(id)
		}
		return out, fmt.Sprintf("identifiers (%d)", len(q.Identifiers))
	}
	ms := telemetry.Terms(q.Filter)
	slices.SortStableFunc(ms, func(a, b *telemetry.Match) int {
		return cmp.Compare(boolInt(a.Field == "category"), boolInt(b.Field == "category"))
	})
	for _, m := range ms {
		if m.Field == "message" {
			continue
		}
		out := make([]string, len(m.Values))
		for i, v := range m.Values {
			if m.Field == "category" {
				v = telemetry.CanonicalCategory(v)
			}
			out[i] = termOf(m.Field, v)
		}
		return out, telemetry.String(m)
	}
	return nil, ""
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SelectEvents returns events newest first.
func (s *Store) SelectEvents(ctx context.Context, q telemetry.EventQuery) (telemetry.EventIterator, error) {
	if q.End < q.Start {
		return nil, fmt.Errorf("telpebble: %w: the range ends before it starts", telemetry.ErrInvalid)
	}
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagEvent}, UpperBound: []byte{tagEventTerm + 1}})
	if err != nil {
		snap.Close()
		s.reads.Done()
		return nil, err
	}
	ei := &eventIter{ctx: ctx, snap: snap, it: it, reads: &s.reads, q: q, day: dayOf(q.End)}
	ei.terms, _ = drivingTerms(&q)
	if q.Identifiers != nil {
		ei.allowed = map[string]bool{}
		for _, id := range q.Identifiers {
			ei.allowed[id] = true
		}
	}
	return ei, nil
}

type eventRef struct {
	t  int64
	id string
}

// eventIter walks events newest first: by the primary table backwards, or
// day by day through the postings of its driving terms.
type eventIter struct {
	ctx     context.Context
	snap    *pebble.Snapshot
	it      *pebble.Iterator
	reads   *sync.WaitGroup // the store's, done by Close
	q       telemetry.EventQuery
	terms   []string
	allowed map[string]bool
	day     int64
	pending []eventRef
	started bool
	n       int
	cur     telemetry.Event
	err     error
	done    bool
}

func (ei *eventIter) Next() bool {
	for !ei.done {
		if ei.q.Limit > 0 && ei.n >= ei.q.Limit {
			break
		}
		if err := ei.ctx.Err(); err != nil {
			ei.err = err
			break
		}
		var v []byte
		var ok bool
		if ei.terms == nil {
			v, ok = ei.scanNext()
		} else {
			v, ok = ei.termNext()
		}
		if !ok {
			break
		}
		e, err := decodeEvent(v)
		if err != nil {
			ei.err = fmt.Errorf("telpebble: event record: %w", err)
			break
		}
		if ei.accept(&e) {
			ei.cur = e
			ei.n++
			return true
		}
	}
	ei.done = true
	return false
}

func (ei *eventIter) accept(e *telemetry.Event) bool {
	if e.Time < ei.q.Start || e.Time > ei.q.End {
		return false
	}
	if ei.allowed != nil && !slices.ContainsFunc(e.Identifiers, func(s string) bool { return ei.allowed[s] }) {
		return false
	}
	return telemetry.Eval(ei.q.Filter, EventFields(e))
}

// scanNext steps the primary table backwards.
func (ei *eventIter) scanNext() ([]byte, bool) {
	var ok bool
	if !ei.started {
		ei.started = true
		ok = ei.it.SeekLT(kv.AppendTime([]byte{tagEvent}, ei.q.End+1))
	} else {
		ok = ei.it.Prev()
	}
	if !ok || ei.it.Key()[0] != tagEvent || kv.Time(ei.it.Key()[1:9]) < ei.q.Start {
		ei.err = ei.it.Error()
		return nil, false
	}
	v, err := ei.it.ValueAndErr()
	if err != nil {
		ei.err = err
		return nil, false
	}
	return v, true
}

// termNext returns the next event of the driving terms' postings.
func (ei *eventIter) termNext() ([]byte, bool) {
	for len(ei.pending) == 0 {
		if ei.day < dayOf(ei.q.Start) {
			return nil, false
		}
		if err := ei.loadDay(); err != nil {
			ei.err = err
			return nil, false
		}
		ei.day--
	}
	ref := ei.pending[0]
	ei.pending = ei.pending[1:]
	key := eventKey(ref.t, ref.id)
	if !ei.it.SeekGE(key) || !bytes.Equal(ei.it.Key(), key) {
		ei.err = cmp.Or(ei.it.Error(), fmt.Errorf("telpebble: event %s at %d is indexed but not stored", ref.id, ref.t))
		return nil, false
	}
	v, err := ei.it.ValueAndErr()
	if err != nil {
		ei.err = err
		return nil, false
	}
	return v, true
}

// loadDay reads the postings of the driving terms in the current day and
// range, newest first.
func (ei *eventIter) loadDay() error {
	var refs []eventRef
	for _, term := range ei.terms {
		prefix := eventTermPrefix(ei.day, term)
		lo := kv.AppendTime(bytes.Clone(prefix), ei.q.Start)
		hi := kv.AppendTime(bytes.Clone(prefix), ei.q.End+1)
		for ok := ei.it.SeekGE(lo); ok && bytes.Compare(ei.it.Key(), hi) < 0; ok = ei.it.Next() {
			rest := ei.it.Key()[len(prefix):]
			id, _, err := kv.Escaped(rest[8:])
			if err != nil {
				return fmt.Errorf("telpebble: event term key %x: %w", ei.it.Key(), err)
			}
			refs = append(refs, eventRef{t: kv.Time(rest[:8]), id: id})
		}
		if err := ei.it.Error(); err != nil {
			return err
		}
	}
	slices.SortFunc(refs, func(a, b eventRef) int { return cmp.Or(cmp.Compare(b.t, a.t), strings.Compare(b.id, a.id)) })
	ei.pending = slices.Compact(refs)
	return nil
}

func (ei *eventIter) At() *telemetry.Event { return &ei.cur }
func (ei *eventIter) Err() error           { return ei.err }
func (ei *eventIter) Close() error {
	ei.done = true
	if ei.it == nil {
		return nil
	}
	err := cmp.Or(ei.it.Close(), ei.snap.Close())
	ei.it = nil
	ei.reads.Done()
	return err
}

// snapshot opens a snapshot for a read that Close waits for: the read
// calls s.reads.Done once the snapshot is closed.
func (s *Store) snapshot() (*pebble.Snapshot, error) {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	if s.closed {
		return nil, telemetry.ErrClosed
	}
	s.reads.Add(1)
	return s.db.NewSnapshot(), nil
}

// ExplainEvents says which index is read.
func (s *Store) ExplainEvents(q telemetry.EventQuery) string {
	terms, how := drivingTerms(&q)
	var b strings.Builder
	if terms == nil {
		b.WriteString("pebble events: scan by time, newest first\n")
	} else {
		fmt.Fprintf(&b, "pebble event index: %s, day by day, newest first\n", how)
	}
	if q.Filter != nil {
		fmt.Fprintf(&b, "filter events: %s\n", telemetry.String(q.Filter))
	}
	if q.Limit > 0 {
		fmt.Fprintf(&b, "stop after %d events\n", q.Limit)
	}
	return b.String()
}

// ---- the event record ----

func encodeEvent(e *telemetry.Event) []byte {
	b := []byte{1}
	for _, s := range []string{e.ID, e.Name, e.Category, e.Type, e.Source, e.Message} {
		b = kv.AppendString(b, s)
	}
	b = kv.AppendTime(b, e.Time)
	b = appendTags(b, e.Tags)
	b = kv.AppendStrings(b, e.Identifiers)
	b = kv.AppendBytes(b, e.Data)
	b = kv.AppendUvarint(b, uint64(len(e.Links)))
	for _, l := range e.Links {
		b = kv.AppendString(b, l.Title)
		b = kv.AppendString(b, l.URL)
	}
	return b
}

func decodeEvent(v []byte) (telemetry.Event, error) {
	r := kv.NewReader(v)
	if r.Byte() != 1 {
		return telemetry.Event{}, kv.ErrCorrupt
	}
	e := telemetry.Event{ID: r.String(), Name: r.String(), Category: r.String(), Type: r.String(), Source: r.String(), Message: r.String()}
	e.Time = r.Time()
	e.Tags = readTags(r)
	e.Identifiers = r.Strings()
	if d := r.Bytes(); len(d) > 0 {
		e.Data = bytes.Clone(d)
	}
	n := r.Uvarint()
	if n > uint64(len(v)) {
		return e, kv.ErrCorrupt
	}
	for range n {
		e.Links = append(e.Links, telemetry.Link{Title: r.String(), URL: r.String()})
	}
	return e, r.Done()
}
