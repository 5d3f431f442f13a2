package exec

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// errEnough stops a scan of index terms once enough values are found.
var errEnough = errors.New("enough values")

// Values lists values of a topology key that a component carries at the
// query's time (o.Now, or the engine's clock), in index order: those that
// start with prefix (compared as the key compares), at most limit of them.
// It is what the shell completes a value from. Values of keys that compare
// case-insensitively come back lower-cased, as they are indexed. With a
// scope, only values that a component inside the scope carries are listed.
//
// key is a canonical topology key (lang.Words().TopologyKeys) other than
// id, which has no values to list.
func (e *Engine) Values(parent context.Context, key, prefix string, limit int, o QueryOptions) ([]string, error) {
	counts, err := e.ValueCounts(parent, key, prefix, limit, o)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(counts))
	for i, c := range counts {
		out[i] = c.Value
	}
	return out, nil
}

// ValueCount is a value of a topology key and how many components carry
// it.
type ValueCount struct {
	Value      string `json:"value"`
	Components int    `json:"components"`
}

// ValueCounts is Values with how many components carry each value (within
// the scope, when there is one): what tetra values and the shell's
// :values list.
func (e *Engine) ValueCounts(parent context.Context, key, prefix string, limit int, o QueryOptions) ([]ValueCount, error) {
	f, ok := planner.FieldOf(key)
	ix, indexed := graphstore.KeyIndex(f)
	if !ok || !indexed {
		return nil, fmt.Errorf("%w: a list of the values of %q (keys with values: name, type, layer, domain, environment, label, healthstate, identifier)", ErrUnsupported, key)
	}
	if limit <= 0 {
		return nil, nil
	}
	o = e.with(o)
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	snap, err := e.g.Snapshot(o.Now)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	r := newRun(ctx, snap, o.MaxElements)
	var scope []graphstore.ID
	if o.Scope != nil {
		if scope, err = e.scopeIDs(r, o); err != nil {
			return nil, timeout(parent, ctx, o.Timeout, err)
		}
	}
	out, err := termsCarried(r, ix, planner.IndexTerm(f, prefix), limit, scope, o.Scope != nil)
	return out, timeout(parent, ctx, o.Timeout, err)
}

// scopeIDs evaluates a scope at the run's time: the components it lets
// the caller see, sorted.
func (e *Engine) scopeIDs(r *run, o QueryOptions) ([]graphstore.ID, error) {
	q, cat, err := e.plan(&lang.TopologyStmt{Query: o.Scope}, QueryOptions{Now: o.Now})
	cat.close()
	if err != nil {
		return nil, err
	}
	return evaluate(r, q.Root)
}

// termsCarried lists up to limit terms of ix under prefix that some live
// element carries (one in scope, when scoped), with how many carry each.
// Terms may list a term whose postings are empty at the snapshot's time;
// those are skipped.
func termsCarried(r *run, ix graphstore.Index, prefix string, limit int, scope []graphstore.ID, scoped bool) ([]ValueCount, error) {
	var out []ValueCount
	err := r.snap.Terms(ix, prefix, func(term string) error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		ids, err := r.snap.Postings(ix, term)
		if err != nil {
			return err
		}
		n := len(ids)
		if scoped {
			n = countCommon(ids, scope)
		}
		if n == 0 {
			return nil
		}
		out = append(out, ValueCount{Value: term, Components: n})
		if len(out) >= limit {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countCommon counts the ids two ascending lists share, searching the
// longer for each of the shorter.
func countCommon(a, b []graphstore.ID) int {
	if len(a) > len(b) {
		a, b = b, a
	}
	n := 0
	for _, id := range a {
		if _, ok := slices.BinarySearch(b, id); ok {
			n++
		}
	}
	return n
}
