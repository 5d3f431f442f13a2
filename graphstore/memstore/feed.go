package memstore

import (
	"context"
	"sort"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Subscribe implements graphstore.Store.
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
		return nil, &graphstore.BeforeRetentionError{At: from, Horizon: time.Unix(0, s.horizon)}
	}
	return &feed{s: s, cursor: cursor, closed: make(chan struct{})}, nil
}

type feed struct {
	s      *Store
	cursor int64
	closed chan struct{}
}

// Next implements graphstore.Feed.
func (f *feed) Next(ctx context.Context) (*graphstore.CommitEvent, error) {
	for {
		f.s.mu.RLock()
		log, wait, closed := f.s.log, f.s.notify, f.s.closed
		f.s.mu.RUnlock()
		if closed {
			return nil, graphstore.ErrClosed
		}
		i := sort.Search(len(log), func(i int) bool { return log[i].ts > f.cursor })
		if i < len(log) {
			f.cursor = log[i].ts
			return &graphstore.CommitEvent{Time: time.Unix(0, log[i].ts), Changes: log[i].changes}, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.closed:
			return nil, graphstore.ErrClosed
		}
	}
}

// Close implements graphstore.Feed.
func (f *feed) Close() error {
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
	return nil
}
