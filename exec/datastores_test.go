package exec_test

import (
	"path/filepath"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/traces/tracepebble"
)

// openDataStores opens Pebble metric/event and span stores in a temporary
// directory, closed when the test ends.
func openDataStores(t testing.TB) (*telpebble.Store, *tracepebble.Store) {
	t.Helper()
	dir := t.TempDir()
	tel, err := telpebble.Open(filepath.Join(dir, "telemetry"), telpebble.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracepebble.Open(filepath.Join(dir, "traces"), tracepebble.Options{NoSync: true, Retention: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tel.Close()
		tr.Close()
	})
	return tel, tr
}

func emptyDataStores(t testing.TB) exec.DataStores {
	tel, tr := openDataStores(t)
	return exec.DataStores{Metrics: tel, Events: tel, Traces: tr}
}
