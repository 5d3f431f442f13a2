package pebblestore

import (
	"context"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// Subscribe implements graphstore.Store. The feed reads the change log, so a
// subscriber that falls behind loses nothing and a new one can start from
// any time within retention.
func (s *Store) Subscribe(from time.Time) (graphstore.Feed, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, graphstore.ErrClosed
	}
	var cursor int64
	if !from.IsZero() {
		cursor = from.UnixNano()
	}
	if cursor < s.horizon {
		return nil, &graphstore.BeforeRetentionError{At: time.Unix(0, cursor), Horizon: time.Unix(0, s.horizon)}
	}
	return &feed{s: s, cursor: cursor, done: make(chan struct{})}, nil
}

type feed struct {
	s      *Store
	cursor int64 // time of the last commit delivered
	done   chan struct{}
	once   sync.Once
}

// Next implements graphstore.Feed.
func (f *feed) Next(ctx context.Context) (*graphstore.CommitEvent, error) {
	for {
		f.s.mu.RLock()
		wait, closed, horizon := f.s.notify, f.s.closed, f.s.horizon
		f.s.mu.RUnlock()
		if closed {
			return nil, graphstore.ErrClosed
		}
		if f.cursor < horizon {
			return nil, &graphstore.BeforeRetentionError{At: time.Unix(0, f.cursor), Horizon: time.Unix(0, horizon)}
		}
		ev, err := f.s.nextCommit(f.cursor)
		if err != nil || ev != nil {
			if ev != nil {
				f.cursor = ev.Time.UnixNano()
			}
			return ev, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.done:
			return nil, graphstore.ErrClosed
		}
	}
}

// Close implements graphstore.Feed.
func (f *feed) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}

// nextCommit reads the first commit after ts from the change log, or nil
// when there is none yet.
func (s *Store) nextCommit(ts int64) (*graphstore.CommitEvent, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logKey(ts + 1), UpperBound: []byte{tagLog + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.First() {
		return nil, it.Error()
	}
	at := int64(u64(it.Key()[1:]))
	entries, err := decodeLog(it.Value())
	if err != nil {
		return nil, err
	}
	ev := &graphstore.CommitEvent{Time: time.Unix(0, at), Changes: make([]graphstore.Change, 0, len(entries))}
	s.mu.RLock()
	v := &view{r: s.db, seen: s.last}
	s.mu.RUnlock()
	defer v.close()
	for _, e := range entries {
		ch, err := s.change(v, e, at)
		if err != nil {
			return nil, err
		}
		ev.Changes = append(ev.Changes, ch)
	}
	return ev, nil
}

// change rebuilds one change of a commit at time at from element versions.
func (s *Store) change(v *view, e logEntry, at int64) (graphstore.Change, error) {
	ch := graphstore.Change{ID: e.id, Kind: e.kind, Op: e.op}
	c, err := s.chainOf(v, e.id)
	if err != nil {
		return ch, err
	}
	if e.before != 0 {
		if ch.Before, err = s.load(v, e.id, c.at(e.before)); err != nil {
			return ch, err
		}
	}
	if e.op != graphstore.Removed {
		ch.After, err = s.load(v, e.id, c.at(at))
	}
	return ch, err
}
