package exec

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestDeadlineWithoutDone: a query's context that nobody waits on ends at
// its deadline all the same, and stays ended; Done, asked afterwards, is
// closed.
func TestDeadlineWithoutDone(t *testing.T) {
	ctx, cancel := withTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	time.Sleep(25 * time.Millisecond)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() after the deadline = %v, want DeadlineExceeded", err)
	}
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() after the deadline and cancel = %v, want DeadlineExceeded still", err)
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done() asked after the deadline is not closed")
	}
}

// TestDeadlineDone: once something waits on Done, the channel closes at
// the deadline, and a child context ends with it.
func TestDeadlineDone(t *testing.T) {
	ctx, cancel := withTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	child, stop := context.WithCancel(ctx)
	defer stop()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child of a deadline context never ended")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, child %v; want DeadlineExceeded", ctx.Err(), child.Err())
	}
}

// TestDeadlineCancel: cancel ends the context, whether Done was asked for
// before or after.
func TestDeadlineCancel(t *testing.T) {
	for _, doneFirst := range []bool{false, true} {
		ctx, cancel := withTimeout(context.Background(), time.Hour)
		if doneFirst {
			ctx.Done()
		}
		cancel()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("doneFirst %v: Err() = %v, want Canceled", doneFirst, err)
		}
		select {
		case <-ctx.Done():
		default:
			t.Fatalf("doneFirst %v: Done() is open after cancel", doneFirst)
		}
	}
}

// TestDeadlineParent: the parent's end is the context's; a parent whose
// deadline comes first keeps it.
func TestDeadlineParent(t *testing.T) {
	parent, end := context.WithCancel(context.Background())
	ctx, cancel := withTimeout(parent, time.Hour)
	defer cancel()
	end()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() after the parent's cancel = %v", err)
	}
	<-ctx.Done()

	early, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	ctx, cancel = withTimeout(early, time.Hour)
	defer cancel()
	pd, _ := early.Deadline()
	if d, _ := ctx.Deadline(); !d.Equal(pd) {
		t.Fatalf("Deadline() = %v, want the parent's %v", d, pd)
	}
}

// TestDeadlineConcurrent: Err, Done and cancel from several goroutines
// (run under -race by .ci/run) end in one state.
func TestDeadlineConcurrent(t *testing.T) {
	for range 200 {
		ctx, cancel := withTimeout(context.Background(), time.Hour)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch g {
				case 0:
					cancel()
				case 1:
					<-ctx.Done()
				default:
					for ctx.Err() == nil {
					}
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err() = %v, want Canceled", err)
		}
	}
}
