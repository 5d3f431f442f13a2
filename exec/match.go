package exec

import (
	"slices"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// Matcher decides, from one component version alone, whether a query
// selects it: a query whose plan holds no neighbourhood expansion (in the
// query or its scope) selects exactly the live components its filter holds
// for, and its answer is those components and the traversable relations
// among them. Live subscriptions use it to keep such an answer current from
// a commit's changes without running the query again.
//
// A Matcher is immutable and safe for concurrent use.
type Matcher struct {
	root planner.Plan
}

// Matcher plans a topology statement as RunWith would under o and returns
// its Matcher; ok is false when the answer depends on more than each
// component's own fields (withNeighborsOf, in the query or the scope) or the
// statement is not a plain topology query (AT, CHANGES).
func (e *Engine) Matcher(stmt *lang.TopologyStmt, o QueryOptions) (m *Matcher, ok bool, err error) {
	if stmt.At != nil || stmt.Changes != nil {
		return nil, false, nil
	}
	q, cat, err := e.plan(stmt, e.with(o))
	cat.close()
	if err != nil {
		return nil, false, err
	}
	if !componentwise(q.Root) {
		return nil, false, nil
	}
	return &Matcher{root: q.Root}, true, nil
}

// componentwise reports whether a plan selects each component by its own
// fields.
func componentwise(p planner.Plan) bool {
	switch p := p.(type) {
	case *planner.Scan, *planner.GlobScan, *planner.IDs, *planner.All, *planner.Nothing:
		return true
	case *planner.Filter:
		return componentwise(p.Input)
	case *planner.Union:
		return !slices.ContainsFunc(p.Inputs, func(x planner.Plan) bool { return !componentwise(x) })
	case *planner.Intersect:
		return !slices.ContainsFunc(p.Inputs, func(x planner.Plan) bool { return !componentwise(x) })
	case *planner.Except:
		return componentwise(p.Left) && componentwise(p.Right)
	}
	return false // Expand, or a node added later that this file does not know
}

// Match reports whether the query selects component c (a live version).
func (m *Matcher) Match(c *graphstore.Component) bool { return selects(m.root, c) }

// selects is a plan's membership test for one component: what the
// operators compute from the indexes, computed from the component's values
// of the keys (graphstore.KeyValues, the terms the indexes file it under).
func selects(p planner.Plan, c *graphstore.Component) bool {
	switch p := p.(type) {
	case *planner.Scan:
		return matches(&planner.Match{Field: p.Field, Terms: p.Terms}, c)
	case *planner.GlobScan:
		return matches(&planner.Match{Field: p.Field, Globs: p.Globs}, c)
	case *planner.IDs:
		return slices.Contains(p.IDs, uint64(c.ID))
	case *planner.All:
		return true
	case *planner.Filter:
		return selects(p.Input, c) && eval(p.Pred, c)
	case *planner.Union:
		return slices.ContainsFunc(p.Inputs, func(x planner.Plan) bool { return selects(x, c) })
	case *planner.Intersect:
		return !slices.ContainsFunc(p.Inputs, func(x planner.Plan) bool { return !selects(x, c) })
	case *planner.Except:
		return selects(p.Left, c) && !selects(p.Right, c)
	}
	return false
}

// ComponentOf is a component version as results show it.
func ComponentOf(c *graphstore.Component) Component { return componentOf(c) }

// RelationOf is a relation version as results show it.
func RelationOf(r *graphstore.Relation) Relation { return relationOf(r) }

// MaxElements is the element limit the engine's queries run under: a
// caller that keeps an answer current without running the query holds it
// to the same limit.
func (e *Engine) MaxElements() int { return e.o.MaxElements }
