package live

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// view is one distinct query under one scope, shared by every subscription
// to it: one evaluation per change serves them all.
type view struct {
	key   string // canonical query and scope
	stmt  *lang.TopologyStmt
	scope lang.Expr
	// match, when not nil, is the query's filter: the view's answer is
	// maintained in place from the changes (maintain.go), not run again.
	match *exec.Matcher
	// cur is the latest answer. The dispatcher swaps it; subscribers load
	// it on their own goroutines.
	cur atomic.Pointer[version]

	// Owned by the dispatcher.
	subs       map[*Subscription]struct{}
	reads      *readSet // what the evaluation behind cur read; filed in the index
	state      viewState
	dirtySince time.Time // when the first commit that made it dirty came off the feed
	gone       bool      // removed (no subscribers, or failed): drop its evaluation
	// Of a maintained view (match set): the components its answer holds
	// as of the last commit taken (nil while a full evaluation is queued
	// or running), the changes taken since the answer behind cur, in
	// commit order, and whether the next evaluation must run the query.
	members      map[graphstore.ID]struct{}
	pending      []graphstore.Change
	pendingSince time.Time // when the first of pending came off the feed
	full         bool
}

// maintained reports whether the view's answer is kept in place.
func (v *view) maintained() bool { return v.match != nil }

type viewState uint8

const (
	viewIdle    viewState = iota // answer current as far as the dispatcher knows
	viewQueued                   // waiting for an evaluator
	viewRunning                  // being evaluated
)

// version is one answer of a view. It is immutable once published and
// shared: by the view while it is current, and by each subscriber until it
// has sent a later one, so at most one old version per subscriber stays in
// memory however far behind it falls.
type version struct {
	seq    int64                // commit time the answer is exact at
	result *exec.TopologyResult // the answer
	// from and diff: the previous answer's seq and what changed since;
	// diff is nil for a view's first answer.
	from       int64
	diff       *Diff
	resultJSON *encoded
	diffJSON   *encoded
	// observed is when the first commit behind this answer came off the
	// feed (zero for a first answer): where diff latency is measured from.
	observed time.Time
	// since holds the diffs to this answer from older ones that
	// subscribers which fell behind held (seq → *sharedDiff): subscribers
	// of a query tend to fall behind together, and then share one diff and
	// one encoding. It dies with the version.
	since sync.Map
}

// sharedDiff is a diff computed once for every subscriber that needs it.
type sharedDiff struct {
	once sync.Once
	d    *Diff
	body *encoded
}

// diffFrom returns the diff from an older answer of the same view to this
// one, and its encoding, computed once per older answer. Answers of a view
// with the same seq are the same (the query at that commit time).
func (v *version) diffFrom(old *version) (*Diff, *encoded) {
	x, _ := v.since.LoadOrStore(old.seq, &sharedDiff{})
	sd := x.(*sharedDiff)
	sd.once.Do(func() {
		sd.d = diffResults(old.result, v.result)
		sd.body = lazyJSON(diffFields(sd.d))
	})
	return sd.d, sd.body
}

func newVersion(seq, from int64, res *exec.TopologyResult, d *Diff, observed time.Time) *version {
	v := &version{seq: seq, from: from, result: res, diff: d, observed: observed}
	v.resultJSON = lazyJSON(resultFields(res))
	if d != nil {
		v.diffJSON = lazyJSON(diffFields(d))
	}
	return v
}

// evaluation is one run of a view's query, handed from an evaluator back
// to the dispatcher.
type evaluation struct {
	v     *view
	at    int64
	full  bool     // the query ran (else the changes were applied in place)
	reads *readSet // what it read; nil for a maintained view
	next  *version // nil when the answer did not change
	err   error
}

// emptyResult is the answer of every query before the first commit.
func emptyResult() *exec.TopologyResult {
	return &exec.TopologyResult{EvaluatedAt: time.Unix(0, 0).UTC(), Components: exec.RowsOf([]exec.Component{}), Relations: exec.RowsOf([]exec.Relation{})}
}

// evaluate brings a view's answer to commit time at: by running its query
// (full), recording what it reads unless the view is maintained in place,
// or by applying the changes taken since its current answer (maintain.go).
// It compares the answer with the current one. It runs on its own
// goroutine; the view's current answer does not change meanwhile, since a
// view has one evaluation at a time and only its end publishes.
func (h *Hub) evaluate(v *view, at int64, observed time.Time, full bool, changes []graphstore.Change) {
	e := &evaluation{v: v, at: at, full: full}
	prev := v.cur.Load()
	res, reason := emptyResult(), "change"
	switch {
	case !full:
		reason = "maintain"
		res, e.err = h.maintain(h.ctx, v, prev.result, changes, at)
		if e.err == errGrown {
			res, e.err = h.run(v, at, nil)
		}
	case at == 0:
		if !v.maintained() {
			e.reads = &readSet{all: true} // the first commit changes everything
		}
	case v.maintained():
		res, e.err = h.run(v, at, nil)
	default:
		e.reads = newReadSet()
		res, e.err = h.run(v, at, e.reads)
	}
	if prev == nil {
		reason = "subscribe"
		if e.err == nil {
			e.next = newVersion(at, 0, res, nil, time.Time{})
		}
	} else if e.err == nil {
		if d := diffResults(prev.result, res); !d.Empty() {
			e.next = newVersion(at, prev.seq, res, d, observed)
		}
	}
	h.metrics.evaluations.WithLabelValues(reason).Inc()
	select {
	case h.done <- e:
	case <-h.ctx.Done():
	}
}

// run runs a view's query at commit time at, recording what it reads into
// rs when not nil.
func (h *Hub) run(v *view, at int64, rs *readSet) (*exec.TopologyResult, error) {
	eng := h.engine
	if rs != nil {
		eng = eng.Over(&recordingGraph{store: h.store, rs: rs})
	}
	out, err := eng.RunWith(h.ctx, v.stmt, exec.QueryOptions{Now: time.Unix(0, at), Scope: v.scope})
	if err != nil {
		return nil, err
	}
	return out.Topology, nil
}
