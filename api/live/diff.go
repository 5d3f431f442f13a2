package live

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"

	"github.com/tetrahq/tetra/exec"
)

// Diff turns one answer of a query into a later one: apply it to the
// earlier answer (add the added elements, drop the removed ids, set the
// changed fields to their new values) and the result is the later answer,
// exactly. It is read-only once built and shared by every subscriber of the
// query.
type Diff struct {
	Added   exec.Elements `json:"added"`
	Removed Removed       `json:"removed"`
	Changed Changes       `json:"changed"`
}

// Removed lists the ids of the elements that left the answer.
type Removed struct {
	Components []uint64 `json:"components"`
	Relations  []uint64 `json:"relations"`
}

// Changes lists the elements that stayed in the answer with different
// content.
type Changes struct {
	Components []Change `json:"components"`
	Relations  []Change `json:"relations"`
}

// Change is one element whose fields changed: the names of the fields, in
// the order results show them, and their new values. Values are encoded
// from the new version of the element; a field whose new value is absent
// (properties removed) is null.
type Change struct {
	ID     uint64
	Fields []string
	// Exactly one of Component and Relation is set: the element's new
	// version, where Values come from.
	Component *exec.Component
	Relation  *exec.Relation
}

// Empty reports whether the diff changes nothing.
func (d *Diff) Empty() bool {
	return len(d.Added.Components)+len(d.Added.Relations)+len(d.Removed.Components)+len(d.Removed.Relations)+
		len(d.Changed.Components)+len(d.Changed.Relations) == 0
}

func newDiff() *Diff {
	return &Diff{
		Added:   exec.Elements{Components: []exec.Component{}, Relations: []exec.Relation{}},
		Removed: Removed{Components: []uint64{}, Relations: []uint64{}},
		Changed: Changes{Components: []Change{}, Relations: []Change{}},
	}
}

// diffResults returns the diff from answer a to answer b.
func diffResults(a, b *exec.TopologyResult) *Diff {
	d := newDiff()
	if a == b {
		return d
	}
	walk(byID(a.Components), byID(b.Components),
		func(c *exec.Component) { d.Added.Components = append(d.Added.Components, *c) },
		func(id uint64) { d.Removed.Components = append(d.Removed.Components, id) },
		func(x, y *exec.Component) {
			if f := changedFields(componentFields, x, y); f != nil {
				d.Changed.Components = append(d.Changed.Components, Change{ID: y.ID, Fields: f, Component: y})
			}
		})
	walk(byID(a.Relations), byID(b.Relations),
		func(r *exec.Relation) { d.Added.Relations = append(d.Added.Relations, *r) },
		func(id uint64) { d.Removed.Relations = append(d.Removed.Relations, id) },
		func(x, y *exec.Relation) {
			if f := changedFields(relationFields, x, y); f != nil {
				d.Changed.Relations = append(d.Changed.Relations, Change{ID: y.ID, Fields: f, Relation: y})
			}
		})
	return d
}

// byID returns the rows ordered by id. Results come ordered; a copy is
// sorted only if a result ever is not.
func byID[T exec.Component | exec.Relation](l exec.Rows[T]) exec.Rows[T] {
	sorted := true
	for i := 1; i < l.Len() && sorted; i++ {
		sorted = l.ID(i-1) <= l.ID(i)
	}
	if sorted {
		return l
	}
	order := make([]int, l.Len())
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(l.ID(x), l.ID(y)) })
	rows := make([]T, len(order))
	for k, i := range order {
		rows[k] = l.At(i)
	}
	return exec.RowsOf(rows)
}

// walk merges two lists ordered by id and reports the rows only in b
// (added), the ids only in a (removed), and the rows in both. A row is
// read (Rows.At) only when it is reported.
func walk[T exec.Component | exec.Relation](a, b exec.Rows[T], added func(*T), removed func(uint64), both func(x, y *T)) {
	i, j := 0, 0
	for i < a.Len() || j < b.Len() {
		switch {
		case j == b.Len() || (i < a.Len() && a.ID(i) < b.ID(j)):
			removed(a.ID(i))
			i++
		case i == a.Len() || b.ID(j) < a.ID(i):
			y := b.At(j)
			added(&y)
			j++
		default:
			x, y := a.At(i), b.At(j)
			both(&x, &y)
			i++
			j++
		}
	}
}

// field is one field of a result element as the JSON of results names it:
// how to tell whether it differs between two versions and how to encode
// its value.
type field[T any] struct {
	name  string
	same  func(x, y *T) bool
	value func(x *T) any
}

func changedFields[T any](fields []field[T], x, y *T) []string {
	var out []string
	for _, f := range fields {
		if !f.same(x, y) {
			out = append(out, f.name)
		}
	}
	return out
}

// componentFields lists every field of exec.Component but the id, in its
// JSON order. A field of a component that is not here would change without
// a diff saying so; the property test compares whole elements.
var componentFields = []field[exec.Component]{
	{"name", func(x, y *exec.Component) bool { return x.Name == y.Name }, func(x *exec.Component) any { return x.Name }},
	{"type", func(x, y *exec.Component) bool { return x.Type == y.Type }, func(x *exec.Component) any { return x.Type }},
	{"layer", func(x, y *exec.Component) bool { return x.Layer == y.Layer }, func(x *exec.Component) any { return x.Layer }},
	{"domain", func(x, y *exec.Component) bool { return x.Domain == y.Domain }, func(x *exec.Component) any { return x.Domain }},
	{"environments", func(x, y *exec.Component) bool { return slices.Equal(x.Environments, y.Environments) },
		func(x *exec.Component) any { return x.Environments }},
	{"labels", func(x, y *exec.Component) bool { return slices.Equal(x.Labels, y.Labels) },
		func(x *exec.Component) any { return x.Labels }},
	{"identifiers", func(x, y *exec.Component) bool { return slices.Equal(x.Identifiers, y.Identifiers) },
		func(x *exec.Component) any { return x.Identifiers }},
	{"healthState", func(x, y *exec.Component) bool { return x.HealthState == y.HealthState },
		func(x *exec.Component) any { return x.HealthState }},
	{"propagatedHealthState", func(x, y *exec.Component) bool { return x.PropagatedHealthState == y.PropagatedHealthState },
		func(x *exec.Component) any { return x.PropagatedHealthState }},
	{"properties", func(x, y *exec.Component) bool { return bytes.Equal(x.Properties, y.Properties) },
		func(x *exec.Component) any { return rawOrNull(x.Properties) }},
	{"sources", func(x, y *exec.Component) bool { return slices.Equal(x.Sources, y.Sources) },
		func(x *exec.Component) any { return x.Sources }},
	{"lastUpdateTimestamp", func(x, y *exec.Component) bool { return x.LastUpdateTimestamp == y.LastUpdateTimestamp },
		func(x *exec.Component) any { return x.LastUpdateTimestamp }},
}

// relationFields is componentFields for exec.Relation.
var relationFields = []field[exec.Relation]{
	{"type", func(x, y *exec.Relation) bool { return x.Type == y.Type }, func(x *exec.Relation) any { return x.Type }},
	{"source", func(x, y *exec.Relation) bool { return x.Source == y.Source }, func(x *exec.Relation) any { return x.Source }},
	{"target", func(x, y *exec.Relation) bool { return x.Target == y.Target }, func(x *exec.Relation) any { return x.Target }},
	{"dependencyDirection", func(x, y *exec.Relation) bool { return x.DependencyDirection == y.DependencyDirection },
		func(x *exec.Relation) any { return x.DependencyDirection }},
	{"labels", func(x, y *exec.Relation) bool { return slices.Equal(x.Labels, y.Labels) },
		func(x *exec.Relation) any { return x.Labels }},
	{"identifiers", func(x, y *exec.Relation) bool { return slices.Equal(x.Identifiers, y.Identifiers) },
		func(x *exec.Relation) any { return x.Identifiers }},
	{"properties", func(x, y *exec.Relation) bool { return bytes.Equal(x.Properties, y.Properties) },
		func(x *exec.Relation) any { return rawOrNull(x.Properties) }},
	{"sources", func(x, y *exec.Relation) bool { return slices.Equal(x.Sources, y.Sources) },
		func(x *exec.Relation) any { return x.Sources }},
	{"lastUpdateTimestamp", func(x, y *exec.Relation) bool { return x.LastUpdateTimestamp == y.LastUpdateTimestamp },
		func(x *exec.Relation) any { return x.LastUpdateTimestamp }},
}

func rawOrNull(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// MarshalJSON encodes a change as {"id", "fields", "values"}: values holds
// the new value of each changed field, in the order of fields.
func (c Change) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.WriteString(jsonUint(c.ID))
	b.WriteString(`,"fields":`)
	if err := writeJSON(&b, c.Fields); err != nil {
		return nil, err
	}
	b.WriteString(`,"values":{`)
	for i, name := range c.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(&b, name); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := writeJSON(&b, c.value(name)); err != nil {
			return nil, err
		}
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// value returns the new value of a named field.
func (c Change) value(name string) any {
	if c.Component != nil {
		return fieldValue(componentFields, c.Component, name)
	}
	return fieldValue(relationFields, c.Relation, name)
}

func fieldValue[T any](fields []field[T], x *T, name string) any {
	for _, f := range fields {
		if f.name == name {
			return f.value(x)
		}
	}
	return nil
}
