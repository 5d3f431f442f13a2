package main

import (
	"context"
	"time"

	"errors"
	"flag"
	"fmt"
	"github.com/tetrahq/tetra/graphstore"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// defaultDataDir is where the commands keep data unless --data says
// otherwise.
const defaultDataDir = "tetra-data"

// dataFlag adds --data to a command's flags.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory")
}

// openStore opens the topology store in dir. With mustExist, a directory
// that holds no store is an error that says how to make one, instead of an
// empty store that answers every query with nothing.
func openStore(dir string, mustExist bool, now func() time.Time) (*pebblestore.Store, error) {
	if mustExist {
		if m, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*")); len(m) == 0 {
			return nil, fmt.Errorf("no data in %s: load some first (tetra load --data %s FILE…), or point --data at a data directory", dir, dir)
		}
	}
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: now})
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) ||
			strings.Contains(err.Error(), "lock held by current process") {
			return nil, fmt.Errorf("the data directory %s is in use by another tetra process (a running tetra serve?): %w", dir, err)
		}
		return nil, err
	}
	return st, nil
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
