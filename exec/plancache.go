package exec

import (
	"sync"
	"time"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// planCache keeps the plans of topology statements that read the graph at
// the query's start (no AT, no CHANGES), so that a statement run again (a
// server's statement cache hands out the same parsed statement for the
// same text) is not translated and rewritten again: a selective query's
// planning was about 1.5 µs and a fifth of its allocations.
//
// Such a plan holds no time: the query's read time is its start, set per
// run (planner.Build's Query.At is Options.Now for these statements), so a
// cached plan answers every run as a fresh one does. Statements with AT or
// CHANGES are planned every time: their times count from the run's start.
// What a plan does depend on is the planner's estimates, which only choose
// among plans with the same answer (the differential suite compares every
// query with and without the rewrites); a plan is made again once it is
// planFresh old, so its estimates follow the graph. A plan is kept per
// statement and scope (both by identity: parsed statements and a key's
// scope are immutable), and per engine, so its disabled rewrites are the
// same. Engine.Over's engines keep none: their reads are observed.
//
// It is bounded in entries (an arbitrary one makes room) and safe for
// concurrent use.
type planCache struct {
	mu sync.Mutex
	m  map[planKey]*keptPlan
}

type planKey struct {
	stmt  *lang.TopologyStmt
	scope lang.Expr // every Expr is a pointer type
}

// keptPlan is a planner.Query less its times.
type keptPlan struct {
	root, scope planner.Plan
	rewrites    []string
	made        time.Time
}

const (
	planCacheEntries = 1024
	planFresh        = time.Second
)

func newPlanCache() *planCache { return &planCache{m: make(map[planKey]*keptPlan)} }

// cachedPlan plans a topology statement as plan does, from the cache when
// it may. The caller closes the catalog (empty for a cached plan: a
// topology run opens the snapshot it reads).
func (e *Engine) cachedPlan(stmt lang.Statement, o QueryOptions) (*planner.Query, *catalog, error) {
	ts, ok := stmt.(*lang.TopologyStmt)
	c := e.plans
	if !ok || c == nil || ts.At != nil || ts.Changes != nil {
		return e.plan(stmt, o)
	}
	key := planKey{stmt: ts, scope: o.Scope}
	c.mu.Lock()
	p := c.m[key]
	c.mu.Unlock()
	if p != nil && time.Since(p.made) < planFresh {
		return &planner.Query{Root: p.root, At: o.Now, Scope: p.scope, Rewrites: p.rewrites}, &catalog{g: e.g}, nil
	}
	q, cat, err := e.plan(stmt, o)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= planCacheEntries {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = &keptPlan{root: q.Root, scope: q.Scope, rewrites: q.Rewrites, made: time.Now()}
	return q, cat, nil
}
