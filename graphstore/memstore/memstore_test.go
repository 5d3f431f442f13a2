package memstore_test

import (
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
)

func TestConformance(t *testing.T) {
	graphtest.Run(t, "../graphtest/testdata", func(t *testing.T, now func() time.Time, retention time.Duration) graphstore.Store {
		return memstore.New(memstore.Options{Now: now, Retention: retention})
	})
}

func TestState(t *testing.T) {
	graphtest.RunState(t, func(t *testing.T, now func() time.Time, retention time.Duration) graphstore.Store {
		return memstore.New(memstore.Options{Now: now, Retention: retention})
	})
}
