package live

import (
	"time"

	"github.com/tetrahq/tetra/lang"
)

// dispatcher is the state only the dispatcher goroutine touches: the
// views, the index of what each read, the evaluations queued and running,
// and the commits taken while evaluations ran.
type dispatcher struct {
	h       *Hub
	pos     int64 // time of the last commit taken (ns); 0 before the first
	views   map[string]*view
	index   *index
	queue   []*view
	running map[*view]int64 // view → the commit time its evaluation reads at
	// recent holds the commits taken after the oldest running evaluation's
	// time: when an evaluation ends, those after its time are checked
	// against what it read. Bounded by the commits of the longest running
	// evaluation.
	recent []commitMsg
}

func newDispatcher(h *Hub, pos int64) dispatcher {
	return dispatcher{h: h, pos: pos, views: map[string]*view{}, index: newIndex(), running: map[*view]int64{}}
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

func (d *dispatcher) idle() bool { return len(d.queue) == 0 && len(d.running) == 0 }

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
			d.dirty(v, m.observed)
		}
	} else {
		d.index.match(m.ev.Changes, func(v *view) { d.dirty(v, m.observed) })
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
	d.queue = append(d.queue, v)
}

// schedule starts queued evaluations while evaluators are free. Each reads
// at the latest commit taken.
func (d *dispatcher) schedule() {
	for len(d.running) < d.h.lim.Evaluators && len(d.queue) > 0 {
		v := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		if v.gone {
			continue
		}
		v.state = viewRunning
		d.running[v] = d.pos
		// Counted so Close waits for it (the dispatcher holds a count of
		// its own while it runs, so this Add never races Close's Wait):
		// an evaluation must not read a store its owner is closing.
		d.h.wg.Add(1)
		go func(at int64, since time.Time) {
			defer d.h.wg.Done()
			d.h.evaluate(v, at, since)
		}(d.pos, v.dirtySince)
	}
	if len(d.queue) == 0 {
		d.queue = nil // let the backing array go
	}
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
	d.index.replace(v, v.reads, e.reads)
	v.reads = e.reads
	v.state = viewIdle
	if e.next != nil {
		v.cur.Store(e.next)
		for s := range v.subs {
			s.notify()
		}
	}
	for _, m := range d.recent {
		if nanos(m.ev.Time) > e.at && (m.resync || e.reads.hits(m.ev.Changes)) {
			d.dirty(v, m.observed)
			break
		}
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
func (d *dispatcher) attach(s *Subscription, key string, stmt *lang.TopologyStmt, scope lang.Expr) {
	v := d.views[key]
	if v == nil {
		v = &view{key: key, stmt: stmt, scope: scope, subs: map[*Subscription]struct{}{}}
		d.views[key] = v
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
	delete(d.views, v.key)
	d.h.metrics.views.Dec()
}
