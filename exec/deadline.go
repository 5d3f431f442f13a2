package exec

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// withDeadline is context.WithDeadline for a query's timeout, made cheap
// for the common case that nothing waits on the context's Done channel.
//
// A topology query never waits on Done: the run polls Err every few dozen
// steps (run.check). Yet context.WithDeadline starts a runtime timer and,
// under a request's context, registers the child in its parent's map of
// children (a map made per request) and removes it again on cancel: about
// 2% of a selective REST query's CPU. This context makes neither until
// Done is first called; until then Err compares the clock with the
// deadline and asks the parent, which is what the timer would have told.
// Once Done is called it is the context WithDeadline makes, and every
// method answers from it, so a caller that waits (a data store's client,
// a child context, context.AfterFunc) sees the same behaviour as before.
//
// When the parent's deadline comes first it is context.WithDeadline
// itself. One difference stays: context.Cause of it, before Done was
// called, reports the parent's cause rather than DeadlineExceeded (Cause
// finds the nearest context of the context package's own); nothing the
// engine runs asks for a cause.
func withDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		return context.WithDeadline(parent, d)
	}
	c := &deadlineCtx{Context: parent, deadline: d}
	return c, c.cancel
}

// withTimeout is withDeadline for a timeout from now.
func withTimeout(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return withDeadline(parent, time.Now().Add(timeout))
}

// deadlineCtx is withDeadline's context. Safe for concurrent use.
type deadlineCtx struct {
	context.Context // the parent: Value and, until made, its errors
	deadline        time.Time
	once            sync.Once
	made            atomic.Pointer[madeCtx] // the real context, once Done was called
	err             atomic.Pointer[error]   // Canceled or DeadlineExceeded, once seen (before made)
}

type madeCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

var (
	errCanceled         = context.Canceled
	errDeadlineExceeded = context.DeadlineExceeded
)

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done makes the real context (once) and returns its channel. A context
// cancelled or past its deadline before then is made already done.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.once.Do(func() {
		ctx, cancel := context.WithDeadline(c.Context, c.deadline)
		c.made.Store(&madeCtx{ctx, cancel})
	})
	m := c.made.Load()
	if c.err.Load() == &errCanceled {
		m.cancel() // cancel ran before Done, or before the store above
	}
	return m.ctx.Done()
}

// Err reports what the timer and the parent would have: the first of
// cancel, the parent's end and the deadline, sticky once seen.
func (c *deadlineCtx) Err() error {
	if m := c.made.Load(); m != nil {
		return m.ctx.Err()
	}
	if e := c.err.Load(); e != nil {
		return *e
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		c.err.CompareAndSwap(nil, &errDeadlineExceeded)
		return *c.err.Load()
	}
	return nil
}

// cancel ends the context: Err reports Canceled unless it had already
// ended (the parent's end or the deadline stays what it reports), and a
// made context is cancelled, which stops its timer and takes it out of
// the parent's children.
func (c *deadlineCtx) cancel() {
	if c.Err() == nil {
		c.err.CompareAndSwap(nil, &errCanceled)
	}
	if m := c.made.Load(); m != nil {
		m.cancel()
	}
}

func (c *deadlineCtx) String() string { return "exec.withDeadline(" + c.deadline.String() + ")" }
