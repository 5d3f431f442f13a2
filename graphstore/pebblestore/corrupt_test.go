package pebblestore_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// corruptStore writes a few batches, flushes them to a table file and
// overwrites the middle of every table file with garbage.
func corruptStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := s.Apply(context.Background(), crashBatch(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Without the present graph's file, opening reads the postings (the
	// file would let the store open and answer these reads from memory,
	// never meeting the damage).
	if err := os.Remove(filepath.Join(dir, "tetra-present")); err != nil {
		t.Fatal(err)
	}
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no table files after a flush")
	}
	for _, f := range ssts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 4; i < len(b)/2; i++ {
			b[i] ^= 0x5a
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCorruptTableIsAnError: damaged data is an error that wraps
// graphstore.ErrCorrupt, never a panic (the review found one that crashed
// the CLI with a stack trace).
func TestCorruptTableIsAnError(t *testing.T) {
	dir := corruptStore(t)
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		if !errors.Is(err, graphstore.ErrCorrupt) {
			t.Fatalf("open: %v does not wrap ErrCorrupt", err)
		}
		return
	}
	defer s.Close()
	snap, err := s.Snapshot(time.Time{})
	if err != nil {
		if !errors.Is(err, graphstore.ErrCorrupt) {
			t.Fatalf("snapshot: %v", err)
		}
		return
	}
	defer snap.Close()
	var failed error
	for id := graphstore.ID(1); id < 2000 && failed == nil; id++ {
		_, failed = snap.Element(id)
	}
	if failed == nil {
		_, failed = snap.Estimate(graphstore.IdxKind, graphstore.TermComponent)
	}
	if failed == nil || !errors.Is(failed, graphstore.ErrCorrupt) || !strings.Contains(failed.Error(), "corrupt") {
		t.Fatalf("reads of a damaged table: %v", failed)
	}
	if err := s.Check(); !errors.Is(err, graphstore.ErrCorrupt) {
		t.Errorf("Check after a damaged read: %v", err)
	}
}

// listDir returns the names and sizes of a directory's files.
func listDir(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// TestReadOnlyOpen: read-only opens of one store run side by side, write
// no file, and keep a writer out (from another process; within one
// process POSIX locks do not exclude each other, which the child checks).
func TestReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := pebblestore.Open(filepath.Join(dir, "none"), pebblestore.Options{ReadOnly: true}); !errors.Is(err, pebblestore.ErrNotExist) {
		t.Errorf("read-only open of no store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("a read-only open created the directory: %v", err)
	}
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(context.Background(), crashBatch(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := listDir(t, dir)
	var stores []*pebblestore.Store
	for range 3 {
		r, err := pebblestore.Open(dir, pebblestore.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("read-only open beside others: %v", err)
		}
		stores = append(stores, r)
	}
	snap, err := stores[0].Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if el, err := snap.Element(1); err != nil || el == nil {
		t.Errorf("read-only read: %v %v", el, err)
	}
	snap.Close()
	if _, err := stores[0].Apply(context.Background(), crashBatch(2)); err == nil {
		t.Error("a read-only store applied a batch")
	}
	for _, r := range stores {
		r.Close()
	}
	if after := listDir(t, dir); !maps.Equal(before, after) {
		t.Errorf("read-only opens changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}
