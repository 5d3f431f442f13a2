package live

import (
	"cmp"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// dispatcher is the state only the dispatcher goroutine touches: the
// views, the index of what each read, the evaluations queued and running,
// and the commits taken while evaluations ran.
type dispatcher struct {
	h     *Hub
	pos   int64 // time of the last commit taken (ns); 0 before the first
	views map[string]*view
	index *index
	// maintained holds the views kept in place (view.match set): each
	// commit is tested against every one of them (view.take), not through
	// the index.
	maintained map[*view]struct{}
	// quick and queue hold the views waiting for an evaluator: those whose
	// changes are applied in place go first, since they take microseconds
	// where a query run may take milliseconds.
	quick   []*view
	queue   []*view
	running map[*view]int64 // view → the commit time its evaluation reads at
	// recent holds the commits taken after the oldest running evaluation's
	// time: when an evaluation ends, those after its time are checked
	// against what it read. Bounded by the commits of the longest running
	// evaluation.
	recent []commitMsg
}

func newDispatcher(h *Hub, pos int64) dispatcher {
	return dispatcher{h: h, pos: pos, views: map[string]*view{}, index: newIndex(), maintained: map[*view]struct{}{},
		running: map[*view]int64{}}
}

// run is the dispatcher goroutine.
func (d *dispatcher) run() {
	defer d.h.wg.Done()
	defer close(d.h.stopped)
	for {
		select {
		case m := <-d.h.commits:
			d.commit(m)
		case e := <-d.h.done:
			d.evaluated(e)
		case f := <-d.h.ops:
			f()
		case <-d.h.ctx.Done():
			return
		}
	}
}

func (d *dispatcher) idle() bool {
	return len(d.quick) == 0 && len(d.queue) == 0 && len(d.running) == 0
}

// commit takes one commit: every view whose read set it hits is queued for
// evaluation at the commit's time (or later, when the queue is long: an
// evaluation at a later commit covers the earlier ones too).
func (d *dispatcher) commit(m commitMsg) {
	d.pos = nanos(m.ev.Time)
	d.h.pos.Store(d.pos)
	d.h.metrics.commits.Inc()
	if len(d.running) > 0 {
		d.recent = append(d.recent, m)
	}
	if m.resync {
		for _, v := range d.views {
			v.runAgain()
			d.dirty(v, m.observed)
		}
	} else {
		d.index.match(m.ev.Changes, func(v *view) { d.dirty(v, m.observed) })
		for v := range d.maintained {
			if v.take(m.ev.Changes) {
				v.took(m.observed)
				d.dirty(v, m.observed)
			}
		}
	}
	d.schedule()
}

// dirty queues a view whose answer may have changed. A running view is
// left alone: its evaluation's end checks the commits it missed.
func (d *dispatcher) dirty(v *view, observed time.Time) {
	if v.state != viewIdle || v.gone {
		return
	}
	v.state = viewQueued
	v.dirtySince = observed
	if v.maintained() && !v.full {
		d.quick = append(d.quick, v)
	} else {
		d.queue = append(d.queue, v)
	}
}

// runAgain makes a view's next evaluation run its query: the commits it
// would apply in place are not all known (the feed was reopened).
func (v *view) runAgain() {
	if v.maintained() {
		v.full, v.members, v.pending = true, nil, nil
	}
}

// schedule starts queued evaluations while evaluators are free. Each reads
// at the latest commit taken.
func (d *dispatcher) schedule() {
	for len(d.running) < d.h.lim.Evaluators {
		v := pop(&d.quick)
		if v == nil {
			v = pop(&d.queue)
		}
		if v == nil {
			return
		}
		if v.gone {
			continue
		}
		v.state = viewRunning
		d.running[v] = d.pos
		full := !v.maintained() || v.full || v.cur.Load() == nil
		changes := v.pending
		v.pending, v.pendingSince, v.full = nil, time.Time{}, false
		if full {
			v.members = nil // set again from the answer; the commits meanwhile are replayed
		}
		// Counted so Close waits for it (the dispatcher holds a count of
		// its own while it runs, so this Add never races Close's Wait):
		// an evaluation must not read a store its owner is closing.
		d.h.wg.Add(1)
		go func(at int64, since time.Time) {
			defer d.h.wg.Done()
			d.h.evaluate(v, at, since, full, changes)
		}(d.pos, v.dirtySince)
	}
}

// pop takes the first view of a queue, nil when it is empty.
func pop(q *[]*view) *view {
	if len(*q) == 0 {
		*q = nil // let the backing array go
		return nil
	}
	v := (*q)[0]
	(*q)[0] = nil
	*q = (*q)[1:]
	return v
}

// evaluated takes an evaluation's end: the read set replaces the old one
// in the index, a changed answer is published, and the commits taken while
// it ran are checked against what it read.
func (d *dispatcher) evaluated(e *evaluation) {
	delete(d.running, e.v)
	defer d.schedule()
	defer d.trimRecent()
	v := e.v
	if v.gone {
		return
	}
	if e.err != nil {
		d.fail(v, e.err)
		return
	}
	if !v.maintained() {
		d.index.replace(v, v.reads, e.reads)
		v.reads = e.reads
	}
	v.state = viewIdle
	if e.next != nil {
		v.cur.Store(e.next)
		for s := range v.subs {
			s.notify()
		}
	}
	if v.maintained() {
		d.maintainedEnd(v, e)
		return
	}
	for _, m := range d.recent {
		if nanos(m.ev.Time) > e.at && (m.resync || e.reads.hits(m.ev.Changes)) {
			d.dirty(v, m.observed)
			break
		}
	}
}

// maintainedEnd takes the end of a maintained view's evaluation. After a
// full one, the answer's components are its members, and the commits taken
// while it ran are tested against them as they would have been. Whatever
// was taken meanwhile queues the view again.
func (d *dispatcher) maintainedEnd(v *view, e *evaluation) {
	if e.full && !v.full {
		v.setMembers(v.cur.Load().result)
		for _, m := range d.recent {
			switch {
			case nanos(m.ev.Time) <= e.at:
			case m.resync:
				v.runAgain()
			case v.take(m.ev.Changes):
				v.took(m.observed)
			}
		}
	}
	if v.full || len(v.pending) > 0 {
		d.dirty(v, cmp.Or(v.pendingSince, time.Now()))
	}
}

// trimRecent drops the commits no running evaluation needs.
func (d *dispatcher) trimRecent() {
	if len(d.running) == 0 {
		d.recent = nil
		return
	}
	oldest := d.pos
	for _, at := range d.running {
		oldest = min(oldest, at)
	}
	n := 0
	for n < len(d.recent) && nanos(d.recent[n].ev.Time) <= oldest {
		n++
	}
	d.recent = d.recent[n:]
}

// fail ends every subscription of a view whose evaluation failed (the
// answer grew past the element limit, the query timed out, the store
// failed) and removes the view.
func (d *dispatcher) fail(v *view, err error) {
	d.remove(v)
	for s := range v.subs {
		s.fail(errorOf("", err))
	}
	v.subs = nil
}

// attach adds a subscription to the view of its query and scope, creating
// the view (and queueing its first evaluation) when it is the first.
func (d *dispatcher) attach(s *Subscription, key string, stmt *lang.TopologyStmt, scope lang.Expr, match *exec.Matcher) {
	v := d.views[key]
	if v == nil {
		v = &view{key: key, stmt: stmt, scope: scope, match: match, subs: map[*Subscription]struct{}{}}
		d.views[key] = v
		if match != nil {
			d.maintained[v] = struct{}{}
		}
		d.h.metrics.views.Inc()
		d.dirty(v, time.Time{})
		d.schedule()
	}
	v.subs[s] = struct{}{}
	s.view = v
	if v.cur.Load() != nil {
		s.notify()
	}
}

// detach removes a subscription; the last one out removes the view.
func (d *dispatcher) detach(s *Subscription) {
	v := s.view
	if v == nil || v.gone {
		return
	}
	delete(v.subs, s)
	if len(v.subs) == 0 {
		d.remove(v)
	}
}

func (d *dispatcher) remove(v *view) {
	if v.gone {
		return
	}
	v.gone = true
	d.index.replace(v, v.reads, nil)
	v.reads = nil
	v.members, v.pending = nil, nil
	delete(d.maintained, v)
	delete(d.views, v.key)
	d.h.metrics.views.Dec()
}
