package pebblestore_test

import (
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

func openTemp(t *testing.T, now func() time.Time, retention time.Duration) graphstore.Store {
	t.Helper()
	s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: now, Retention: retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	graphtest.Run(t, "../graphtest/testdata", openTemp)
}

func TestState(t *testing.T) {
	graphtest.RunState(t, openTemp)
}
