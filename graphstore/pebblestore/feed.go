package pebblestore

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// Subscribe implements graphstore.Store. The feed reads the change log, so a
// subscriber that falls behind loses nothing and a new one can start from
// any time within retention.
func (s *Store) Subscribe(from time.Time) (graphstore.Feed, error) {
	return graphstore.NewFeed(feedLog{s}, from)
}

// feedLog gives graphstore's feed the change log table.
type feedLog struct{ s *Store }

func (l feedLog) NextCommit(after int64) (*graphstore.CommitEvent, error) {
	return l.s.nextCommit(after)
}

func (l feedLog) FeedState() (<-chan struct{}, bool, int64) {
	l.s.mu.RLock()
	defer l.s.mu.RUnlock()
	return l.s.notify, l.s.closed, l.s.horizon
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
