package memstore

import (
	"sort"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// Subscribe implements graphstore.Store.
func (s *Store) Subscribe(from time.Time) (graphstore.Feed, error) {
	return base.NewFeed(feedLog{s}, from)
}

// feedLog gives graphstore's feed the in-memory log.
type feedLog struct{ s *Store }

func (l feedLog) NextCommit(after int64) (*graphstore.CommitEvent, error) {
	l.s.mu.RLock()
	defer l.s.mu.RUnlock()
	log := l.s.log
	i := sort.Search(len(log), func(i int) bool { return log[i].ts > after })
	if i == len(log) {
		return nil, nil
	}
	return &graphstore.CommitEvent{Time: time.Unix(0, log[i].ts), Changes: log[i].changes}, nil
}

func (l feedLog) FeedState() (<-chan struct{}, bool, int64) {
	l.s.mu.RLock()
	defer l.s.mu.RUnlock()
	return l.s.notify, l.s.closed, l.s.horizon
}
