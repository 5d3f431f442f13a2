package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// PipelineOptions configure the embedded log. Zero fields take the
// defaults.
type PipelineOptions struct {
	// QueueLen bounds the records waiting to be written (default 1024).
	QueueLen int
	// MaxGroupElements bounds the elements of one group commit (default
	// 50,000): a group takes every waiting record until it holds this many.
	MaxGroupElements int
	// AdmitWait is how long Append waits for room in a full queue before
	// it answers *BusyError (default 1 s): senders slow down first.
	AdmitWait time.Duration
	// RetryAfter is what a *BusyError tells the sender (default 1 s).
	RetryAfter time.Duration
	// TickInterval is how often the writer looks for expired REPEAT_STATES
	// check states while no record comes (default 1 s).
	TickInterval time.Duration
	// Now is the clock records are stamped with (Record.Received) and
	// ticks read (time.Now when nil).
	Now func() time.Time
}

func (o *PipelineOptions) fill() {
	if o.QueueLen <= 0 {
		o.QueueLen = 1024
	}
	if o.MaxGroupElements <= 0 {
		o.MaxGroupElements = 50_000
	}
	if o.AdmitWait <= 0 {
		o.AdmitWait = time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Pipeline is the embedded mode's Log: records go through a bounded queue
// to one writer goroutine, which applies every record waiting (up to
// MaxGroupElements) as one group commit through the TopologyProcessor, one
// synced Pebble commit for many small requests, and answers each Append
// once its record is committed. A full queue makes Append wait, then fail
// with *BusyError: back-pressure, never a dropped record. Every
// TickInterval it appends a tick record when a REPEAT_STATES check state
// has expired (expiry.go). Safe for concurrent use.
type Pipeline struct {
	proc *TopologyProcessor
	opts PipelineOptions

	mu       sync.RWMutex // guards closed against sends on queue
	closed   bool
	queue    chan *job
	done     chan struct{} // closed when the writer has drained the queue
	stop     chan struct{} // closed to stop the ticker
	stopOnce sync.Once
	ticked   chan struct{} // closed when the ticker has stopped

	stats PipelineStats
}

// PipelineStats are the pipeline's counters, for self-metrics. Read them
// with Load.
type PipelineStats struct {
	Records  atomic.Int64 // records committed
	Refused  atomic.Int64 // records refused (a *RefusedError)
	Elements atomic.Int64 // elements of the committed records
	Groups   atomic.Int64 // group commits
	Busy     atomic.Int64 // appends answered with *BusyError
	Failed   atomic.Int64 // records that met a store error
}

// job is one appended record waiting for its commit.
type job struct {
	rec  *Record
	ack  *Ack
	err  error
	done chan struct{}
}

// NewPipeline starts the embedded log's writer over proc. Close stops it.
func NewPipeline(proc *TopologyProcessor, o PipelineOptions) *Pipeline {
	o.fill()
	p := &Pipeline{proc: proc, opts: o, queue: make(chan *job, o.QueueLen), done: make(chan struct{}),
		stop: make(chan struct{}), ticked: make(chan struct{})}
	go p.write()
	go p.tick()
	return p
}

// tick appends a tick record when a REPEAT_STATES check state has expired,
// so that it is deleted while no sender writes (expiry.go).
func (p *Pipeline) tick() {
	defer close(p.ticked)
	t := time.NewTicker(p.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.Tick(context.Background())
		}
	}
}

// Tick appends a tick record when a REPEAT_STATES check state has expired
// by the pipeline's clock, and returns once it is committed; false when
// none had. The pipeline's ticker calls it every TickInterval.
func (p *Pipeline) Tick(ctx context.Context) (bool, error) {
	now := p.opts.Now()
	if !p.proc.Due("", now) {
		return false, nil
	}
	_, err := p.Append(ctx, NewTickRecord(now))
	return true, err
}

// Stats returns the pipeline's counters.
func (p *Pipeline) Stats() *PipelineStats { return &p.stats }

// QueueDepth returns the records waiting to be written.
func (p *Pipeline) QueueDepth() int { return len(p.queue) }

// Append implements Log: it queues rec and returns once it is committed.
// When ctx ends after rec was queued, Append returns ctx's error but the
// record is still committed.
func (p *Pipeline) Append(ctx context.Context, rec *Record) (*Ack, error) {
	rec.Stamp(p.opts.Now())
	j := &job{rec: rec, done: make(chan struct{})}
	if err := p.enqueue(ctx, j); err != nil {
		return nil, err
	}
	select {
	case <-j.done:
		return j.ack, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// enqueue puts j in the queue, waiting at most AdmitWait for room.
func (p *Pipeline) enqueue(ctx context.Context, j *job) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- j:
		return nil
	default:
	}
	t := time.NewTimer(p.opts.AdmitWait)
	defer t.Stop()
	select {
	case p.queue <- j:
		return nil
	case <-t.C:
		p.stats.Busy.Add(1)
		return &BusyError{Queued: len(p.queue), RetryAfter: p.opts.RetryAfter}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking records, writes every record already queued, and
// returns once they are committed (or failed).
func (p *Pipeline) Close() error {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.ticked
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	<-p.done
	return nil
}

// write is the writer goroutine: one group commit at a time.
func (p *Pipeline) write() {
	defer close(p.done)
	for j := range p.queue {
		group := []*job{j}
		n := j.rec.Elements()
	fill:
		for n < p.opts.MaxGroupElements {
			select {
			case more, ok := <-p.queue:
				if !ok {
					break fill
				}
				group = append(group, more)
				n += more.rec.Elements()
			default:
				break fill
			}
		}
		p.commit(group)
	}
}

// commit applies a group and answers its jobs. The writer does not stop
// for a cancelled sender: what was queued was accepted.
func (p *Pipeline) commit(group []*job) {
	recs := make([]*Record, len(group))
	for i, j := range group {
		recs[i] = j.rec
	}
	res, err := p.proc.Process(context.Background(), recs, nil)
	p.stats.Groups.Add(1)
	for i, j := range group {
		switch {
		case err != nil:
			j.err = err
			p.stats.Failed.Add(1)
		case res[i].Err != nil:
			j.err = res[i].Err
			p.stats.Refused.Add(1)
		default:
			j.ack = &Ack{Summary: res[i].Summary}
			p.stats.Records.Add(1)
			p.stats.Elements.Add(int64(j.rec.Elements()))
		}
		close(j.done)
	}
}
