package pebblestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestBlockCacheHoldsBlocks guards against sizing the block cache so that
// Pebble's memtable reservations leave no room for blocks: reads of flushed
// data must leave blocks in the cache. (It did happen: two 64 MiB memtables
// charged to a 128 MiB cache made every read go to the file.)
func TestBlockCacheHoldsBlocks(t *testing.T) {
	s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{BlockCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := &graphstore.Batch{Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 2000 {
		b.PutComponent("test", fmt.Sprintf("c-%d", i), graphstore.ComponentData{Name: fmt.Sprintf("c-%d", i), Type: "service"})
	}
	if _, err := s.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	for i := range 2000 {
		if _, err := sn.LookupExternal(graphstore.KindComponent, "test", fmt.Sprintf("c-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.BlockCacheBlocks(); n == 0 {
		t.Fatal("the block cache holds no blocks after 2000 reads of flushed data")
	}
}
