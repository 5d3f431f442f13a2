package tracepebble_test

import (
	"testing"

	"github.com/tetrahq/tetra/traces"
	"github.com/tetrahq/tetra/traces/tracepebble"
	"github.com/tetrahq/tetra/traces/tracetest"
)

func TestConformance(t *testing.T) {
	tracetest.Run(t, func(t *testing.T) traces.Store {
		s, err := tracepebble.Open(t.TempDir(), tracepebble.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
