package graphstore

import (
	"slices"
	"testing"

	"github.com/tetrahq/tetra/internal/topokeys"
)

// TestHealthNames: the health states the model stores are the values the
// key vocabulary accepts.
func TestHealthNames(t *testing.T) {
	stored := slices.Sorted(slices.Values(healthNames[:]))
	accepted := slices.Sorted(slices.Values(topokeys.HealthStates))
	if !slices.Equal(stored, accepted) {
		t.Fatalf("the model stores %v, the vocabulary accepts %v", stored, accepted)
	}
}
