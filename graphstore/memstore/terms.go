package memstore

import (
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/topokeys"
)

// termsOf returns the terms of an element version, computed once: a version
// never changes, and every read scans every version.
func (s *Store) termsOf(e *graphstore.Element) map[graphstore.Index][]string {
	if t, ok := s.terms.Load(e); ok {
		return t.(map[graphstore.Index][]string)
	}
	t := termsOf(e)
	s.terms.Store(e, t)
	return t
}

// termsOf returns the terms an element version carries, by index, read off
// its merged view as the index descriptions in graphstore say, without the
// Pebble store's posting code.
func termsOf(e *graphstore.Element) map[graphstore.Index][]string {
	out := map[graphstore.Index][]string{}
	add := func(ix graphstore.Index, terms ...string) { out[ix] = append(out[ix], terms...) }
	if c := e.Component(); c != nil {
		add(graphstore.IdxKind, graphstore.TermComponent)
		for _, k := range topokeys.All() {
			if ix, ok := graphstore.KeyIndex(k); ok {
				add(ix, graphstore.KeyValues(k, c)...)
			}
		}
		for _, s := range c.Sources {
			add(graphstore.IdxSource, s.Source)
		}
		return out
	}
	if c := e.Check(); c != nil {
		add(graphstore.IdxKind, graphstore.TermCheck)
		add(graphstore.IdxStream, c.Stream)
		add(graphstore.IdxCheckRef, c.Identifier)
		if c.Component != 0 {
			add(graphstore.IdxBound, graphstore.IDTerm(c.Component))
		}
		return out
	}
	r := e.Relation()
	add(graphstore.IdxKind, graphstore.TermRelation)
	add(graphstore.IdxRelIdentifier, r.Identifiers...)
	for _, s := range r.Sources {
		add(graphstore.IdxSource, s.Source)
	}
	add(graphstore.IdxRelRef, r.SourceRef, r.TargetRef)
	if e.Traversable() {
		add(graphstore.IdxOut, graphstore.IDTerm(e.SourceID))
		add(graphstore.IdxIn, graphstore.IDTerm(e.TargetID))
	}
	return out
}
