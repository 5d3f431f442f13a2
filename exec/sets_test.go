package exec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

// TestMembers: each of the membership tests (a bitmap over the range, a
// binary search, the id set) answers exactly for ids inside, between,
// below and above the list.
func TestMembers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	kinds := map[string]int{}
	for _, c := range []struct{ n, spread int }{{1, 1}, {10, 2}, {10, 100000}, {300, 3}, {300, 100000}, {5000, 4}, {5000, 1000}} {
		set := map[graphstore.ID]bool{}
		for len(set) < c.n {
			set[graphstore.ID(1+r.IntN(c.n*c.spread))] = true
		}
		var ids []graphstore.ID
		for id := range set {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		m := membersOf(ids)
		switch {
		case m.bits != nil:
			kinds["bitmap"]++
		case m.set != nil:
			kinds["set"]++
		default:
			kinds["search"]++
		}
		for id := graphstore.ID(0); id <= ids[len(ids)-1]+130; id++ {
			if m.has(id) != set[id] {
				t.Fatalf("%d ids over %d: has(%d) = %v", c.n, c.n*c.spread, id, m.has(id))
			}
		}
	}
	if len(kinds) != 3 {
		t.Fatalf("the cases covered %v, want all three kinds of test", kinds)
	}
}
