package pebblestore_test

import (
	"errors"
	"testing"

	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestOtherSchemaIsRefused: a store written by a build of another format
// (version 1 had no check states and no materialized health) is refused
// with ErrSchema, never read wrongly.
func TestOtherSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSchema(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = pebblestore.Open(dir, pebblestore.Options{})
	if !errors.Is(err, pebblestore.ErrSchema) {
		t.Fatalf("opening a schema-1 store: %v, want ErrSchema", err)
	}
	t.Log(err)
}
