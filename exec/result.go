package exec

import (
	"bytes"
	"encoding/json"
	"iter"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Result is the answer to one statement: exactly one of its parts is set.
type Result struct {
	Topology *TopologyResult `json:"topology,omitempty"`
	Changes  *ChangesResult  `json:"changes,omitempty"`
	Metrics  *MetricsResult  `json:"metrics,omitempty"`
	Events   *EventsResult   `json:"events,omitempty"`
	Traces   *TracesResult   `json:"traces,omitempty"`
}

// TopologyResult is the components a topology query selects and the
// relations among them, each list ascending by id.
type TopologyResult struct {
	// EvaluatedAt is the time the graph was read at.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// Truncated is always false: a query that would hold more than the
	// element limit fails instead of returning part of its answer.
	Truncated  bool            `json:"truncated"`
	Components Rows[Component] `json:"components"`
	Relations  Rows[Relation]  `json:"relations"`
}

// Rows is a list of components or relations of a result. It hands out a
// row at a time (At, All): a result the engine built refers to the
// store's elements instead of holding a copy of each, so a broad answer
// costs a pointer a row until it is read (a Component is 232 bytes: an
// answer of 100,000 copied was 23 MB of fresh memory per query, and more
// time than finding it). The store's elements are immutable, so the rows
// read the same, as they were at the result's time, however long the
// result is kept and whatever commits later. Other results hold their
// rows as values (RowsOf; a result decoded from JSON). The zero value is
// a nil list: it encodes as null, where an empty one encodes as [].
type Rows[T Component | Relation] struct {
	refs []*graphstore.Element // the store's elements, when not nil
	vals []T                   // else the rows themselves
}

// RowsOf returns a list of the rows l, which it keeps: the caller must not
// modify l afterwards. A nil l is a nil list.
func RowsOf[T Component | Relation](l []T) Rows[T] { return Rows[T]{vals: l} }

// rowsOfElements returns a list that refers to the store's elements of the
// kind of T (each live and of that kind), which it keeps.
func rowsOfElements[T Component | Relation](l []*graphstore.Element) Rows[T] {
	if l == nil {
		l = []*graphstore.Element{}
	}
	return Rows[T]{refs: l}
}

// Len returns the number of rows.
func (l Rows[T]) Len() int {
	if l.refs != nil {
		return len(l.refs)
	}
	return len(l.vals)
}

// IsNil reports whether the list is nil (and so encodes as null).
func (l Rows[T]) IsNil() bool { return l.refs == nil && l.vals == nil }

// At returns row i (0 ≤ i < Len()). A row the store's element is read
// from is converted afresh on each call; its lists are the element's own,
// shared and immutable: never modify them.
func (l Rows[T]) At(i int) T {
	var out T
	l.Fill(i, &out)
	return out
}

// Fill sets *dst to row i (0 ≤ i < Len()), as At returns it, without
// copying the row once more on the way (a Component is 232 bytes).
func (l Rows[T]) Fill(i int, dst *T) {
	if l.refs == nil {
		*dst = l.vals[i]
		return
	}
	fillRow(dst, l.refs[i])
}

// fillRow sets every field of *dst from the store's element e.
func fillRow[T Component | Relation](dst *T, e *graphstore.Element) {
	switch p := any(dst).(type) {
	case *Component:
		fillComponent(p, e.Component())
	case *Relation:
		fillRelation(p, e.Relation())
	}
}

// ID returns the id of row i, without converting the row.
func (l Rows[T]) ID(i int) uint64 {
	if l.refs != nil {
		return uint64(l.refs[i].ID)
	}
	if v, ok := any(l.vals).([]Component); ok {
		return v[i].ID
	}
	return any(l.vals).([]Relation)[i].ID
}

// All returns an iterator over the rows and their positions, in order.
// Reading every row, it is faster than At in a loop: it reads the rows of
// the store's elements a block at a time (warmRows) before converting
// them.
func (l Rows[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		if l.refs == nil {
			for i, v := range l.vals {
				if !yield(i, v) {
					return
				}
			}
			return
		}
		var v T
		for start := 0; start < len(l.refs); start += warmBlock {
			block := l.refs[start:min(start+warmBlock, len(l.refs))]
			warmRows(block)
			for j, e := range block {
				fillRow(&v, e)
				if !yield(start+j, v) {
					return
				}
			}
		}
	}
}

// warmBlock is how many rows All reads ahead of converting them.
const warmBlock = 64

// warmRows reads the first words of every element's merged view (a
// component's or a relation's, each an allocation of its own, a cache
// miss apart from the element, which is one apart from the list) in one
// loop of independent loads, so that their misses overlap; converting
// the rows then finds them in the processor's cache instead of waiting
// for each in turn (At in a loop over a broad answer at a million
// components was about a tenth slower without it). It returns a value
// only so that the loads are not optimised away.
//
//go:noinline
func warmRows(els []*graphstore.Element) graphstore.ID {
	var sum graphstore.ID
	for _, e := range els {
		if c := e.Component(); c != nil {
			sum += c.ID + graphstore.ID(len(c.Labels)) + graphstore.ID(len(c.Sources))
		} else if r := e.Relation(); r != nil {
			sum += r.ID + graphstore.ID(len(r.Labels)) + graphstore.ID(len(r.Sources))
		}
	}
	return sum
}

// Slice returns the rows as a new slice (nil for a nil list), which the
// caller may modify.
func (l Rows[T]) Slice() []T {
	if l.IsNil() {
		return nil
	}
	out := make([]T, l.Len())
	for i := range out {
		out[i] = l.At(i)
	}
	return out
}

// MarshalJSON writes the rows as encoding/json writes a slice of them
// (AppendJSON and RunJSON write the same without it). HTML characters are
// left for the caller's encoder to escape or not, as it would in a slice.
func (l Rows[T]) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l.Slice()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads a JSON list of rows (null: a nil list).
func (l *Rows[T]) UnmarshalJSON(b []byte) error {
	var vals []T
	if err := json.Unmarshal(b, &vals); err != nil {
		return err
	}
	*l = RowsOf(vals)
	return nil
}

// ChangesResult is what changed between two times among the components a
// query selects at either time, and among the relations between them.
type ChangesResult struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Truncated bool      `json:"truncated"`
	Added     Elements  `json:"added"`
	Removed   Elements  `json:"removed"`
	Changed   Changed   `json:"changed"`
}

// Elements is a set of components and relations.
type Elements struct {
	Components []Component `json:"components"`
	Relations  []Relation  `json:"relations"`
}

// Changed is the elements that exist at both times with different content.
type Changed struct {
	Components []ComponentChange `json:"components"`
	Relations  []RelationChange  `json:"relations"`
}

// ComponentChange is a component before and after, with the fields that
// differ.
type ComponentChange struct {
	Before Component `json:"before"`
	After  Component `json:"after"`
	Fields []string  `json:"fields"`
}

// RelationChange is a relation before and after, with the fields that
// differ.
type RelationChange struct {
	Before Relation `json:"before"`
	After  Relation `json:"after"`
	Fields []string `json:"fields"`
}

// Component is a component as results show it.
type Component struct {
	ID           uint64   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Layer        string   `json:"layer"`
	Domain       string   `json:"domain"`
	Environments []string `json:"environments"`
	Labels       []string `json:"labels"`
	Identifiers  []string `json:"identifiers"`
	// HealthState is the component's own state (STQL's healthstate);
	// PropagatedHealthState adds the DEVIATING or CRITICAL states of what
	// it depends on.
	HealthState           string                 `json:"healthState"`
	PropagatedHealthState string                 `json:"propagatedHealthState"`
	Properties            json.RawMessage        `json:"properties,omitempty"`
	Sources               []graphstore.SourceRef `json:"sources"`
	LastUpdateTimestamp   int64                  `json:"lastUpdateTimestamp"` // epoch milliseconds
}

// Relation is a relation as results show it.
type Relation struct {
	ID                  uint64                 `json:"id"`
	Type                string                 `json:"type"`
	Source              uint64                 `json:"source"`
	Target              uint64                 `json:"target"`
	DependencyDirection string                 `json:"dependencyDirection"`
	Labels              []string               `json:"labels"`
	Identifiers         []string               `json:"identifiers"`
	Properties          json.RawMessage        `json:"properties,omitempty"`
	Sources             []graphstore.SourceRef `json:"sources"`
	LastUpdateTimestamp int64                  `json:"lastUpdateTimestamp"`
}

func nonNil(l []string) []string {
	if l == nil {
		return noStrings
	}
	return l
}

// noStrings is the empty list of every row that has none: a fresh one per
// row was a call to the allocator (of nothing) per list.
var noStrings = []string{}

func componentOf(c *graphstore.Component) Component {
	var out Component
	fillComponent(&out, c)
	return out
}

// fillComponent sets every field of out from c.
func fillComponent(out *Component, c *graphstore.Component) {
	out.ID, out.Name, out.Type, out.Layer, out.Domain = uint64(c.ID), c.Name, c.Type, c.Layer, c.Domain
	out.Environments, out.Labels, out.Identifiers = nonNil(c.Environments), nonNil(c.Labels), nonNil(c.Identifiers)
	out.HealthState, out.PropagatedHealthState = c.Health.String(), c.Propagated.String()
	out.Properties, out.Sources = c.Properties, c.Sources
	out.LastUpdateTimestamp = c.Updated / int64(time.Millisecond)
}

func relationOf(r *graphstore.Relation) Relation {
	var out Relation
	fillRelation(&out, r)
	return out
}

// fillRelation sets every field of out from r.
func fillRelation(out *Relation, r *graphstore.Relation) {
	out.ID, out.Type, out.Source, out.Target = uint64(r.ID), r.Type, uint64(r.Source), uint64(r.Target)
	out.DependencyDirection, out.Labels, out.Identifiers = r.Dependency.String(), nonNil(r.Labels), nonNil(r.Identifiers)
	out.Properties, out.Sources, out.LastUpdateTimestamp = r.Properties, r.Sources, r.Updated/int64(time.Millisecond)
}
