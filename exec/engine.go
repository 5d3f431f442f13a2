package exec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// Graph is what the engine needs of a topology store: reads at a time.
// graphstore.Store implementations satisfy it.
type Graph interface {
	Snapshot(t time.Time) (graphstore.Snapshot, error)
}

// Options configure an engine. The zero value is usable.
type Options struct {
	// MaxElements is how many components one query may load
	// (DefaultMaxElements when zero).
	MaxElements int
	// Timeout bounds a query (DefaultTimeout when zero).
	Timeout time.Duration
	// Disabled names planner rewrites to skip.
	Disabled map[string]bool
	// Now is the clock queries start by (time.Now when nil).
	Now func() time.Time
	// Data are the stores of METRICS, EVENTS and TRACES.
	Data DataStores
}

// Engine runs TQL statements against a graph. It is safe for concurrent
// use; each query opens its own snapshots.
type Engine struct {
	g     Graph
	o     Options
	plans *planCache // nil: plan every query (see planCache)
}

// New returns an engine over g.
func New(g Graph, o Options) *Engine {
	if o.MaxElements <= 0 {
		o.MaxElements = DefaultMaxElements
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Engine{g: g, o: o, plans: newPlanCache()}
}

// Over returns an engine with e's options that reads g instead of e's
// graph. Every read of a query run on it goes through g's snapshots, which
// lets a caller observe or confine what a query reads (live subscriptions
// record each evaluation's read set this way). It costs one allocation.
func (e *Engine) Over(g Graph) *Engine {
	return &Engine{g: g, o: e.o}
}

// QueryOptions override an engine's options for one query. The zero value
// keeps the engine's.
type QueryOptions struct {
	// Now is the time the query starts at: relative times resolve against
	// it, and a query without AT reads the graph then (the engine's clock
	// when zero).
	Now time.Time
	// Timeout bounds this query (the engine's when zero).
	Timeout time.Duration
	// MaxElements is how many components this query may load (the
	// engine's when zero).
	MaxElements int
	// Scope, when not nil, is a topology filter that confines the query:
	// no component outside it reaches the result, at any time the query
	// reads (an API key's scope).
	Scope lang.Expr
}

// with fills the zero fields of o from the engine's options.
func (e *Engine) with(o QueryOptions) QueryOptions {
	if o.Now.IsZero() {
		o.Now = e.o.Now()
	}
	if o.Timeout <= 0 {
		o.Timeout = e.o.Timeout
	}
	if o.MaxElements <= 0 {
		o.MaxElements = e.o.MaxElements
	}
	return o
}

// Query parses and runs one statement.
func (e *Engine) Query(ctx context.Context, src string) (*Result, error) {
	stmt, err := lang.Parse(src)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, stmt)
}

// plan plans a topology statement. The caller closes the catalog.
func (e *Engine) plan(stmt lang.Statement, o QueryOptions) (*planner.Query, *catalog, error) {
	ts, ok := stmt.(*lang.TopologyStmt)
	if !ok {
		return nil, &catalog{}, unsupported(stmt)
	}
	cat := &catalog{g: e.g}
	q, err := planner.Build(ts, cat, planner.Options{Now: o.Now, Disabled: e.o.Disabled, Scope: o.Scope})
	if err != nil {
		cat.close()
		return nil, nil, err
	}
	return q, cat, nil
}

// Explain returns the plan of a statement drawn as a tree.
func (e *Engine) Explain(stmt lang.Statement) (string, error) {
	return e.ExplainWith(stmt, QueryOptions{})
}

// ExplainWith returns the plan of a statement with per-query options (its
// scope shows as an intersection). A scoped plan is drawn without
// estimates: they count components of the whole graph, which a scoped
// caller must not learn.
func (e *Engine) ExplainWith(stmt lang.Statement, o QueryOptions) (string, error) {
	if isData(stmt) {
		return e.explainData(stmt, e.with(o))
	}
	q, cat, err := e.plan(stmt, e.with(o))
	if err != nil {
		return "", err
	}
	defer cat.close()
	if o.Scope != nil {
		return planner.Explain(q, nil), nil
	}
	return planner.Explain(q, cat), nil
}

// Run runs one statement with the engine's options.
func (e *Engine) Run(parent context.Context, stmt lang.Statement) (*Result, error) {
	return e.RunWith(parent, stmt, QueryOptions{})
}

// RunWith runs one statement with per-query options.
func (e *Engine) RunWith(parent context.Context, stmt lang.Statement, o QueryOptions) (*Result, error) {
	o = e.with(o)
	if isData(stmt) {
		return e.runData(parent, stmt, o)
	}
	ctx, cancel := withTimeout(parent, o.Timeout) // planning counts too
	defer cancel()
	q, cat, err := e.planned(ctx, stmt, o)
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	var res *Result
	if q.Changes {
		cat.close()
		var c *ChangesResult
		c, err = e.changes(ctx, q, o.MaxElements)
		res = &Result{Changes: c}
	} else {
		b := &topologyBuilder{t: &TopologyResult{EvaluatedAt: q.At}}
		err = e.topology(ctx, q, o.MaxElements, cat, b) // takes over cat's snapshot
		b.done()
		res = &Result{Topology: b.t}
	}
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	return res, nil
}

// planned plans a topology statement under ctx (planning counts against
// the query's timeout). The caller closes the catalog.
func (e *Engine) planned(ctx context.Context, stmt lang.Statement, o QueryOptions) (*planner.Query, *catalog, error) {
	q, cat, err := e.cachedPlan(stmt, o)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cat.close()
		return nil, nil, err
	}
	return q, cat, nil
}

// timeout reports a query stopped by its own deadline as a TimeoutError;
// a caller's deadline or cancellation stays the caller's error.
func timeout(parent, ctx context.Context, limit time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
		return &TimeoutError{Timeout: limit}
	}
	return err
}

func unsupported(stmt lang.Statement) error {
	kind := "this statement"
	switch stmt.(type) {
	case *lang.MetricsStmt:
		kind = "METRICS"
	case *lang.EventsStmt:
		kind = "EVENTS"
	case *lang.TracesStmt:
		kind = "TRACES"
	}
	return fmt.Errorf("%w: %s statements need a store for their data, and this engine has none", ErrUnsupported, kind)
}

// evaluate runs a plan against one snapshot and returns the selected ids.
func evaluate(r *run, root planner.Plan) ([]graphstore.ID, error) {
	return evaluateAppend(r, root, nil)
}

// evaluateInto is evaluate, appending the ids to r's buffer: they are
// valid until r is released.
func evaluateInto(r *run, root planner.Plan) ([]graphstore.ID, error) {
	ids, err := evaluateAppend(r, root, r.ids[:0])
	r.ids = ids
	return ids, err
}

func evaluateAppend(r *run, root planner.Plan, dst []graphstore.ID) ([]graphstore.ID, error) {
	n, err := planner.Construct(root, builder{r})
	if err != nil {
		return dst, err
	}
	it := n.(iterator)
	defer it.Close()
	return drainInto(dst, it)
}

func (e *Engine) topology(ctx context.Context, q *planner.Query, limit int, cat *catalog, out topologySink) error {
	snap, err := cat.snapshotAt(q.At)
	if err != nil {
		return err
	}
	defer snap.Close()
	r := newRun(ctx, snap, limit)
	defer r.release() // the answer keeps or encodes the elements, never r's buffers
	if out.keeps() {
		r.keepElements()
	}
	ids, err := evaluateInto(r, q.Root)
	if err != nil {
		return err
	}
	if err := r.countResult(ids); err != nil {
		return err
	}
	out.components(len(ids))
	relIDs, err := relationIDsAmong(r, ids, func(ids []graphstore.ID, els []*graphstore.Element) error {
		for i, el := range els {
			if el == nil {
				return internalf("component %d selected but not live at %s", ids[i], q.At)
			}
		}
		return out.component(els)
	})
	if err != nil {
		return err
	}
	out.relations(len(relIDs))
	return r.relations(relIDs, out.relation)
}

// topologySink receives a topology query's answer while the query reads
// it: the number of components, the components' elements a batch at a
// time, the number of relations, the relations' elements a batch at a
// time, in the order of the answer. The elements are the store's (shared
// and immutable: never modify them; they may be kept, and read as they
// were at the query's time after the snapshot is closed). A
// topologyBuilder builds a TopologyResult that refers to them; RunJSON's
// encoder writes JSON straight from them.
type topologySink interface {
	// keeps reports whether the sink keeps the elements to be read later
	// (if at all) rather than reading each as it comes.
	keeps() bool
	components(n int)
	component(els []*graphstore.Element) error // valid only during the call; the elements may be kept
	relations(n int)
	relation(els []*graphstore.Element) error // as component
}

// topologyBuilder is the topologySink that fills a TopologyResult. It
// keeps the elements, not copies of their rows: a row is converted when
// it is read (Rows.At).
type topologyBuilder struct {
	t     *TopologyResult
	comps []*graphstore.Element
	rels  []*graphstore.Element
}

func (b *topologyBuilder) keeps() bool { return true }

func (b *topologyBuilder) components(n int) { b.comps = make([]*graphstore.Element, 0, n) }

func (b *topologyBuilder) component(els []*graphstore.Element) error {
	b.comps = append(b.comps, els...)
	return nil
}

func (b *topologyBuilder) relations(n int) { b.rels = make([]*graphstore.Element, 0, n) }

func (b *topologyBuilder) relation(els []*graphstore.Element) error {
	b.rels = append(b.rels, els...)
	return nil
}

// done sets the result's rows.
func (b *topologyBuilder) done() {
	b.t.Components, b.t.Relations = rowsOfElements[Component](b.comps), rowsOfElements[Relation](b.rels)
}

// relationsAmong returns the traversable relations whose both ends are in
// ids (sorted), ordered by relation id.
func relationsAmong(r *run, ids []graphstore.ID) ([]*graphstore.Relation, error) {
	relIDs, err := relationIDsAmong(r, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*graphstore.Relation, 0, len(relIDs))
	err = r.relations(relIDs, func(els []*graphstore.Element) error {
		for _, el := range els {
			out = append(out, el.Relation())
		}
		return nil
	})
	return out, err
}

// relationIDsAmong returns the ids of the traversable relations whose both
// ends are in ids (sorted), ascending. visit, when not nil, is called with
// each batch of components (counted against the limit; nil when not live;
// see run.components) just before their relations are looked up, so a caller that also loads the
// component reads the store's entry for it once. Both are read a batch at
// a time (see graphstore.BatchViewer).
func relationIDsAmong(r *run, ids []graphstore.ID, visit func([]graphstore.ID, []*graphstore.Element) error) ([]graphstore.ID, error) {
	var relIDs []graphstore.ID // grown as found: a large list allocated up front is fresh memory per query
	among := membersOf(ids)
	defer among.release()
	ar, _ := r.snap.(graphstore.AmongReader)
	set := among.forStore()
	for len(ids) > 0 {
		part := ids[:min(len(ids), batchSize)]
		ids = ids[len(part):]
		if visit != nil {
			if err := r.components(part, visit); err != nil {
				return nil, err
			}
		}
		var err error
		related := false
		if ar != nil {
			if relIDs, related, err = ar.RelationsAmong(part, set, relIDs); err != nil {
				return nil, err
			}
		}
		if !related {
			if relIDs, err = relateEach(r, part, among, relIDs); err != nil {
				return nil, err
			}
		}
		if err := r.check(); err != nil {
			return nil, err
		}
	}
	sortIDs(relIDs)
	return relIDs, nil
}

// relateEach appends the relations going out of part whose other end is
// in among, reading each component's list (a batch at a time when the
// snapshot can): relationIDsAmong's way for a snapshot that cannot relate
// them itself (graphstore.AmongReader).
func relateEach(r *run, part []graphstore.ID, among members, relIDs []graphstore.ID) ([]graphstore.ID, error) {
	lists, ok, err := r.adjacentViews(part, graphstore.IdxOut)
	if err != nil {
		return nil, err
	}
	for i, id := range part {
		var adj []graphstore.Adjacency
		if ok {
			adj = lists[i]
		} else if adj, err = r.adjacent(id, graphstore.IdxOut); err != nil {
			return nil, err
		}
		for _, a := range adj {
			if among.has(a.Other) {
				relIDs = append(relIDs, a.Relation)
			}
		}
	}
	return relIDs, nil
}

// catalog gives the planner estimates from a snapshot of the latest commit,
// opened on first use.
type catalog struct {
	g    Graph
	snap graphstore.Snapshot
}

func (c *catalog) open() (graphstore.Snapshot, error) {
	if c.snap == nil {
		s, err := c.g.Snapshot(time.Time{})
		if err != nil {
			return nil, err
		}
		c.snap = s
	}
	return c.snap, nil
}

func (c *catalog) Estimate(f planner.Field, term string) (int, error) {
	if f == planner.FieldID {
		return 1, nil
	}
	ix, err := indexOf(f)
	if err != nil {
		return 0, err
	}
	s, err := c.open()
	if err != nil {
		return 0, err
	}
	return s.Estimate(ix, term)
}

func (c *catalog) Total() (int, error) {
	s, err := c.open()
	if err != nil {
		return 0, err
	}
	return s.Estimate(graphstore.IdxKind, graphstore.TermComponent)
}

// snapshotAt returns a snapshot of the graph at t for a query to read,
// and leaves the catalog closed. The catalog's own snapshot, opened for
// the planner's estimates, serves when t is at or after the commit it
// reads: it is then the graph at t as of when the query was planned, and
// a read at the current time opens one snapshot, not two.
func (c *catalog) snapshotAt(t time.Time) (graphstore.Snapshot, error) {
	if s := c.snap; s != nil {
		c.snap = nil
		if !t.Before(s.Time()) {
			return s, nil
		}
		s.Close()
	}
	return c.g.Snapshot(t)
}

func (c *catalog) close() {
	if c != nil && c.snap != nil {
		c.snap.Close()
		c.snap = nil
	}
}
