package pebblestore

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// Subscribe implements graphstore.Store. The feed reads the change log, so a
// subscriber that falls behind loses nothing and a new one can start from
// any time within retention.
func (s *Store) Subscribe(from time.Time) (graphstore.Feed, error) {
	return base.NewFeed(feedLog{s}, from)
}

// feedLog gives graphstore's feed the change log table.
type feedLog struct{ s *Store }

func (l feedLog) NextCommit(after int64) (_ *graphstore.CommitEvent, err error) {
	defer markCorrupt(&err)
	return l.s.nextCommit(after)
}

func (l feedLog) FeedState() (<-chan struct{}, bool, int64) {
	l.s.mu.RLock()
	defer l.s.mu.RUnlock()
	return l.s.notify, l.s.closed, l.s.horizon
}

// nextCommit reads the first published commit after ts from the change
// log, or nil when there is none yet.
//
// It reads through a snapshot at ts: the Pebble snapshot and the last
// published commit are taken together, so a commit that is in Pebble but
// not yet published (its caches not updated, readers not yet shown it) is
// not delivered early; and the snapshot holds compaction at ts, so the
// versions the log entries point to stay while they are read.
func (s *Store) nextCommit(ts int64) (*graphstore.CommitEvent, error) {
	gs, err := s.Snapshot(time.Unix(0, ts))
	if err != nil {
		return nil, err
	}
	sn := gs.(*snapshot)
	defer sn.Close()
	v := &sn.view
	if ts >= v.seen {
		return nil, nil
	}
	it, err := v.reader().NewIter(&pebble.IterOptions{LowerBound: logKey(ts + 1), UpperBound: logKey(v.seen + 1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.First() {
		return nil, it.Error()
	}
	at := int64(u64(it.Key()[1:]))
	raw, err := it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	entries, err := decodeLog(raw)
	if err != nil {
		return nil, err
	}
	ev := &graphstore.CommitEvent{Time: time.Unix(0, at), Changes: make([]graphstore.Change, 0, len(entries))}
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
