package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// Defaults of Config.
const (
	DefaultTimeout    = 15 * time.Second
	DefaultMaxMemory  = 64 << 20
	DefaultKeepRuns   = 100
	DefaultBackoff    = 10 * time.Second
	DefaultMaxBackoff = 10 * time.Minute
	DefaultEventPoll  = 5 * time.Second
	DefaultQueue      = 100
	// maxKeptResult is the largest result a run record keeps.
	maxKeptResult = 64 << 10
)

// Config configures a Manager.
type Config struct {
	// Store keeps the definitions and run records. Required.
	Store *Store
	// Runtime runs the scripts. Required.
	Runtime *scriptrt.Runtime
	// Engine evaluates handlers' filters and polls events. Required.
	Engine *exec.Engine
	// Sink receives what automations write (health states, events); nil
	// makes monitors and writing scripts fail with a clear error.
	Sink scriptrt.Sink
	// Feed, when not nil, opens the graph's change feed from the latest
	// commit on; health handlers follow it.
	Feed func() (graphstore.Feed, error)
	// Logger receives one line per failed run and per trouble of the
	// scheduler (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock of run records (time.Now when nil). Timers run on
	// the wall clock.
	Now func() time.Time
	// MaxConcurrent bounds the runs in flight across automations
	// (GOMAXPROCS, at least 2, when zero); each automation runs one at a
	// time.
	MaxConcurrent int
	// Timeout and MaxMemory are a run's defaults (DefaultTimeout,
	// DefaultMaxMemory); a definition may set its own.
	Timeout   time.Duration
	MaxMemory int64
	// KeepRuns is how many run records each automation keeps
	// (DefaultKeepRuns).
	KeepRuns int
	// Backoff is the pause after a first failure, doubled after each
	// further one up to MaxBackoff (DefaultBackoff, DefaultMaxBackoff).
	Backoff, MaxBackoff time.Duration
	// EventPoll is how often event handlers look for new events
	// (DefaultEventPoll).
	EventPoll time.Duration
}

// Manager runs stored automations: monitors on their interval, scheduled
// scripts on their cron schedule, handlers on health changes and events,
// any of them on demand. It is safe for concurrent use.
//
// Isolation: every automation runs at most one run at a time (a handler's
// further triggers wait in a queue of DefaultQueue, beyond which they are
// dropped and counted), within its own timeout and memory budget; all runs
// together take at most MaxConcurrent slots, separate from the server's
// request scripts; an automation that fails is paused with a doubling
// backoff. Triggers never wait for a run: the change feed and the timers
// go on whatever the scripts do.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{}
	wake  chan struct{}

	mu     sync.Mutex // guards autos and closed
	autos  map[string]*auto
	closed bool

	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
}

// auto is the manager's state of one automation. Guarded by Manager.mu.
type auto struct {
	def      *Definition
	scope    lang.Expr
	sched    cron.Schedule
	next     time.Time // the next timer fire (monitors, scheduled scripts)
	running  bool
	queue    []trigger
	failures int
	backoff  time.Time // no run starts on its own before this
	skipped  int64     // triggers skipped while running or backing off
	dropped  int64     // handler triggers dropped from a full queue
	last     *Run
	lastOK   time.Time
	deleted  bool
}

// trigger is what starts one run.
type trigger struct {
	kind  string // interval, schedule, health, event, manual
	cause []byte // JSON of the health change or the event, bound as the script's `event`
	done  chan *Run
}

// NewManager returns a manager over the stored automations. Start starts
// its timers and triggers.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Runtime == nil || cfg.Engine == nil {
		return nil, errors.New("automation: Config.Store, Runtime and Engine are required")
	}
	cfg.fill()
	m := &Manager{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxConcurrent),
		wake: make(chan struct{}, 1), autos: map[string]*auto{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	defs, err := cfg.Store.List()
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		a, err := m.prepare(d)
		if err != nil {
			// A definition stored by another build may no longer check:
			// keep the others running and say which.
			m.log.Error("automation not loaded", "automation", d.Name, "err", err)
			continue
		}
		a.restore(cfg.Store)
		m.autos[d.Name] = a
	}
	return m, nil
}

// NotFoundError says there is no automation of that name.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("no automation %q", e.Name) }

// restore takes an automation's last run, last success and failures in a
// row from its run records, so its status survives a restart.
func (a *auto) restore(st *Store) {
	runs, err := st.Runs(a.def.Name, 20)
	if err != nil || len(runs) == 0 {
		return
	}
	a.last = runs[0]
	counting := true
	for _, r := range runs {
		switch {
		case r.Outcome == "ok":
			a.lastOK, counting = r.Started, false
		case counting && r.Trigger != "manual":
			a.failures++
		}
		if !a.lastOK.IsZero() {
			break
		}
	}
}

func (c *Config) fill() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = max(2, runtime.GOMAXPROCS(0))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeout, DefaultTimeout)
	def(&c.Backoff, DefaultBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.EventPoll, DefaultEventPoll)
	if c.MaxMemory <= 0 {
		c.MaxMemory = DefaultMaxMemory
	}
	if c.KeepRuns <= 0 {
		c.KeepRuns = DefaultKeepRuns
	}
}

// prepare checks a definition and makes its state.
func (m *Manager) prepare(d *Definition) (*auto, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	a := &auto{def: d}
	if d.Scope != "" {
		expr, err := lang.ParseFilter(d.Scope)
		if err != nil {
			return nil, fmt.Errorf("automation %s: its scope %q: %w", d.Name, d.Scope, err)
		}
		a.scope = expr
	}
	if d.Kind == KindScheduled {
		a.sched, _ = ParseSchedule(d.Schedule)
	}
	a.next = a.firstFire(time.Now())
	return a, nil
}

// firstFire is when a timer-driven automation first runs: a monitor at
// once, a scheduled script at its schedule's next time.
func (a *auto) firstFire(now time.Time) time.Time {
	switch a.def.Kind {
	case KindMonitor:
		return now
	case KindScheduled:
		return a.sched.Next(now)
	}
	return time.Time{}
}

// Start starts the timers, the change-feed follower and the event poller;
// they stop at Close.
func (m *Manager) Start() {
	m.wg.Add(2)
	go m.timers()
	go m.pollEvents()
	if m.cfg.Feed != nil {
		m.wg.Add(1)
		go m.followHealth()
	}
}

// Close stops the triggers, cancels the runs in flight and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// Apply validates and stores a definition, replacing one of the same name,
// and (re)schedules it. It returns the stored definition.
func (m *Manager) Apply(d *Definition) (*Definition, error) {
	d = clone(d)
	now := m.cfg.Now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.autos[d.Name]; old != nil {
		d.Created = old.def.Created
	} else if stored, err := m.cfg.Store.Get(d.Name); err == nil && stored != nil {
		d.Created = stored.Created // stored but not loaded: it no longer checked
	}
	if d.Created.IsZero() {
		d.Created = now
	}
	d.Updated = now
	a, err := m.prepare(d)
	if err != nil {
		return nil, err
	}
	if err := m.cfg.Store.Put(d); err != nil {
		return nil, err
	}
	if old := m.autos[d.Name]; old != nil {
		old.deleted = true // a run in flight finishes; its successor starts afresh
	}
	m.autos[d.Name] = a
	m.poke()
	return clone(d), nil
}

// Delete removes an automation and its run records; a run in flight
// finishes. It reports whether there was one.
func (m *Manager) Delete(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, err := m.cfg.Store.Delete(name)
	if err != nil {
		return false, err
	}
	if a := m.autos[name]; a != nil {
		a.deleted = true
		delete(m.autos, name)
		ok = true
	}
	return ok, nil
}

// Status is an automation with how it is doing.
type Status struct {
	*Definition
	Running bool `json:"running"`
	// NextRun is when a monitor or scheduled script runs next.
	NextRun time.Time `json:"nextRun,omitzero"`
	// Failures counts the failed runs in a row; BackoffUntil is when the
	// automation runs again on its own after them.
	Failures     int       `json:"failures"`
	BackoffUntil time.Time `json:"backoffUntil,omitzero"`
	Skipped      int64     `json:"skipped,omitempty"`
	Dropped      int64     `json:"dropped,omitempty"`
	Queued       int       `json:"queued,omitempty"`
	LastRun      *Run      `json:"lastRun,omitempty"`
	LastSuccess  time.Time `json:"lastSuccess,omitzero"`
}

// List returns the automations (those in scope when scope is not "*";
// see Visible), by name.
func (m *Manager) List(scope string) []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Status
	for _, a := range m.autos {
		if Visible(a.def, scope) {
			out = append(out, a.status())
		}
	}
	slices.SortFunc(out, func(a, b Status) int { return compareStrings(a.Name, b.Name) })
	return out
}

// Get returns one automation's status, or nil when there is none the
// scope may see.
func (m *Manager) Get(name, scope string) *Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.autos[name]
	if a == nil || !Visible(a.def, scope) {
		return nil
	}
	st := a.status()
	return &st
}

// Visible reports whether a caller whose key has scope may see and manage
// an automation: an unscoped caller ("") sees all; a scoped one only those
// applied with the same scope, since an automation runs with the scope of
// the key that applied it.
func Visible(d *Definition, scope string) bool {
	return scope == "" || d.Scope == scope
}

func (a *auto) status() Status {
	st := Status{Definition: clone(a.def), Running: a.running, Failures: a.failures, Skipped: a.skipped,
		Dropped: a.dropped, Queued: len(a.queue), LastRun: a.last, LastSuccess: a.lastOK}
	if !a.def.Disabled {
		st.NextRun = a.next
	}
	if a.backoff.After(time.Now()) {
		st.BackoffUntil = a.backoff
	}
	return st
}

// Runs returns an automation's run records, newest first.
func (m *Manager) Runs(name string, limit int) ([]*Run, error) {
	return m.cfg.Store.Runs(name, limit)
}

// RunNow runs an automation at once, whatever its schedule or backoff,
// and returns the record of the run. event, when not nil, is the JSON
// bound as the script's `event` (a handler's trigger, for trying one out).
// It waits while the automation's previous run is in flight.
func (m *Manager) RunNow(ctx context.Context, name string, event []byte) (*Run, error) {
	done := make(chan *Run, 1)
	m.mu.Lock()
	a := m.autos[name]
	if a == nil {
		m.mu.Unlock()
		return nil, &NotFoundError{Name: name}
	}
	m.enqueueLocked(a, trigger{kind: "manual", cause: event, done: done}, true)
	m.mu.Unlock()
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fire starts a run of an automation for a trigger, unless it is backing
// off or (for a monitor or a scheduled script) already running.
func (m *Manager) fire(name string, t trigger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.autos[name]; a != nil {
		m.enqueueLocked(a, t, false)
	}
}

// enqueueLocked starts a run now or queues it. REQUIRES: m.mu.
func (m *Manager) enqueueLocked(a *auto, t trigger, force bool) {
	if m.closed {
		if t.done != nil {
			t.done <- &Run{Automation: a.def.Name, Trigger: t.kind, Outcome: "error",
				Error: &scriptrt.ErrorDoc{Type: scriptrt.TypeExecutionError, Message: "the server is shutting down", Reason: "canceled"}}
		}
		return
	}
	if !force && time.Now().Before(a.backoff) {
		a.skipped++
		return
	}
	if a.running {
		switch {
		case force || (a.def.Kind == KindHandler && len(a.queue) < DefaultQueue):
			a.queue = append(a.queue, t)
		case a.def.Kind == KindHandler:
			a.dropped++
		default:
			a.skipped++ // the next tick comes soon enough
		}
		return
	}
	a.running = true
	m.wg.Add(1)
	go m.work(a, t)
}

// poke wakes the timer loop after a change of definitions.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func clone(d *Definition) *Definition {
	c := *d
	if d.Trigger != nil {
		t := *d.Trigger
		if t.Health != nil {
			h := *t.Health
			h.States = slices.Clone(h.States)
			t.Health = &h
		}
		if t.Event != nil {
			e := *t.Event
			t.Event = &e
		}
		c.Trigger = &t
	}
	return &c
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
