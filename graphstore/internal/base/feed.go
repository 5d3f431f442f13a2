package base

import (
	"context"
	"sync"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// FeedLog is what a store gives the shared feed: its change log and a way
// to wait for it to grow.
type FeedLog interface {
	// NextCommit returns the first commit after time after (ns), or nil
	// when there is none yet.
	NextCommit(after int64) (*graphstore.CommitEvent, error)
	// FeedState returns a channel closed at the next commit, whether the
	// store is closed, and its retention horizon (ns).
	FeedState() (wait <-chan struct{}, closed bool, horizon int64)
}

// NewFeed returns a feed over a store's log that delivers every commit
// after time from (the zero time: from the oldest history kept), then waits
// for new ones. It fails with a *graphstore.BeforeRetentionError when from, or a
// cursor that fell behind, is before the horizon: that history is gone.
func NewFeed(log FeedLog, from time.Time) (graphstore.Feed, error) {
	_, closed, horizon := log.FeedState()
	if closed {
		return nil, graphstore.ErrClosed
	}
	cursor := horizon
	if !from.IsZero() {
		cursor = from.UnixNano()
	}
	if cursor < horizon {
		return nil, &graphstore.BeforeRetentionError{At: time.Unix(0, cursor), Horizon: time.Unix(0, horizon)}
	}
	return &feed{log: log, cursor: cursor, done: make(chan struct{})}, nil
}

type feed struct {
	log    FeedLog
	cursor int64 // time of the last commit delivered
	done   chan struct{}
	once   sync.Once
}

// Next implements graphstore.Feed.
func (f *feed) Next(ctx context.Context) (*graphstore.CommitEvent, error) {
	for {
		wait, closed, horizon := f.log.FeedState()
		if closed {
			return nil, graphstore.ErrClosed
		}
		if f.cursor < horizon {
			return nil, &graphstore.BeforeRetentionError{At: time.Unix(0, f.cursor), Horizon: time.Unix(0, horizon)}
		}
		ev, err := f.log.NextCommit(f.cursor)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			f.cursor = ev.Time.UnixNano()
			return ev, nil
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

// Close implements graphstore.Feed; it may be called from another goroutine to stop a
// blocked Next.
func (f *feed) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}
