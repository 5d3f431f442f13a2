package live

import (
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

func component(id graphstore.ID, name, typ string, labels ...string) *graphstore.Element {
	return graphstore.NewElement(id, graphstore.KindComponent, 1, []graphstore.Contribution{{Source: "s", ExternalID: name,
		Component: &graphstore.ComponentData{Name: name, Type: typ, Labels: labels}}}, 0, 0)
}

// A change's postings are the symmetric difference of the element's
// before and after: what it stopped and started carrying.
func TestChangedPostings(t *testing.T) {
	ch := graphstore.Change{ID: 1, Op: graphstore.Changed,
		Before: component(1, "web", "service", "tier:web"), After: component(1, "web", "pod", "tier:web", "x")}
	var got []string
	for _, p := range changedPostings(&ch) {
		got = append(got, p.Index.String()+"="+p.Term)
	}
	slices.Sort(got)
	if want := []string{"label=x", "type=pod", "type=service"}; !slices.Equal(got, want) {
		t.Fatalf("changed postings %v, want %v", got, want)
	}
	added := graphstore.Change{ID: 2, Op: graphstore.Added, After: component(2, "db", "database")}
	if n := len(changedPostings(&added)); n != len(graphstore.Postings(added.After)) {
		t.Fatalf("an added element changes all its %d postings, got %d", len(graphstore.Postings(added.After)), n)
	}
}

// The index finds views by the ids, terms and term prefixes they read, and
// forgets what a view no longer reads.
func TestIndexMatch(t *testing.T) {
	x := newIndex()
	byID, byTerm, byPrefix := &view{key: "id"}, &view{key: "term"}, &view{key: "prefix"}
	rs := func(f func(*readSet)) *readSet { r := newReadSet(); f(r); return r }
	x.replace(byID, nil, rs(func(r *readSet) { r.ids[7] = struct{}{} }))
	x.replace(byTerm, nil, rs(func(r *readSet) { r.terms[termKey{graphstore.IdxType, "pod"}] = struct{}{} }))
	prefixReads := rs(func(r *readSet) { r.prefixes[termKey{graphstore.IdxName, "we"}] = struct{}{} })
	x.replace(byPrefix, nil, prefixReads)
	match := func(changes ...graphstore.Change) []string {
		var out []string
		x.match(changes, func(v *view) {
			if !slices.Contains(out, v.key) {
				out = append(out, v.key)
			}
		})
		slices.Sort(out)
		return out
	}
	if got := match(graphstore.Change{ID: 7, Op: graphstore.Changed, Before: component(7, "a", "host"), After: component(7, "a", "host", "y")}); !slices.Equal(got, []string{"id"}) {
		t.Fatalf("a change of element 7: %v", got)
	}
	if got := match(graphstore.Change{ID: 8, Op: graphstore.Added, After: component(8, "webshop", "pod")}); !slices.Equal(got, []string{"prefix", "term"}) {
		t.Fatalf("a new pod named webshop: %v", got)
	}
	if got := match(graphstore.Change{ID: 9, Op: graphstore.Added, After: component(9, "db", "host")}); len(got) != 0 {
		t.Fatalf("an unrelated change matched %v", got)
	}
	x.replace(byPrefix, prefixReads, nil)
	if got := match(graphstore.Change{ID: 8, Op: graphstore.Added, After: component(8, "webshop", "host")}); len(got) != 0 {
		t.Fatalf("a removed view still matched: %v", got)
	}
	if len(x.prefixes) != 0 || x.prefixCount[graphstore.IdxName] != 0 {
		t.Fatalf("the index kept entries of a removed view: %v %v", x.prefixes, x.prefixCount)
	}
}
