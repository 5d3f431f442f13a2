package graphstore

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Index names a secondary index. Every index maps terms to the elements that
// carry them, versioned: a posting is valid from the version that added the
// term to the version that removed it.
type Index uint8

const (
	IdxKind          Index = 1  // "component" / "relation": every live element
	IdxName          Index = 2  // component name, lower-cased
	IdxType          Index = 3  // component type, lower-cased
	IdxLayer         Index = 4  // component layer, lower-cased
	IdxDomain        Index = 5  // component domain, lower-cased
	IdxEnvironment   Index = 6  // each environment, lower-cased
	IdxLabel         Index = 7  // each label (stored lower-cased)
	IdxHealth        Index = 8  // health state, lower-cased
	IdxIdentifier    Index = 9  // each component identifier, exact
	IdxSource        Index = 10 // each contributing source (components and relations)
	IdxRelIdentifier Index = 11 // each relation identifier, exact
	IdxRelRef        Index = 12 // each endpoint reference of a relation (to re-resolve it)
	IdxOut           Index = 13 // adjacency: term = source component id, aux = target id
	IdxIn            Index = 14 // adjacency: term = target component id, aux = source id
	maxIndex         Index = 14
)

var indexNames = map[Index]string{
	IdxKind: "kind", IdxName: "name", IdxType: "type", IdxLayer: "layer", IdxDomain: "domain",
	IdxEnvironment: "environment", IdxLabel: "label", IdxHealth: "healthstate", IdxIdentifier: "identifier",
	IdxSource: "source", IdxRelIdentifier: "relation-identifier", IdxRelRef: "relation-ref",
	IdxOut: "out", IdxIn: "in",
}

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
)

// Posting is one term of one element in one index. Aux carries the other
// endpoint for adjacency postings and is 0 elsewhere.
type Posting struct {
	Index Index
	Term  string
	Aux   ID
}

// IDTerm is the term under which an adjacency index files a component id.
func IDTerm(id ID) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return string(b[:])
}

// FoldTerm is the form in which case-insensitive values are indexed and
// looked up.
func FoldTerm(s string) string { return strings.ToLower(s) }

// Postings lists every posting of an element version, in a deterministic
// order. Both store implementations index exactly these.
func Postings(e *Element) []Posting {
	if e == nil {
		return nil
	}
	if c := e.Component(); c != nil {
		return componentPostings(c)
	}
	return relationPostings(e)
}

func componentPostings(c *Component) []Posting {
	n := 6 + len(c.Environments) + len(c.Labels) + len(c.Identifiers) + len(c.Sources)
	out := make([]Posting, 0, n)
	add := func(ix Index, term string) { out = append(out, Posting{Index: ix, Term: term}) }
	add(IdxKind, TermComponent)
	add(IdxName, FoldTerm(c.Name))
	add(IdxType, FoldTerm(c.Type))
	add(IdxLayer, FoldTerm(c.Layer))
	add(IdxDomain, FoldTerm(c.Domain))
	add(IdxHealth, FoldTerm(c.Health.String()))
	for _, s := range uniqueFolded(c.Environments) {
		add(IdxEnvironment, s)
	}
	for _, s := range c.Labels {
		add(IdxLabel, s)
	}
	for _, s := range c.Identifiers {
		add(IdxIdentifier, s)
	}
	for _, s := range uniqueSources(c.Sources) {
		add(IdxSource, s)
	}
	return out
}

func relationPostings(e *Element) []Posting {
	r := e.Relation()
	out := make([]Posting, 0, 6+len(r.Identifiers)+len(r.Sources))
	add := func(ix Index, term string, aux ID) { out = append(out, Posting{Index: ix, Term: term, Aux: aux}) }
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

// uniqueFolded lower-cases a sorted list and drops the duplicates that
// folding creates ("Prod" and "prod").
func uniqueFolded(l []string) []string {
	out := make([]string, 0, len(l))
	seen := make(map[string]bool, len(l))
	for _, s := range l {
		f := FoldTerm(s)
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
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
