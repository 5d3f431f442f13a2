package base

import (
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/topokeys"
)

// Posting is one term of one element in one index. Aux carries the other
// endpoint for adjacency postings and is 0 elsewhere.
type Posting struct {
	Index graphstore.Index
	Term  string
	Aux   graphstore.ID
}

// Postings lists every posting of an element version, in a deterministic
// order: the terms the Pebble store indexes the version under.
func Postings(e *graphstore.Element) []Posting {
	if e == nil {
		return nil
	}
	if c := e.Component(); c != nil {
		return componentPostings(c)
	}
	return relationPostings(e)
}

func componentPostings(c *graphstore.Component) []Posting {
	n := 8 + len(c.Environments) + len(c.Labels) + len(c.Identifiers) + len(c.Sources)
	out := make([]Posting, 0, n)
	add := func(ix graphstore.Index, term string) { out = append(out, Posting{Index: ix, Term: term}) }
	add(graphstore.IdxKind, graphstore.TermComponent)
	for _, k := range topokeys.All() {
		if ix, ok := graphstore.KeyIndex(k); ok {
			for _, v := range graphstore.KeyValues(k, c) {
				add(ix, v)
			}
		}
	}
	for _, s := range uniqueSources(c.Sources) {
		add(graphstore.IdxSource, s)
	}
	return out
}

func relationPostings(e *graphstore.Element) []Posting {
	r := e.Relation()
	out := make([]Posting, 0, 6+len(r.Identifiers)+len(r.Sources))
	add := func(ix graphstore.Index, term string, aux graphstore.ID) {
		out = append(out, Posting{Index: ix, Term: term, Aux: aux})
	}
	add(graphstore.IdxKind, graphstore.TermRelation, 0)
	for _, s := range r.Identifiers {
		add(graphstore.IdxRelIdentifier, s, 0)
	}
	for _, s := range uniqueSources(r.Sources) {
		add(graphstore.IdxSource, s, 0)
	}
	add(graphstore.IdxRelRef, r.SourceRef, 0)
	if r.TargetRef != r.SourceRef {
		add(graphstore.IdxRelRef, r.TargetRef, 0)
	}
	if e.Traversable() {
		add(graphstore.IdxOut, graphstore.IDTerm(e.SourceID), e.TargetID)
		add(graphstore.IdxIn, graphstore.IDTerm(e.TargetID), e.SourceID)
	}
	return out
}

func uniqueSources(refs []graphstore.SourceRef) []string {
	out := make([]string, 0, len(refs))
	for i, r := range refs {
		if i == 0 || refs[i-1].Source != r.Source { // refs are sorted by source
			out = append(out, r.Source)
		}
	}
	return out
}
