package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// TestArenaPerElement checks that decoding a topology's elements reuses
// the member arena element by element instead of keeping every member of
// the payload (at a million components that was 0.6 GiB alive at once),
// and that the elements still decode whole.
func TestArenaPerElement(t *testing.T) {
	const n = 2000
	var b strings.Builder
	b.WriteString(`{"topologies":[{"instance":{"type":"t","url":"u"},"components":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"externalId":"c%d","type":{"name":"pod"},"data":{"name":"c%d","layer":"l","domain":"d","labels":["a:%d","b"],"x":{"y":1}}}`, i, i, i)
	}
	b.WriteString(`],"relations":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"externalId":"r%d","type":{"name":"uses"},"sourceId":"c%d","targetId":"c%d"}`, i, i, (i+1)%n)
	}
	b.WriteString(`]}]}`)
	d := &dec{}
	w := &walker{dec: d}
	w.document(&path{}, []byte(b.String()))
	if err := d.errs.err(); err != nil {
		t.Fatal(err)
	}
	// The document, the topology and one element's members (with its
	// nested objects), whatever the number of elements.
	if c := cap(d.members); c > 64 {
		t.Errorf("the arena holds %d members after %d elements, want those of one element", c, 2*n)
	}
	if len(w.out) != 1 || len(w.out[0].Components) != n || len(w.out[0].Relations) != n {
		t.Fatalf("decoded %d topologies", len(w.out))
	}
	for i, c := range w.out[0].Components {
		if want := fmt.Sprintf("c%d", i); c.ExternalID != want || c.Data.Name != want || len(c.Data.Labels) != 2 || c.Data.Labels[0] != fmt.Sprintf("a:%d", i) {
			t.Fatalf("component %d decoded as %+v", i, c)
		}
	}
	for i, r := range w.out[0].Relations {
		if r.ExternalID != fmt.Sprintf("r%d", i) || r.Data.SourceRef != fmt.Sprintf("c%d", i) {
			t.Fatalf("relation %d decoded as %+v", i, r)
		}
	}
}
