package tracepebble

import (
	"testing"
	"time"
)

// Settle waits until the store's background work after an open is done:
// compactions, and the table statistics Pebble reads from every table
// once opened (a benchmark of cold reads times searches, not those).
func Settle(s *Store) {
	for {
		m := s.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Compact.EstimatedDebt == 0 &&
			m.Table.InitialStatsCollectionComplete && m.Table.PendingStatsCollectionCount == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PrefetchAlways makes every search prefetch until the test ends.
func PrefetchAlways(t testing.TB) {
	prefetchAlways.Store(true)
	t.Cleanup(func() { prefetchAlways.Store(false) })
}
