package live

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// stores are the implementations the tests run on.
var stores = map[string]func(t testing.TB) graphstore.Store{
	"memstore": func(t testing.TB) graphstore.Store {
		return memstore.New(memstore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour})
	},
	"pebble": func(t testing.TB) graphstore.Store {
		s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

// newHub starts a hub over st with test limits; it is closed (and st with
// it) when the test ends.
func newHub(t testing.TB, st graphstore.Store, lim Limits) *Hub {
	t.Helper()
	return newHubWith(t, st, lim, exec.Options{Now: graphtest.Clock})
}

// newHubWith is newHub with engine options.
func newHubWith(t testing.TB, st graphstore.Store, lim Limits, eo exec.Options) *Hub {
	t.Helper()
	h, err := New(Config{
		Engine:     exec.New(st, eo),
		Store:      st,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: prometheus.NewRegistry(),
		Limits:     lim,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
		st.Close()
	})
	return h
}

// evaluations is how many evaluations the hub ran for commits.
func (h *Hub) changeEvaluations() int {
	return int(testutil.ToFloat64(h.metrics.evaluations.WithLabelValues("change")) +
		testutil.ToFloat64(h.metrics.evaluations.WithLabelValues("maintain")))
}

// syncHub waits for the hub to take every commit and finish evaluating.
func syncHub(t testing.TB, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.sync(ctx); err != nil {
		t.Fatalf("waiting for the hub: %v", err)
	}
}
