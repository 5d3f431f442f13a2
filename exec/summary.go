package exec

import (
	"context"
	"slices"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Summary is what the graph holds at one time: how many components and
// relations, and how many of each every source reports. It is what tetra
// info and GET /api/info show.
type Summary struct {
	At         time.Time     `json:"at"`
	Components int           `json:"components"`
	Relations  int           `json:"relations"`
	Sources    []SourceCount `json:"sources"`
}

// SourceCount is what one source reports: the elements it contributes to
// (a component several sources report counts for each).
type SourceCount struct {
	Source     string `json:"source"`
	Components int    `json:"components"`
	Relations  int    `json:"relations"`
}

// Summary counts the graph at the query's time (o.Now, or the engine's
// clock). With a scope, only the components in it and the relations
// among them are counted, and only the sources that report one of them
// are listed.
func (e *Engine) Summary(parent context.Context, o QueryOptions) (*Summary, error) {
	o = e.with(o)
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	snap, err := e.g.Snapshot(o.Now)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	r := newRun(ctx, snap, o.MaxElements)
	comps, rels, err := e.summaryElements(r, o)
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	s := &Summary{At: snap.Time(), Components: len(comps), Relations: len(rels), Sources: []SourceCount{}}
	err = snap.Terms(graphstore.IdxSource, "", func(term string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids, err := snap.Postings(graphstore.IdxSource, term)
		if err != nil {
			return err
		}
		sc := SourceCount{Source: term, Components: countCommon(ids, comps), Relations: countCommon(ids, rels)}
		if sc.Components+sc.Relations > 0 {
			s.Sources = append(s.Sources, sc)
		}
		return nil
	})
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	return s, nil
}

// summaryElements returns the ids of the components and relations a
// summary counts, ascending: every live one, or those in the scope.
func (e *Engine) summaryElements(r *run, o QueryOptions) (comps, rels []graphstore.ID, err error) {
	if o.Scope == nil {
		if comps, err = r.snap.Postings(graphstore.IdxKind, graphstore.TermComponent); err != nil {
			return nil, nil, err
		}
		rels, err = r.snap.Postings(graphstore.IdxKind, graphstore.TermRelation)
		return comps, rels, err
	}
	if comps, err = e.scopeIDs(r, o); err != nil {
		return nil, nil, err
	}
	var adj []graphstore.Adjacency
	for _, id := range comps {
		if err := r.ctx.Err(); err != nil {
			return nil, nil, err
		}
		if adj, err = r.snap.Adjacent(id, graphstore.IdxOut, adj[:0]); err != nil {
			return nil, nil, err
		}
		for _, a := range adj {
			if _, in := slices.BinarySearch(comps, a.Other); in {
				rels = append(rels, a.Relation)
			}
		}
	}
	slices.Sort(rels)
	return comps, slices.Compact(rels), nil
}
