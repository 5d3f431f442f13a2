package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/lang"
)

// TestEncodeCacheSameDocument: with a cache, AppendJSON writes exactly the
// document it writes without one, on the first encoding (filling the
// cache) and on later ones (reading it), also when the elements are
// edited between them in every field.
func TestEncodeCacheSameDocument(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	cache := NewEncodeCache()
	for i := range 300 {
		res := randResult(r)
		var comps []Component
		if res.Topology != nil {
			comps = res.Topology.Components.Slice()
		}
		if res.Topology != nil && i%2 == 0 {
			// Share ids between results, so that entries meet other
			// elements with the same id.
			for j := range comps {
				comps[j].ID %= 8
			}
			rels := res.Topology.Relations.Slice()
			for j := range rels {
				rels[j].ID %= 8
			}
			res.Topology.Components, res.Topology.Relations = RowsOf(comps), RowsOf(rels)
		}
		plain := encodeWith(t, res, nil)
		for pass := range 2 {
			if got := encodeWith(t, res, cache); !bytes.Equal(got, plain) {
				t.Fatalf("result %d, pass %d: with the cache\n%s\nwithout\n%s", i, pass, got, plain)
			}
		}
		if len(comps) > 0 {
			comps = slices.Clone(comps)
			comps[0].Labels = append(comps[0].Labels, "edited")
			comps[0].HealthState = "CRITICAL"
			res.Topology.Components = RowsOf(comps)
			if got, want := encodeWith(t, res, cache), encodeWith(t, res, nil); !bytes.Equal(got, want) {
				t.Fatalf("result %d edited: with the cache\n%s\nwithout\n%s", i, got, want)
			}
		}
	}
}

func encodeWith(t *testing.T, res *Result, cache *EncodeCache) []byte {
	t.Helper()
	b, err := AppendJSON(context.Background(), nil, res, EncodeOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeCacheComparesEveryField: the cache's comparisons read every
// field of Component and Relation (a field added to them must be added to
// sameComponent or sameRelation), treat a nil list (null) and an empty one
// ([]) as different, and take equal contents in other memory as the same.
func TestEncodeCacheComparesEveryField(t *testing.T) {
	c := Component{ID: 1, Name: "n", Type: "t", Layer: "l", Domain: "d", Environments: []string{"e"},
		Labels: []string{"a"}, Identifiers: []string{"i"}, HealthState: "CLEAR", PropagatedHealthState: "CLEAR",
		Properties: json.RawMessage(`{"k":1}`), Sources: []graphstore.SourceRef{{Source: "s", ExternalID: "x"}},
		LastUpdateTimestamp: 5}
	rel := Relation{ID: 2, Type: "t", Source: 1, Target: 3, DependencyDirection: "ONE_WAY", Labels: []string{"a"},
		Identifiers: []string{"i"}, Properties: json.RawMessage(`{"k":1}`),
		Sources: []graphstore.SourceRef{{Source: "s", ExternalID: "x"}}, LastUpdateTimestamp: 5}
	checkFields(t, &c, func(a, b *Component) bool { return sameComponent(a, b) })
	checkFields(t, &rel, func(a, b *Relation) bool { return sameRelation(a, b) })
}

func checkFields[T any](t *testing.T, base *T, same func(a, b *T) bool) {
	t.Helper()
	copied := deepCopy(t, base)
	if !same(base, copied) {
		t.Fatalf("%T: a copy in other memory compares different", *base)
	}
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		for _, edit := range edits(typ.Field(i).Type) {
			changed := deepCopy(t, base)
			edit(reflect.ValueOf(changed).Elem().Field(i))
			if same(base, changed) {
				t.Errorf("%T.%s: an edited field compares the same", *base, typ.Field(i).Name)
			}
		}
	}
}

func deepCopy[T any](t *testing.T, v *T) *T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// edits returns ways to change a field of type typ.
func edits(typ reflect.Type) []func(reflect.Value) {
	switch typ.Kind() {
	case reflect.String:
		return []func(reflect.Value){func(v reflect.Value) { v.SetString(v.String() + "x") }}
	case reflect.Uint64:
		return []func(reflect.Value){func(v reflect.Value) { v.SetUint(v.Uint() + 1) }}
	case reflect.Int64:
		return []func(reflect.Value){func(v reflect.Value) { v.SetInt(v.Int() + 1) }}
	case reflect.Slice:
		return []func(reflect.Value){
			func(v reflect.Value) { v.Set(reflect.Append(v, reflect.Zero(typ.Elem()))) },
			func(v reflect.Value) { v.Index(0).Set(reflect.Zero(typ.Elem())) },
		}
	}
	panic("no edit for " + typ.String())
}

// TestEncodeCacheNilAndEmptyLists: null and [] are different documents.
func TestEncodeCacheNilAndEmptyLists(t *testing.T) {
	cache := NewEncodeCache()
	res := &Result{Topology: &TopologyResult{Components: RowsOf([]Component{{ID: 1, Labels: []string{}}})}}
	encodeWith(t, res, cache)
	res.Topology.Components = RowsOf([]Component{{ID: 1}})
	if got, want := encodeWith(t, res, cache), encodeWith(t, res, nil); !bytes.Equal(got, want) {
		t.Fatalf("with the cache\n%s\nwithout\n%s", got, want)
	}
}

// TestEncodeCacheNewVersions runs queries against a store and encodes
// their answers with one cache while the graph changes in ways that write
// new versions of a component without a change of its own: a check state
// turns its health CRITICAL, and that propagates to the component that
// depends on it. Every answer is the document encoded without the cache.
func TestEncodeCacheNewVersions(t *testing.T) {
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := New(st, Options{Now: graphtest.Clock})
	cache, stored := NewEncodeCache(), NewEncodeCache()
	answer := func(q string) []byte {
		t.Helper()
		res, err := eng.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got, want := encodeWith(t, res, cache), encodeWith(t, res, nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: with the cache\n%s\nwithout\n%s", q, got, want)
		}
		// RunJSON, from the store's elements, through its own cache.
		stmt, err := lang.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got, err := eng.RunJSON(context.Background(), nil, stmt, QueryOptions{}, EncodeOptions{Cache: stored}); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: RunJSON with the cache (%v)\n%s\nwithout\n%s", q, err, got, want)
			}
		}
		return got
	}
	graphtest.Apply(t, st, 10, func(b *graphstore.Batch) {
		b.PutComponent("s", "web", graphstore.ComponentData{Name: "web", Type: "service", Labels: []string{"x"},
			Identifiers: []string{"urn:web"}, Properties: json.RawMessage(`{"v":1}`)})
		b.PutComponent("s", "db", graphstore.ComponentData{Name: "db", Type: "database", Labels: []string{"x"},
			Identifiers: []string{"urn:db"}})
		b.PutRelation("s", "web>db", graphstore.RelationData{Type: "uses", SourceRef: "web", TargetRef: "db"})
	})
	first := answer(`label = "x"`)
	answer(`label = "x"`) // from the cache
	graphtest.Apply(t, st, 20, func(b *graphstore.Batch) {
		b.PutCheck("monitor", "db-disk", graphstore.CheckData{Name: "disk", State: graphstore.HealthCritical, Identifier: "urn:db"})
	})
	second := answer(`label = "x"`)
	if bytes.Equal(first, second) || bytes.Count(second, []byte(`"CRITICAL"`)) != 3 {
		t.Fatalf("the check state did not reach the answer (db's health, db's and web's propagated health):\n%s", second)
	}
	answer(`label = "x"`)
	// The past still reads the old versions, through the same cache.
	if got := answer(`label = "x" AT "` + graphtest.At(15).Format("2006-01-02T15:04:05Z07:00") + `"`); bytes.Contains(got, []byte("CRITICAL")) {
		t.Fatalf("AT before the check state:\n%s", got)
	}
}
