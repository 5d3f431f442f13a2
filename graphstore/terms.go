package graphstore

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/tetrahq/tetra/internal/topokeys"
)

// Index names a secondary index. Every index maps terms to the elements that
// carry them, versioned: a posting is valid from the version that added the
// term to the version that removed it.
type Index uint8

const (
	IdxKind          Index = 1  // "component" / "relation" / "check": every live element
	IdxName          Index = 2  // component name (the indexes 2–9 serve topology keys; see keyTable)
	IdxType          Index = 3  // component type
	IdxLayer         Index = 4  // component layer
	IdxDomain        Index = 5  // component domain
	IdxEnvironment   Index = 6  // each environment
	IdxLabel         Index = 7  // each label
	IdxHealth        Index = 8  // health state
	IdxIdentifier    Index = 9  // each component identifier
	IdxSource        Index = 10 // each contributing source (components and relations)
	IdxRelIdentifier Index = 11 // each relation identifier, exact
	IdxRelRef        Index = 12 // each endpoint reference of a relation (to re-resolve it)
	IdxOut           Index = 13 // adjacency: term = source component id, aux = target id
	IdxIn            Index = 14 // adjacency: term = target component id, aux = source id
	IdxCheckRef      Index = 15 // the identifier a check state is bound by (to re-resolve it)
	IdxBound         Index = 16 // term = component id: the check states bound to it
	IdxStream        Index = 17 // the health stream of a check state
	maxIndex         Index = 17
)

var indexNames = map[Index]string{
	IdxKind: "kind", IdxName: "name", IdxType: "type", IdxLayer: "layer", IdxDomain: "domain",
	IdxEnvironment: "environment", IdxLabel: "label", IdxHealth: "healthstate", IdxIdentifier: "identifier",
	IdxSource: "source", IdxRelIdentifier: "relation-identifier", IdxRelRef: "relation-ref",
	IdxOut: "out", IdxIn: "in", IdxCheckRef: "check-ref", IdxBound: "bound",
	IdxStream: "stream",
}

// Indexes lists every index, in order.
func Indexes() []Index {
	out := make([]Index, 0, maxIndex)
	for ix := IdxKind; ix <= maxIndex; ix++ {
		out = append(out, ix)
	}
	return out
}

// IDTermIndex reports whether an index files elements under component ids
// (IDTerm) rather than strings.
func (ix Index) IDTermIndex() bool { return ix == IdxOut || ix == IdxIn || ix == IdxBound }

func (ix Index) String() string {
	if n, ok := indexNames[ix]; ok {
		return n
	}
	return fmt.Sprintf("index(%d)", uint8(ix))
}

// Kind terms of IdxKind.
const (
	TermComponent = "component"
	TermRelation  = "relation"
	TermCheck     = "check"
)

// IDTerm is the term under which the adjacency indexes (IdxOut, IdxIn) and
// IdxBound file a component id: its 8 bytes, big-endian.
func IDTerm(id ID) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return string(b[:])
}

// keyIndex says which index serves a topology key and how a component
// carries the key's values. It is the store's half of the key vocabulary
// (internal/topokeys is the other): the stores index exactly these values,
// in index form, and the engine matches loaded components against them.
type keyIndex struct {
	ix     Index // 0: not indexed (id is looked up directly)
	values func(c *Component) []string
}

var keyTable = map[topokeys.Key]keyIndex{
	topokeys.Name:        {IdxName, func(c *Component) []string { return []string{c.Name} }},
	topokeys.Type:        {IdxType, func(c *Component) []string { return []string{c.Type} }},
	topokeys.Layer:       {IdxLayer, func(c *Component) []string { return []string{c.Layer} }},
	topokeys.Domain:      {IdxDomain, func(c *Component) []string { return []string{c.Domain} }},
	topokeys.Environment: {IdxEnvironment, func(c *Component) []string { return c.Environments }},
	topokeys.Label:       {IdxLabel, func(c *Component) []string { return c.Labels }},
	topokeys.Health:      {IdxHealth, func(c *Component) []string { return []string{c.Health.String()} }},
	topokeys.Identifier:  {IdxIdentifier, func(c *Component) []string { return c.Identifiers }},
	topokeys.ID:          {0, func(c *Component) []string { return []string{strconv.FormatUint(uint64(c.ID), 10)} }},
}

// KeyIndex returns the index that serves a topology key; ok is false for a
// key that is not indexed (id).
func KeyIndex(k topokeys.Key) (Index, bool) {
	ki, ok := keyTable[k]
	return ki.ix, ok && ki.ix != 0
}

// KeyValues returns a component's values of a topology key in index form
// (folded for a case-insensitive key), without duplicates, in a
// sorted order. These are the terms the key's index files the
// component under.
func KeyValues(k topokeys.Key, c *Component) []string {
	ki, ok := keyTable[k]
	if !ok {
		return nil
	}
	vals := ki.values(c)
	if !k.Folded() {
		return vals
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = k.Term(v)
	}
	slices.Sort(out) // folding may create duplicates ("Prod" and "prod")
	return slices.Compact(out)
}

// Posting is one term of one element in one index. Aux carries the other
// endpoint for adjacency postings and is 0 elsewhere.
type Posting struct {
	Index Index
	Term  string
	Aux   ID
}

// Postings lists every posting of an element version, in a deterministic
// order: the terms the Pebble store indexes the version under (and what
// a change of the version adds or removes, for live subscriptions).
func Postings(e *Element) []Posting {
	if e == nil {
		return nil
	}
	switch e.Kind {
	case KindComponent:
		return componentPostings(e.Component())
	case KindCheck:
		return checkPostings(e)
	}
	return relationPostings(e)
}

// checkPostings: a check state is found by its stream, re-resolved through
// the identifier it is bound by, and found from its component while bound.
func checkPostings(e *Element) []Posting {
	c := e.Check()
	out := []Posting{
		{Index: IdxKind, Term: TermCheck},
		{Index: IdxStream, Term: c.Stream},
		{Index: IdxCheckRef, Term: c.Identifier},
	}
	if c.Component != 0 {
		out = append(out, Posting{Index: IdxBound, Term: IDTerm(c.Component)})
	}
	return out
}

func componentPostings(c *Component) []Posting {
	n := 8 + len(c.Environments) + len(c.Labels) + len(c.Identifiers) + len(c.Sources)
	out := make([]Posting, 0, n)
	add := func(ix Index, term string) { out = append(out, Posting{Index: ix, Term: term}) }
	add(IdxKind, TermComponent)
	for _, k := range topokeys.All() {
		if ix, ok := KeyIndex(k); ok {
			for _, v := range KeyValues(k, c) {
				add(ix, v)
			}
		}
	}
	for _, s := range uniqueSources(c.Sources) {
		add(IdxSource, s)
	}
	return out
}

func relationPostings(e *Element) []Posting {
	r := e.Relation()
	out := make([]Posting, 0, 6+len(r.Identifiers)+len(r.Sources))
	add := func(ix Index, term string, aux ID) {
		out = append(out, Posting{Index: ix, Term: term, Aux: aux})
	}
	add(IdxKind, TermRelation, 0)
	for _, s := range r.Identifiers {
		add(IdxRelIdentifier, s, 0)
	}
	for _, s := range uniqueSources(r.Sources) {
		add(IdxSource, s, 0)
	}
	add(IdxRelRef, r.SourceRef, 0)
	if r.TargetRef != r.SourceRef {
		add(IdxRelRef, r.TargetRef, 0)
	}
	if e.Traversable() {
		add(IdxOut, IDTerm(e.SourceID), e.TargetID)
		add(IdxIn, IDTerm(e.TargetID), e.SourceID)
	}
	return out
}

func uniqueSources(refs []SourceRef) []string {
	out := make([]string, 0, len(refs))
	for i, r := range refs {
		if i == 0 || refs[i-1].Source != r.Source { // refs are sorted by source
			out = append(out, r.Source)
		}
	}
	return out
}
