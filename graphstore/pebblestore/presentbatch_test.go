package pebblestore

import (
	"testing"
	"unsafe"

	"github.com/tetrahq/tetra/graphstore"
)

// TestTouchLines: touchLines reads one byte in each cache line of the
// bytes it is given, wherever they start in a line, and none beyond them.
func TestTouchLines(t *testing.T) {
	var buf [4 * cacheLine]byte
	for start := 0; start < cacheLine; start += 7 {
		for n := 1; start+n < len(buf); n += 13 {
			for i := range buf {
				buf[i] = 0
			}
			buf[start+n] = 100 // just past the bytes: never read
			var want int
			for off := start; off < start+n; off += cacheLine {
				buf[off] = 1
				want++
			}
			if buf[start+n-1] == 0 {
				buf[start+n-1] = 1
				want++
			} else {
				want++ // read twice
			}
			got := int(touchLines(unsafe.Pointer(&buf[start]), uintptr(n)))
			if got != want {
				t.Fatalf("start %d, %d bytes: sum %d, want %d", start, n, got, want)
			}
		}
	}
}

// TestWarmRows: the warm loops take nil entries, components and relations.
func TestWarmRows(t *testing.T) {
	c := graphstore.NewElement(1, graphstore.KindComponent, 1, []graphstore.Contribution{{Source: "s", ExternalID: "a", Component: &graphstore.ComponentData{Name: "a"}}}, 0, 0)
	r := graphstore.NewElement(2, graphstore.KindRelation, 1, []graphstore.Contribution{{Source: "s", ExternalID: "r", Relation: &graphstore.RelationData{Type: "t"}}}, 1, 1)
	warmRows([]*graphstore.Element{nil, c, r})
	warmLists([][]graphstore.Adjacency{nil, {{Relation: 2, Other: 1}}})
}
