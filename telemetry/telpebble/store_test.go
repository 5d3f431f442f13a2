package telpebble_test

import (
	"testing"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
	"github.com/tetrahq/tetra/telemetry/teltest"
)

func open(t *testing.T) telemetry.Store {
	s, err := telpebble.Open(t.TempDir(), telpebble.Options{NoSync: true, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { teltest.Run(t, open) }
