package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// defaultDataDir is where the commands keep data unless --data says
// otherwise.
const defaultDataDir = "tetra-data"

// storeMode says how a command opens the store.
type storeMode int

const (
	readOnly  storeMode = iota // an existing store, shared with other readers (tetra query)
	readWrite                  // created if needed, exclusive (tetra load, tetra serve)
)

// openStore opens the topology store in dir. A read-only open of a
// directory that holds no store is an error that says how to make one,
// instead of an empty store that answers every query with nothing.
func openStore(dir string, mode storeMode, now func() time.Time) (*pebblestore.Store, error) {
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: now, ReadOnly: mode == readOnly})
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, pebblestore.ErrNotExist):
		return nil, fmt.Errorf("no data in %s: load some first (tetra load --data %s FILE…), or point --data at a data directory", dir, dir)
	case errors.Is(err, pebblestore.ErrInUse) && mode == readOnly:
		return nil, fmt.Errorf("the data directory %s is in use by a tetra process that writes to it (tetra serve or tetra load); "+
			"query a running server with --server URL (tetra serve prints its address), or wait for the load to finish", dir)
	case errors.Is(err, pebblestore.ErrInUse):
		return nil, fmt.Errorf("the data directory %s is in use by another tetra process (a running tetra serve, load or query)", dir)
	case errors.Is(err, graphstore.ErrCorrupt):
		return nil, fmt.Errorf("the data directory %s holds damaged data: %w; restore it from a backup", dir, err)
	}
	return nil, err
}

// newStoreDir notes whether dir holds no store yet, so that a command
// that fails before writing anything can remove what opening it created
// (cleanup), instead of leaving an empty store behind.
type newStoreDir struct {
	dir     string
	existed bool            // the directory existed before
	before  map[string]bool // its entries then
	isNew   bool
}

func noteStoreDir(dir string) *newStoreDir {
	n := &newStoreDir{dir: dir}
	if ok, err := pebblestore.Exists(dir); err != nil || ok {
		return n
	}
	n.isNew = true
	ents, err := os.ReadDir(dir)
	if err == nil {
		n.existed, n.before = true, map[string]bool{}
		for _, e := range ents {
			n.before[e.Name()] = true
		}
	}
	return n
}

// cleanup removes the store opening created in a directory that held
// none, leaving anything that was there before. The store must be closed.
func (n *newStoreDir) cleanup() error {
	if !n.isNew {
		return nil
	}
	if !n.existed {
		return os.RemoveAll(n.dir)
	}
	ents, err := os.ReadDir(n.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !n.before[e.Name()] {
			if err := os.RemoveAll(n.dir + string(os.PathSeparator) + e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// compactIfDue drops history older than the retention period once the
// store's horizon lags behind it by more than an hour, so one-shot commands
// keep a data directory bounded without rescanning it on every run (a
// server does the same on a timer).
func compactIfDue(ctx context.Context, st *pebblestore.Store, now time.Time) (*graphstore.CompactStats, error) {
	target := now.Add(-st.Retention())
	if last := st.LastCommit(); last.Before(target) {
		target = last
	}
	if target.Sub(st.Horizon()) < time.Hour {
		return nil, nil
	}
	return st.Compact(ctx, now)
}

// heldSince is the oldest time the store has data for: the retention
// horizon when the graph then held something (older history was dropped),
// else the first commit after it (the data began later than the horizon,
// which compaction moves to now minus the retention period regardless).
// Zero for an empty store.
func heldSince(st *pebblestore.Store) time.Time {
	h := st.Horizon()
	if h.UnixNano() > 0 && graphHolds(st, h) {
		return h
	}
	return firstCommit(st)
}

// graphHolds reports whether any component existed at t.
func graphHolds(st *pebblestore.Store, t time.Time) bool {
	snap, err := st.Snapshot(t)
	if err != nil {
		return false
	}
	defer snap.Close()
	ids, err := snap.Postings(graphstore.IdxKind, graphstore.TermComponent)
	return err == nil && len(ids) > 0
}

// firstCommit returns the time of the oldest commit in the change log, or
// zero.
func firstCommit(st *pebblestore.Store) time.Time {
	feed, err := st.Subscribe(time.Time{})
	if err != nil {
		return time.Time{}
	}
	defer feed.Close()
	// A cancelled context makes Next return at once when no commit is
	// there, instead of waiting for one.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev, err := feed.Next(ctx)
	if err != nil || ev == nil {
		return time.Time{}
	}
	return ev.Time
}

// withOldest names when the data begins in an error about a time before
// the retention horizon (see api.Server's, which does the same for a
// server's answers).
func withOldest(err error, st *pebblestore.Store) error {
	var bre *graphstore.BeforeRetentionError
	if !errors.As(err, &bre) || !bre.Oldest.IsZero() {
		return err
	}
	c := *bre
	c.Oldest = heldSince(st)
	return &c
}
