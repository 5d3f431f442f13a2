package exec

import (
	"context"
	"slices"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// ComponentHealth is a component's health at one time and what it rests
// on: the check states behind its own state, and the dependencies its
// propagated state comes from.
type ComponentHealth struct {
	// At is the time the graph was read at.
	At        time.Time `json:"at"`
	Component Component `json:"component"`
	// Checks are the check states bound to the component, by stream and
	// id. Its own state (healthState) is the most severe of these and of
	// what its sources say.
	Checks []Check `json:"checks"`
	// Dependencies are the components it depends on directly whose
	// propagated state is DEVIATING or CRITICAL, by relation id: where its
	// propagated state can come from. Following them (Health of each)
	// leads to the components whose own state is the cause.
	Dependencies []Dependency `json:"dependencies"`
}

// Check is a check state as results show it (StackState's CheckState).
type Check struct {
	Stream                    string `json:"stream"`
	CheckStateID              string `json:"checkStateId"`
	Name                      string `json:"name"`
	Health                    string `json:"health"`
	Message                   string `json:"message"`
	TopologyElementIdentifier string `json:"topologyElementIdentifier"`
	LastUpdateTimestamp       int64  `json:"lastUpdateTimestamp"` // epoch milliseconds
}

// Dependency is a component depended on, through one relation.
type Dependency struct {
	Relation  uint64    `json:"relation"`
	Component Component `json:"component"`
}

func checkOf(c *graphstore.Check) Check {
	return Check{Stream: c.Stream, CheckStateID: c.CheckID, Name: c.Name, Health: c.State.String(),
		Message: c.Message, TopologyElementIdentifier: c.Identifier, LastUpdateTimestamp: c.Updated / int64(time.Millisecond)}
}

// Health returns a component's health at o.Now (the engine's clock when
// zero): its own and propagated state, the check states bound to it and its
// degraded dependencies. It returns nil, and no error, when no component
// with that id exists then or when o.Scope does not hold it then; a
// dependency outside the scope is left out. It honours the timeout and the
// element limit like a query.
func (e *Engine) Health(parent context.Context, id uint64, o QueryOptions) (*ComponentHealth, error) {
	o = e.with(o)
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	h, err := e.health(ctx, graphstore.ID(id), o)
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	return h, nil
}

func (e *Engine) health(ctx context.Context, id graphstore.ID, o QueryOptions) (*ComponentHealth, error) {
	scope, err := e.scopePlan(o)
	if err != nil {
		return nil, err
	}
	snap, err := e.g.Snapshot(o.Now)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	r := newRun(ctx, snap, o.MaxElements)
	c, err := r.component(id)
	if err != nil || c == nil {
		return nil, err
	}
	deps, err := r.degradedDependencies(id)
	if err != nil {
		return nil, err
	}
	if scope != nil {
		ids := []graphstore.ID{id}
		for _, d := range deps {
			ids = append(ids, d.Other)
		}
		slices.Sort(ids)
		seen, err := visible(r, scope, slices.Compact(ids))
		if err != nil {
			return nil, err
		}
		if _, ok := slices.BinarySearch(seen, id); !ok {
			return nil, nil
		}
		deps = slices.DeleteFunc(deps, func(a graphstore.Adjacency) bool {
			_, ok := slices.BinarySearch(seen, a.Other)
			return !ok
		})
	}
	checks, err := graphstore.ChecksOf(snap, id)
	if err != nil {
		return nil, err
	}
	h := &ComponentHealth{At: o.Now, Component: componentOf(c), Checks: make([]Check, 0, len(checks)),
		Dependencies: make([]Dependency, 0, len(deps))}
	for _, ch := range checks {
		h.Checks = append(h.Checks, checkOf(ch))
	}
	for _, d := range deps {
		dc, err := r.component(d.Other)
		if err != nil {
			return nil, err
		}
		h.Dependencies = append(h.Dependencies, Dependency{Relation: uint64(d.Relation), Component: componentOf(dc)})
	}
	return h, nil
}

// scopePlan plans a query's scope on its own, nil without one.
func (e *Engine) scopePlan(o QueryOptions) (planner.Plan, error) {
	if o.Scope == nil {
		return nil, nil
	}
	cat := &catalog{g: e.g}
	defer cat.close()
	q, err := planner.Build(&lang.TopologyStmt{Query: o.Scope}, cat, planner.Options{Now: o.Now, Disabled: e.o.Disabled})
	if err != nil {
		return nil, err
	}
	return q.Root, nil
}

// degradedDependencies returns, by relation id, the traversable relations
// through which component id depends on a component whose propagated state
// is DEVIATING or CRITICAL, with that component.
func (r *run) degradedDependencies(id graphstore.ID) ([]graphstore.Adjacency, error) {
	var out, adj []graphstore.Adjacency
	var err error
	for _, ix := range [...]graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		if adj, err = r.snap.Adjacent(id, ix, adj[:0]); err != nil {
			return nil, err
		}
		for _, a := range adj {
			rel, err := r.snap.Element(a.Relation)
			if err != nil {
				return nil, err
			}
			if rel == nil || rel.Relation() == nil {
				return nil, internalf("relation %d is adjacent but not live", a.Relation)
			}
			dir := rel.Relation().Dependency
			if a.Other == id || (ix == graphstore.IdxOut && !dir.SourceDepends()) || (ix == graphstore.IdxIn && !dir.TargetDepends()) {
				continue
			}
			other, err := r.peek(a.Other)
			if err != nil {
				return nil, err
			}
			if other == nil {
				return nil, internalf("relation %d leads to component %d, which is not live", a.Relation, a.Other)
			}
			if other.Propagated.Severe() {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b graphstore.Adjacency) int { return int(a.Relation) - int(b.Relation) })
	return out, nil
}
