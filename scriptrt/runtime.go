package scriptrt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Defaults of Limits.
const (
	DefaultTimeout         = 15 * time.Second
	DefaultMaxMemory       = 256 << 20
	DefaultMaxResultBytes  = 8 << 20
	DefaultMaxRunElements  = 100_000
	DefaultMaxCalls        = 10_000
	DefaultMaxStringLength = 32 << 20
	DefaultMaxArrayLength  = 8 << 20
	DefaultMaxNesting      = 1000
	DefaultMaxCallDepth    = 2000
	DefaultCacheSize       = 256
)

// Limits bound what one script run may use. A zero field takes its default.
type Limits struct {
	// Timeout bounds a run (DefaultTimeout); a request may ask for less or
	// more.
	Timeout time.Duration
	// MaxMemory is how far the process heap may grow during a run, in
	// bytes (DefaultMaxMemory). See memory.go for how it is measured.
	MaxMemory int64
	// MaxResultBytes bounds the serialised result (DefaultMaxResultBytes).
	MaxResultBytes int
	// MaxElements is how many components one query may load (the engine's
	// limit when zero).
	MaxElements int
	// MaxRunElements is how many components all queries of one run may
	// load together (DefaultMaxRunElements).
	MaxRunElements int
	// MaxCalls bounds the queries and HTTP requests of one run
	// (DefaultMaxCalls).
	MaxCalls int
	// MaxStringLength bounds a string that a built-in makes in one step
	// (repeat, padStart, join, replace, JSON.stringify), in UTF-16 units.
	MaxStringLength int
	// MaxArrayLength bounds an array a built-in walks or makes in one step
	// (fill, join, concat, apply, …).
	MaxArrayLength int
	// MaxNesting bounds the depth of nested arrays and objects that a
	// recursive built-in walks, and of the result.
	MaxNesting int
	// MaxCallDepth bounds nested function calls.
	MaxCallDepth int
	// MaxWrites bounds the health states and events one run writes
	// (DefaultMaxWrites).
	MaxWrites int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	def(&l.MaxResultBytes, DefaultMaxResultBytes)
	def(&l.MaxRunElements, DefaultMaxRunElements)
	def(&l.MaxCalls, DefaultMaxCalls)
	def(&l.MaxStringLength, DefaultMaxStringLength)
	def(&l.MaxArrayLength, DefaultMaxArrayLength)
	def(&l.MaxNesting, DefaultMaxNesting)
	def(&l.MaxCallDepth, DefaultMaxCallDepth)
	def(&l.MaxWrites, DefaultMaxWrites)
	return l
}

// Config configures a Runtime.
type Config struct {
	// Engine runs every query of every script API. Required.
	Engine *exec.Engine
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Limits bound each run.
	Limits Limits
	// HTTP configures the Http script API; without allowed hosts every
	// request is refused.
	HTTP HTTPConfig
	// CacheSize is how many compiled scripts are kept (DefaultCacheSize).
	CacheSize int
}

// Runtime runs scripts. It is safe for concurrent use: every run gets a
// JavaScript runtime of its own (goja runtimes are not goroutine-safe and
// are never shared), and only compiled programs, which are immutable, are
// shared between runs.
type Runtime struct {
	cfg    Config
	lim    Limits
	cache  *programCache
	mem    *governor
	client *http.Client
}

// New returns a runtime over cfg.Engine.
func New(cfg Config) (*Runtime, error) {
	if cfg.Engine == nil {
		return nil, errors.New("scriptrt: Config.Engine is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	hc, err := cfg.HTTP.client()
	if err != nil {
		return nil, err
	}
	limitRegexpBacktracking()
	return &Runtime{
		cfg:    cfg,
		lim:    cfg.Limits.withDefaults(),
		cache:  newProgramCache(cfg.CacheSize),
		mem:    defaultGovernor(),
		client: hc,
	}, nil
}

// Request is one script to run.
type Request struct {
	// Script is the JavaScript source. Its completion value (the value of
	// its last expression statement) is the result; a thenable or a
	// promise is resolved first.
	Script string
	// Name names the script in positions and stacks ("script" when empty).
	Name string
	// ArgumentsScript, when set, runs first; its result must be an object
	// whose properties become global variables of Script (StackState's
	// argumentsScript).
	ArgumentsScript string
	// Timeout bounds the run (the runtime's Limits.Timeout when zero).
	Timeout time.Duration
	// Scope, when not nil, confines every query of the script to the
	// components it selects (the caller's API key scope).
	Scope lang.Expr
	// Now is the time the run starts at: relative times in queries count
	// from it (the runtime's clock when zero).
	Now time.Time
	// Arguments, when set, is a JSON object whose properties become global
	// variables of Script (after those of ArgumentsScript): how an
	// automation hands its trigger (the event, the health change) to its
	// script.
	Arguments []byte
	// Sink, when not nil, receives what the script writes with Health.set
	// and Events.emit, once the run ends without error; without one those
	// APIs throw a SecurityError.
	Sink Sink
	// Monitor, when set, makes the run a monitor's: the script's value is
	// the health states it reports (an array of {component, state,
	// message, name, checkId}, or one such object), and they replace
	// every state of the health stream Monitor names. Needs a Sink.
	Monitor string
	// Source names the writer: the source of its events and the suffix of
	// its health stream (urn:tetra:script:<Source>).
	Source string
	// Limits, when not nil, replaces the runtime's limits for this run
	// (zero fields take the defaults): an automation's own budget.
	Limits *Limits
}

// Run runs one script and returns its result, serialised. The run stops
// at the request's timeout, when ctx ends, or when it goes over a limit;
// see the error classes in errors.go.
func (rt *Runtime) Run(ctx context.Context, req Request) (res *Result, err error) {
	if req.Name == "" {
		req.Name = "script"
	}
	lim := rt.lim
	if req.Limits != nil {
		lim = req.Limits.withDefaults()
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = lim.Timeout
	}
	prg, err := rt.cache.compile(req.Name, req.Script)
	if err != nil {
		return nil, err
	}
	var args *goja.Program
	if req.ArgumentsScript != "" {
		if args, err = rt.cache.compile(req.Name+" arguments", req.ArgumentsScript); err != nil {
			return nil, &ArgumentsError{Err: err}
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := rt.newSession(runCtx, req, lim)
	defer s.close()
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, s.recovered(r)
		}
		if err != nil {
			err = s.classify(ctx, runCtx, timeout, err)
		}
	}()
	if args != nil {
		if err := s.bindArguments(args); err != nil {
			return nil, &ArgumentsError{Err: s.classify(ctx, runCtx, timeout, err)}
		}
	}
	if len(req.Arguments) > 0 {
		if err := s.bindJSON(req.Arguments); err != nil {
			return nil, &ArgumentsError{Err: err}
		}
	}
	v, err := s.vm.RunProgram(prg)
	if err != nil {
		return nil, err
	}
	return s.finish(v)
}

// bindJSON makes the properties of a JSON object global variables, parsed
// by the original JSON.parse so no Go value reaches the script.
func (s *session) bindJSON(doc []byte) error {
	v, err := s.jsonParse(goja.Undefined(), s.vm.ToValue(string(doc)))
	if err != nil {
		return err
	}
	return s.bindObject(v)
}

// finish resolves the script's completion value, serialises it, and
// hands the run's writes to the sink.
func (s *session) finish(v goja.Value) (*Result, error) {
	v, err := s.settle(v)
	if err != nil {
		return nil, err
	}
	res, err := s.encodeResult(v)
	if err != nil {
		return nil, err
	}
	if s.req.Monitor != "" {
		if err := s.monitorStates(res); err != nil {
			return nil, err
		}
	}
	if err := s.flush(); err != nil {
		return nil, err
	}
	res.HealthStates, res.Events = len(s.writes.health), len(s.writes.events)
	return res, nil
}

// bindArguments runs the arguments script and makes the properties of its
// result global variables.
func (s *session) bindArguments(prg *goja.Program) error {
	v, err := s.vm.RunProgram(prg)
	if err != nil {
		return err
	}
	if v, err = s.settle(v); err != nil {
		return err
	}
	return s.bindObject(v)
}

// bindObject makes the properties of an object global variables.
func (s *session) bindObject(v goja.Value) error {
	obj, ok := v.(*goja.Object)
	if !ok || goja.IsNull(v) {
		return &ScriptError{Name: "TypeError", Message: "the arguments script must return an object whose properties become variables"}
	}
	for _, k := range obj.Keys() {
		if err := s.vm.Set(k, obj.Get(k)); err != nil {
			return err
		}
	}
	return nil
}

// classify turns what stopped a run into one of the package's error
// classes: interrupts into the limit or timeout that caused them, goja's
// exceptions into ScriptErrors with the script position.
func (s *session) classify(parent, runCtx context.Context, timeout time.Duration, err error) error {
	var (
		intr *goja.InterruptedError
		so   *goja.StackOverflowError
		ex   *goja.Exception
	)
	switch {
	case errors.As(err, &intr):
		if cause, ok := intr.Value().(error); ok {
			return s.classifyCause(parent, runCtx, timeout, cause)
		}
		return &InternalError{Msg: fmt.Sprint("interrupted: ", intr.Value())}
	case errors.As(err, &so):
		return &LimitError{Limit: LimitCallDepth, Max: int64(s.lim.MaxCallDepth), Detail: "too much recursion" + stackPosition(so.Stack())}
	case errors.As(err, &ex):
		return s.classifyCause(parent, runCtx, timeout, s.scriptError(ex))
	}
	return s.classifyCause(parent, runCtx, timeout, err)
}

// classifyCause names the timeout and the caller's cancellation, which reach
// here as context errors from an interrupt or from a query.
func (s *session) classifyCause(parent, runCtx context.Context, timeout time.Duration, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, errStopped) {
		return err
	}
	if pe := parent.Err(); pe != nil {
		return pe
	}
	if runCtx.Err() != nil {
		return &TimeoutError{Timeout: timeout}
	}
	return err
}

// recovered turns a panic that reached Run into an error: an exception an
// API threw while the script's value was being resolved or serialised
// (outside any JavaScript frame, where goja would have caught it), an
// interrupt, or else a bug.
func (s *session) recovered(r any) error {
	switch x := r.(type) {
	case *goja.Object:
		return s.rejectionError(outcome{thrown: x})
	case error:
		if isUncatchable(x) {
			return x
		}
		var ex *goja.Exception
		if errors.As(x, &ex) {
			return x
		}
	}
	return &InternalError{Msg: fmt.Sprint("panic: ", r)}
}

// errStopped is the interrupt value when the run's context ends.
var errStopped = errors.New("scriptrt: run stopped")

// stackPosition returns " at line:col" for the innermost script frame.
func stackPosition(frames []goja.StackFrame) string {
	for _, f := range frames {
		if p := f.Position(); p.Line > 0 {
			return fmt.Sprintf(" at %d:%d", p.Line, p.Column)
		}
	}
	return ""
}
