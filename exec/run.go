package exec

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
)

// run is the state of one evaluation of a plan against one snapshot: the
// context, the element limit, and the components touched so far.
type run struct {
	ctx     context.Context
	snap    graphstore.Snapshot
	view    graphstore.AdjacencyViewer // snap's, when it has one
	batch   graphstore.BatchViewer     // snap's, when it has one
	refs    graphstore.RefViewer       // snap's, when it has one and the answer keeps its elements (keepElements)
	limit   int
	touched *idSet
	spare   *idSet // an empty set to use (takeSet), kept for the next run
	counted bool   // the result's components are counted already (countResult)
	steps   int
	adj     []graphstore.Adjacency // reused buffer of adjacency pages
	elems   []*graphstore.Element  // reused buffer of a batch of elements
	lists   [][]graphstore.Adjacency
	ids     []graphstore.ID // reused buffer of the result's ids (evaluateInto)
}

func newRun(ctx context.Context, snap graphstore.Snapshot, limit int) *run {
	view, _ := snap.(graphstore.AdjacencyViewer)
	batch, _ := snap.(graphstore.BatchViewer)
	r := runPool.Get().(*run)
	touched := r.touched
	if touched == nil {
		touched = newIDSet()
	}
	*r = run{ctx: ctx, snap: snap, view: view, batch: batch, limit: limit, touched: touched, spare: r.spare,
		adj: r.adj[:0], elems: r.elems[:0], lists: r.lists[:0], ids: r.ids[:0]}
	return r
}

// runPool recycles runs' buffers: a small query is otherwise a few
// kilobytes of fresh memory per request (the result's ids, a batch of
// elements and of adjacency lists), which the garbage collector pays for
// again.
var runPool = sync.Pool{New: func() any { return new(run) }}

// release gives r's buffers back for another run. Only a caller that
// keeps nothing r handed out (the ids of evaluateInto, the views) may
// call it, once, when done with r; a run never released is simply
// collected.
func (r *run) release() {
	if cap(r.ids) > 64<<10 || cap(r.adj) > 64<<10 { // keep small buffers, let big ones go
		return
	}
	clear(r.elems[:cap(r.elems)]) // no references into the store's memory
	clear(r.lists[:cap(r.lists)])
	touched := r.touched
	if !touched.reset() {
		touched = nil
	}
	*r = run{adj: r.adj[:0], elems: r.elems[:0], lists: r.lists[:0], ids: r.ids[:0], touched: touched, spare: r.spare}
	runPool.Put(r)
}

// takeSet returns an empty id set for the caller's use, to hand back with
// putSet when done.
func (r *run) takeSet() *idSet {
	if s := r.spare; s != nil {
		r.spare = nil
		return s
	}
	return newIDSet()
}

// putSet keeps s, which the caller no longer uses, for another takeSet.
func (r *run) putSet(s *idSet) {
	if r.spare == nil && s.reset() {
		r.spare = s
	}
}

// batchSize is how many ids a result reads at a time through a
// BatchViewer: enough for the misses of neighbouring ids to overlap, few
// enough that the buffers stay small and a limit or cancellation stops
// the read soon.
const batchSize = 256

// keepElements says that the answer keeps the elements its components and
// relations are read from, to be read later if at all (a TopologyResult):
// a snapshot that can hand them out without reading them
// (graphstore.RefViewer) then does, and their kind, which the plan
// guarantees (a topology answer's ids are components, the ids adjacency
// lists name are relations), is not checked by reading them either.
func (r *run) keepElements() {
	r.refs, _ = r.snap.(graphstore.RefViewer)
}

// elementsView reads a batch of elements from memory when the snapshot
// can (see graphstore.BatchViewer, RefViewer); a nil entry is to be read
// with Element. The slice is valid until the next call.
func (r *run) elementsView(ids []graphstore.ID) ([]*graphstore.Element, bool, error) {
	if r.batch == nil && r.refs == nil {
		return nil, false, nil
	}
	if cap(r.elems) < len(ids) {
		r.elems = make([]*graphstore.Element, len(ids)) // at most batchSize; no more than a small result needs
	}
	dst := r.elems[:len(ids)]
	if r.refs != nil {
		ok, err := r.refs.ElementRefs(ids, dst)
		return dst, ok, err
	}
	ok, err := r.batch.ElementsView(ids, dst)
	return dst, ok, err
}

// isKind reports whether an element the batch read handed out is of the
// kind the caller expects; unchecked (true) when it was not read (refs).
func (r *run) isKind(el *graphstore.Element, k graphstore.Kind) bool {
	return r.refs != nil || el.Kind == k
}

// adjacentViews reads one side of a batch of components' adjacency from
// memory when the snapshot can; ok false means read each with adjacent.
// The slice is valid until the next call.
func (r *run) adjacentViews(ids []graphstore.ID, ix graphstore.Index) ([][]graphstore.Adjacency, bool, error) {
	if r.batch == nil {
		return nil, false, nil
	}
	if cap(r.lists) < len(ids) {
		r.lists = make([][]graphstore.Adjacency, len(ids))
	}
	dst := r.lists[:len(ids)]
	ok, err := r.batch.AdjacentViews(ids, ix, dst)
	return dst, ok, err
}

// components loads a batch of components (at most batchSize), counting
// each against the limit, and calls fn once with the ids and their
// elements (nil where an id is not a live component), in the same order.
// The elements are the store's, shared and immutable; the slice is valid
// until the next call. A result counted already (countResult) takes the
// batch as it is: one step per component, the context checked once, where
// a check and a call per component were a tenth of a broad filter's time
// at a million components.
func (r *run) components(ids []graphstore.ID, fn func([]graphstore.ID, []*graphstore.Element) error) error {
	elems, ok, err := r.elementsView(ids)
	if err != nil {
		return err
	}
	if elems == nil {
		if cap(r.elems) < len(ids) {
			r.elems = make([]*graphstore.Element, len(ids))
		}
		elems = r.elems[:len(ids)]
	}
	if r.counted {
		r.steps += len(ids)
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	for i, id := range ids {
		el := elems[i]
		switch {
		case ok && el != nil && r.isKind(el, graphstore.KindComponent):
			if !r.counted {
				if err := r.touch(id); err != nil {
					return err
				}
			}
		case r.counted:
			if el, err = r.peekElement(id); err != nil {
				return err
			}
		default:
			if err := r.touch(id); err != nil {
				return err
			}
			if el, err = r.peekElement(id); err != nil {
				return err
			}
		}
		elems[i] = el
	}
	return fn(ids, elems)
}

// relations loads relations adjacent to components of a result, a batch
// at a time, and calls fn with each batch's elements (valid only during
// the call; the elements may be kept); each must be live at the
// snapshot's time. An error of fn stops it.
func (r *run) relations(ids []graphstore.ID, fn func([]*graphstore.Element) error) error {
	for len(ids) > 0 {
		part := ids[:min(len(ids), batchSize)]
		ids = ids[len(part):]
		elems, ok, err := r.elementsView(part)
		if err != nil {
			return err
		}
		if elems == nil {
			if cap(r.elems) < len(part) {
				r.elems = make([]*graphstore.Element, len(part))
			}
			elems = r.elems[:len(part)]
		}
		for i, id := range part {
			var el *graphstore.Element
			if ok {
				el = elems[i]
			}
			if el == nil || !r.isKind(el, graphstore.KindRelation) {
				if el, err = r.relation(id); err != nil {
					return err
				}
			}
			elems[i] = el
		}
		if err := fn(elems); err != nil {
			return err
		}
		if err := r.check(); err != nil {
			return err
		}
	}
	return nil
}

// adjacent returns one side of a component's adjacency: the snapshot's own
// list when it hands it out without a copy, else a copy in r.adj. The list
// is valid until the next call of adjacent or expandFrom; never modify it.
func (r *run) adjacent(id graphstore.ID, ix graphstore.Index) ([]graphstore.Adjacency, error) {
	if r.view != nil {
		if l, ok, err := r.view.AdjacentView(id, ix); err != nil || ok {
			return l, err
		}
	}
	l, err := r.snap.Adjacent(id, ix, r.adj[:0])
	r.adj = l
	return l, err
}

// relation loads a relation adjacent to a component of the result: it must
// be live at the snapshot's time.
func (r *run) relation(id graphstore.ID) (*graphstore.Element, error) {
	el, err := r.snap.Element(id)
	if err != nil {
		return nil, err
	}
	if el == nil || el.Relation() == nil {
		return nil, internalf("relation %d is adjacent but not live", id)
	}
	return el, nil
}

// check returns the context's error every 64 steps: cancellation and
// timeouts stop a query within microseconds without a syscall per element.
func (r *run) check() error {
	r.steps++
	if r.steps&63 == 0 {
		return r.ctx.Err()
	}
	return nil
}

// touch counts a component against the limit; each is counted once. It is
// also a step for cancellation, counted or not: work that only revisits
// components (a union of the same neighbourhood many times) must stop at
// the deadline too.
func (r *run) touch(id graphstore.ID) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.touched.has(id) {
		return nil
	}
	if r.touched.len() >= r.limit {
		return &LimitError{Limit: r.limit}
	}
	r.touched.add(id)
	return nil
}

// count counts a component of the result against the limit, unless
// countResult counted them all; it is a step for cancellation either way.
func (r *run) count(id graphstore.ID) error {
	if r.counted {
		return r.check()
	}
	return r.touch(id)
}

// countResult counts a result's components against the limit at once
// when nothing has been counted yet (no expansion touched any): its ids
// are sorted, so the distinct ones are counted by comparing neighbours,
// and a broad result then does not add ten thousand ids to the touched
// set one by one (a sixth of a broad filter's time at 100k).
func (r *run) countResult(ids []graphstore.ID) error {
	if r.touched.len() > 0 {
		return nil
	}
	n := len(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			n--
		}
	}
	if n > r.limit {
		return &LimitError{Limit: r.limit}
	}
	r.counted = true
	return nil
}

// component loads a component live at the snapshot's time (nil when the id
// is not one), counting it against the limit.
func (r *run) component(id graphstore.ID) (*graphstore.Component, error) {
	if err := r.touch(id); err != nil {
		return nil, err
	}
	return r.peek(id)
}

// peek loads a component live at the snapshot's time without counting it
// against the limit, for a filter that may drop it; it is still a step for
// cancellation.
func (r *run) peek(id graphstore.ID) (*graphstore.Component, error) {
	el, err := r.peekElement(id)
	if err != nil || el == nil {
		return nil, err
	}
	return el.Component(), nil
}

// peekElement is peek returning the component's element (nil when id is
// not a live component).
func (r *run) peekElement(id graphstore.ID) (*graphstore.Element, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	e, err := r.snap.Element(id)
	if err != nil || e == nil || e.Component() == nil {
		return nil, err
	}
	return e, nil
}

// indexOf returns the index that serves a topology field.
func indexOf(f planner.Field) (graphstore.Index, error) {
	ix, ok := graphstore.KeyIndex(f)
	if !ok {
		return 0, internalf("no index for field %s", f)
	}
	return ix, nil
}

// builder implements planner.Factory: it turns a plan into iterators over
// one run. Building does no work; leaves read their postings on first use.
type builder struct{ r *run }

var _ planner.Factory = builder{}

func (b builder) ConstructScan(f planner.Field, terms []string) (planner.Node, error) {
	ix, err := indexOf(f)
	if err != nil {
		return nil, err
	}
	set := func() (memSet, bool, error) { return b.r.termsSet(ix, terms) }
	l := &lazyIter{set: set}
	if sr, ok := b.r.snap.(graphstore.SortedSetReader); ok && len(terms) == 1 {
		l.sorted, l.ix, l.term = sr, ix, terms[0]
	}
	l.open = func() (iterator, error) {
		lists := make([][]graphstore.ID, 0, len(terms))
		for _, t := range terms {
			ids, err := b.r.snap.Postings(ix, t)
			if err != nil {
				return nil, err
			}
			lists = append(lists, ids)
		}
		return newSliceIter(mergeSorted(lists)), b.r.ctx.Err()
	}
	return l, nil
}

// ConstructGlobScan lists the index's terms under each glob's literal
// prefix and reads the postings of those that match.
func (b builder) ConstructGlobScan(f planner.Field, globs []planner.Glob) (planner.Node, error) {
	ix, err := indexOf(f)
	if err != nil {
		return nil, err
	}
	set := func() (memSet, bool, error) { return b.r.globSet(ix, globs) }
	return &lazyIter{set: set, open: func() (iterator, error) {
		var lists [][]graphstore.ID
		for _, g := range globs {
			err := b.r.snap.Terms(ix, g.Prefix(), func(term string) error {
				if !g.Match(term) {
					return b.r.check()
				}
				ids, err := b.r.snap.Postings(ix, term)
				lists = append(lists, ids)
				return cmp.Or(err, b.r.check()) // the first error
			})
			if err != nil {
				return nil, err
			}
		}
		return newSliceIter(mergeSorted(lists)), nil
	}}, nil
}

// ConstructIDs keeps the ids that are components live at the read time.
func (b builder) ConstructIDs(ids []uint64) (planner.Node, error) {
	return lazyIDs(func() ([]graphstore.ID, error) {
		var out []graphstore.ID
		for _, n := range ids {
			c, err := b.r.peek(graphstore.ID(n)) // only to know it is a live component: the result counts it
			if err != nil {
				return nil, err
			}
			if c != nil {
				out = append(out, c.ID)
			}
		}
		return out, nil
	}), nil
}

func (b builder) ConstructAll() (planner.Node, error) {
	set := func() (memSet, bool, error) {
		return b.r.postingSet(graphstore.IdxKind, graphstore.TermComponent)
	}
	return &lazyIter{set: set, open: func() (iterator, error) {
		ids, err := b.r.snap.Postings(graphstore.IdxKind, graphstore.TermComponent)
		return newSliceIter(ids), err
	}}, nil
}

func (b builder) ConstructNothing() (planner.Node, error) { return newSliceIter(nil), nil }

func (b builder) ConstructFilter(in planner.Node, p planner.Pred) (planner.Node, error) {
	return &filterIter{in: in.(iterator), pred: p, r: b.r}, nil
}

func (b builder) ConstructUnion(ins []planner.Node) (planner.Node, error) {
	return newUnion(iterators(ins)), nil
}

func (b builder) ConstructIntersect(ins []planner.Node) (planner.Node, error) {
	return &intersectIter{ins: iterators(ins)}, nil
}

func (b builder) ConstructExcept(l, r planner.Node) (planner.Node, error) {
	return &exceptIter{left: l.(iterator), right: r.(iterator)}, nil
}

func (b builder) ConstructExpand(seeds planner.Node, levels int, dir lang.Direction, types []planner.Glob) (planner.Node, error) {
	return lazyIDs(func() ([]graphstore.ID, error) {
		return b.r.expand(seeds.(iterator), levels, dir, types)
	}), nil
}

func iterators(ns []planner.Node) []iterator {
	out := make([]iterator, len(ns))
	for i, n := range ns {
		out[i] = n.(iterator)
	}
	return out
}

// filterIter keeps the input components its predicate holds for: when the
// input is a set in memory and so are the predicate's terms, by set algebra
// on the bitmaps (a conjunction of three terms at 100k components tested
// two thousand ids for membership in two sets, where intersecting the
// bitmaps' containers costs a few microseconds); by set membership when
// only the terms are in memory; else by loading each component.
type filterIter struct {
	in     iterator
	pred   planner.Pred
	r      *run
	err    error
	tried  bool                     // whether the filter was prepared
	direct bool                     // in is the filtered set itself
	bm     memSet                   // that set, when direct
	all    iterator                 // the input as built, when direct (for Close)
	member func(graphstore.ID) bool // the test, nil when the terms are not in memory
}

func (f *filterIter) Next() bool {
	if !f.prepare() {
		return false
	}
	if f.direct {
		return f.in.Next()
	}
	return f.in.Next() && f.accept()
}

func (f *filterIter) SeekGE(id graphstore.ID) bool {
	if !f.prepare() {
		return false
	}
	if f.direct {
		return f.in.SeekGE(id)
	}
	return f.in.SeekGE(id) && f.accept()
}

// prepare, on first use, filters the input's set by set algebra when it
// can, else compiles the predicate to a membership test when it can.
func (f *filterIter) prepare() bool {
	if f.tried {
		return f.err == nil
	}
	f.tried = true
	in, ok, err := bitmapOf(f.in)
	if err != nil {
		f.err = err
		return false
	}
	if ok {
		out, ok, err := f.r.filterSet(in, f.pred)
		if err != nil {
			f.err = err
			return false
		}
		if ok {
			f.all, f.in, f.bm, f.direct = f.in, newSetIter(out.bm), out, true
			return true
		}
	}
	f.member, _, f.err = f.r.setPred(f.pred)
	return f.err == nil
}

// bitmap implements setSource.
func (f *filterIter) bitmap() (memSet, bool, error) {
	if !f.prepare() {
		return memSet{}, false, f.err
	}
	return f.bm, f.bm.bm != nil, nil
}

// accept advances the input to the next component the predicate holds for.
func (f *filterIter) accept() bool {
	for {
		id := f.in.At()
		if f.member != nil {
			if f.member(id) {
				return true
			}
			if err := f.r.check(); err != nil {
				f.err = err
				return false
			}
			if !f.in.Next() {
				return false
			}
			continue
		}
		c, err := f.r.peek(id)
		if err != nil {
			f.err = err
			return false
		}
		if c != nil && eval(f.pred, c) {
			return true // counted if it reaches the result or seeds an expansion
		}
		if !f.in.Next() {
			return false
		}
	}
}

func (f *filterIter) At() graphstore.ID { return f.in.At() }

func (f *filterIter) Err() error {
	if f.err != nil {
		return f.err
	}
	return f.in.Err()
}

func (f *filterIter) Close() error {
	if f.all != nil {
		return f.all.Close()
	}
	return f.in.Close()
}

// eval evaluates a predicate on a component.
func eval(p planner.Pred, c *graphstore.Component) bool {
	switch p := p.(type) {
	case *planner.Match:
		return matches(p, c)
	case *planner.Not:
		return !eval(p.X, c)
	case *planner.And:
		for _, x := range p.Xs {
			if !eval(x, c) {
				return false
			}
		}
		return true
	case *planner.Or:
		for _, x := range p.Xs {
			if eval(x, c) {
				return true
			}
		}
	}
	return false
}

func matches(m *planner.Match, c *graphstore.Component) bool {
	for _, v := range graphstore.KeyValues(m.Field, c) {
		if slices.Contains(m.Terms, v) {
			return true
		}
		for _, g := range m.Globs {
			if g.Match(v) {
				return true
			}
		}
	}
	return false
}

// expand is withNeighborsOf: the seeds plus every component within levels
// hops, following outgoing relations (down), incoming ones (up) or both at
// every step; with types, only relations whose type matches one of them.
// Only traversable relations (both ends existing at the read time) are
// followed.
func (r *run) expand(seeds iterator, levels int, dir lang.Direction, types []planner.Glob) ([]graphstore.ID, error) {
	frontier, err := drain(seeds)
	if err != nil {
		return nil, err
	}
	visited := r.takeSet()
	defer r.putSet(visited)
	out := make([]graphstore.ID, 0, len(frontier))
	for _, id := range frontier {
		if err := r.touch(id); err != nil {
			return nil, err
		}
		if visited.add(id) {
			out = append(out, id)
		}
	}
	ixs := directionIndexes(dir)
	for level := 0; level < levels && len(frontier) > 0; level++ {
		var next []graphstore.ID
		for _, id := range frontier {
			if err := r.check(); err != nil { // a frontier of visited hubs touches nothing new
				return nil, err
			}
			for _, ix := range ixs {
				if next, err = r.expandFrom(id, ix, types, visited, next); err != nil {
					return nil, err
				}
			}
		}
		frontier = next
		out = append(out, next...)
	}
	slices.Sort(out)
	return out, nil
}

// follows reports whether a traversal restricted to types follows a
// relation (any relation when types is nil).
func (r *run) follows(rel graphstore.ID, types []planner.Glob) (bool, error) {
	if types == nil {
		return true, nil
	}
	e, err := r.snap.Element(rel)
	if err != nil {
		return false, err
	}
	if e == nil || e.Relation() == nil {
		return false, internalf("relation %d is adjacent but not live", rel)
	}
	t := planner.IndexTerm(planner.FieldType, e.Relation().Type)
	for _, g := range types {
		if g.Match(t) {
			return true, nil
		}
	}
	return false, nil
}

// adjacencyPage is how many relations of one component an expansion reads
// at a time: a hub is read page by page, so a query that reaches the
// element limit through it stops without reading the rest.
const adjacencyPage = 512

// expandFrom adds to next the unvisited components one hop from id through
// the relations of one side (only those of the given types, when set),
// counting each against the limit as it is found.
func (r *run) expandFrom(id graphstore.ID, ix graphstore.Index, types []planner.Glob, visited *idSet, next []graphstore.ID) ([]graphstore.ID, error) {
	var after graphstore.ID
	for {
		page, err := r.snap.AdjacentPage(id, ix, after, adjacencyPage, r.adj[:0])
		if err != nil {
			return next, err
		}
		r.adj = page
		for _, a := range page {
			if visited.has(a.Other) {
				continue
			}
			if ok, err := r.follows(a.Relation, types); err != nil || !ok {
				if err != nil {
					return next, err
				}
				continue
			}
			if err := r.touch(a.Other); err != nil {
				return next, err
			}
			visited.add(a.Other)
			next = append(next, a.Other)
		}
		if len(page) < adjacencyPage {
			return next, nil
		}
		after = page[len(page)-1].Relation
	}
}

func directionIndexes(d lang.Direction) []graphstore.Index {
	switch d {
	case lang.DirDown:
		return []graphstore.Index{graphstore.IdxOut}
	case lang.DirUp:
		return []graphstore.Index{graphstore.IdxIn}
	}
	return []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn}
}
