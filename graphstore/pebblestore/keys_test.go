package pebblestore_test

import (
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestKeyLayout prints the keys a few batches write, decoded: the examples
// in docs/storage-format.md come from testdata/keys.
func TestKeyLayout(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		clock := func() time.Time { return graphtest.At(1_000_000) }
		s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: clock, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "keys" {
				out, err := s.DumpKeys()
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			}
			out, err := graphtest.Exec(s, d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}
