package scriptrt

import (
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// The memory limit.
//
// goja has no allocation hook, and Go has no per-goroutine allocation
// counter, so a run's memory cannot be counted exactly. What can be
// measured is the process heap: a watchdog samples it every few
// milliseconds while scripts run and compares its growth over the lowest
// heap seen since each run started with that run's budget
// (Limits.MaxMemory). Growth may be garbage, so a run is stopped only when
// garbage cannot explain it: when what the last collection found live is
// over the budget, or when the growth is past twice the budget plus the
// live heap (the collector lets garbage reach about the live heap before
// it collects). Otherwise the watchdog starts a collection in the
// background and judges again at the next samples; it never waits for
// one, since a goroutine copying a huge string holds off the collector's
// stop-the-world until its copy is done.
//
// It interrupts the most recently started run over its budget (the growth
// happened inside its window; an older run's window includes it too, so
// the newest is the likeliest cause) with a LimitError, and waits until
// that run has ended and its memory is collected before judging the
// others. With runs in parallel a run may still be charged for another's
// allocations in the same window; the error says the heap grew during the
// run, which is what was measured.
//
// Interrupt takes effect at the script's next instruction. A native
// built-in that allocates a lot in one call cannot be interrupted midway:
// those are guarded before they start (guards.go). Plain string
// concatenation is not, and a script doubling a string is stopped about
// one doubling past the point where its growth passes twice its budget.

// sampleEvery is the watchdog's period: short enough that a script doubling
// a string each step is caught a few doublings past its budget.
const sampleEvery = 5 * time.Millisecond

// minGCInterval keeps a script that makes much short-lived garbage from
// making the watchdog collect on every sample.
const minGCInterval = 100 * time.Millisecond

// governor is the process-wide watchdog. Safe for concurrent use.
type governor struct {
	heap func() uint64 // bytes of heap objects, live or not yet collected
	live func() uint64 // bytes of heap objects found live by the last collection
	gc   func()

	mu         sync.Mutex // guards everything below
	runs       map[*watch]struct{}
	running    bool      // the sampling goroutine runs
	lastGC     time.Time // when the watchdog last started a collection
	collecting bool      // a collection the watchdog started is running
	tripped    *watch    // a run it stopped that has not ended yet
}

// watch is one run under the watchdog.
type watch struct {
	g     *governor
	vm    *goja.Runtime
	base  uint64 // the lowest heap since the run started
	limit uint64
	start time.Time
}

var (
	defaultGovOnce sync.Once
	defaultGov     *governor
)

// defaultGovernor is the one watchdog of the process: the heap it measures
// is the process's, so two watchdogs would only judge the same growth
// twice.
func defaultGovernor() *governor {
	defaultGovOnce.Do(func() {
		defaultGov = newGovernor(readMetric("/memory/classes/heap/objects:bytes"), readMetric("/gc/heap/live:bytes"), runtime.GC)
	})
	return defaultGov
}

func newGovernor(heap, live func() uint64, gc func()) *governor {
	return &governor{heap: heap, live: live, gc: gc, runs: map[*watch]struct{}{}}
}

// readMetric returns a reader of a runtime metric, which does not stop the
// world (runtime.ReadMemStats would).
func readMetric(name string) func() uint64 {
	return func() uint64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[0].Value.Uint64()
	}
}

// watch puts a run under the watchdog, starting it if it is idle.
func (g *governor) watch(vm *goja.Runtime, limit int64) *watch {
	w := &watch{g: g, vm: vm, base: g.heap(), limit: uint64(limit), start: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.runs[w] = struct{}{}
	if !g.running {
		g.running = true
		go g.loop()
	}
	return w
}

// done takes a run from the watchdog.
func (w *watch) done() {
	g := w.g
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.runs, w)
}

// loop samples the heap while any run is watched, and ends when none is.
func (g *governor) loop() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for range t.C {
		if !g.check() {
			return
		}
	}
}

// check samples once; it returns false (and marks the loop stopped) when no
// run is left to watch.
func (g *governor) check() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.runs) == 0 {
		g.running = false
		return false
	}
	if g.tripped != nil {
		if _, alive := g.runs[g.tripped]; alive {
			return true // its memory still counts for everyone; wait for it to end
		}
		g.tripped = nil
		g.collect(true) // so that the stopped run's memory no longer counts
	}
	heap := g.heap()
	for w := range g.runs {
		// A run's base is the lowest heap seen since it started: garbage
		// of earlier runs, collected after this one started, is not
		// room this one may fill.
		w.base = min(w.base, heap)
	}
	if g.over(heap) == nil {
		return true
	}
	// The heap includes garbage. What the last collection found live is
	// not garbage: if that is over a budget, stop the run.
	live := g.live()
	if w := g.over(live); w != nil {
		g.trip(w, live)
		return true
	}
	// Garbage is at most about what is live (the collector's default
	// target lets the heap double), so growth past twice the budget plus
	// the live heap cannot be garbage alone: the run holds more than its
	// budget. Stop it without waiting for a collection, which a goroutine
	// copying a huge string delays (the world stops only between copies).
	if w := g.overBy(heap, live); w != nil {
		g.trip(w, heap)
		return true
	}
	// Otherwise collect, in the background so that sampling goes on; the
	// live heap it finds is judged at the next samples.
	g.collect(false)
	return true
}

// trip stops a run over its budget. REQUIRES: g.mu.
func (g *governor) trip(w *watch, heap uint64) {
	g.tripped = w
	w.vm.Interrupt(&LimitError{Limit: LimitMemory, Max: int64(w.limit),
		Detail: "the heap grew by " + mib(heap-w.base) + " during the run"})
}

// over returns the most recently started run whose budget the heap's
// growth exceeds, or nil. REQUIRES: g.mu.
func (g *governor) over(heap uint64) *watch {
	var newest *watch
	for w := range g.runs {
		if heap > w.base && heap-w.base > w.limit && (newest == nil || w.start.After(newest.start)) {
			newest = w
		}
	}
	return newest
}

// overBy is over with each budget doubled and extra added. REQUIRES: g.mu.
func (g *governor) overBy(heap, extra uint64) *watch {
	var newest *watch
	for w := range g.runs {
		if heap > w.base && heap-w.base > 2*w.limit+extra && (newest == nil || w.start.After(newest.start)) {
			newest = w
		}
	}
	return newest
}

// collect starts a garbage collection in the background, unless one is
// running or one started within minGCInterval (force skips the interval).
// REQUIRES: g.mu.
func (g *governor) collect(force bool) {
	if g.collecting || (!force && time.Since(g.lastGC) < minGCInterval) {
		return
	}
	g.collecting, g.lastGC = true, time.Now()
	go func() {
		g.gc()
		g.mu.Lock()
		g.collecting = false
		g.mu.Unlock()
	}()
}

func mib(b uint64) string {
	return strconv.FormatUint(b>>20, 10) + " MiB"
}
