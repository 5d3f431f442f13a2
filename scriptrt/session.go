package scriptrt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// session is the state of one run: its own goja runtime, the context that
// interrupts it, and what the script APIs need. A session belongs to the
// goroutine of Run; only the interrupting callbacks (context, memory
// watchdog) touch it from elsewhere, through goja's Interrupt, which is
// safe for that.
type session struct {
	rt   *Runtime
	lim  Limits
	ctx  context.Context
	req  Request
	now  time.Time
	vm   *goja.Runtime
	stop func() bool // unregisters the context interrupt
	mem  *watch

	// errs maps the JS error objects made for Go errors back to them, so
	// that an exception leaving the script unwraps to the Go error without
	// the Go value ever being reachable from JavaScript.
	errs map[*goja.Object]*apiError
	// thenables maps the JS objects of builders and async results to their
	// Go side.
	thenables map[*goja.Object]thenable
	// types names the API objects a result can be (the result's _type).
	types map[*goja.Object]string
	// elems maps component and relation objects to their Go side.
	elems map[*goja.Object]*element
	// lists maps lists of components and relations to their Go side.
	lists map[*goja.Object]*lazyList

	elements int    // components loaded by all queries so far
	calls    int    // queries and HTTP requests so far
	writes   writes // health states and events to write when the run ends

	jsonParse goja.Callable // the original JSON.parse, kept before the script can replace it
	promise   *goja.Object  // the original Promise constructor
	errorCtor *goja.Object  // the original Error constructor
	listProto *goja.Object  // the prototype of pending lists, made on first use
}

// apiError is a Go error of a script API, as the script sees it.
type apiError struct {
	err   error
	query string // the TQL text, when the error is about a query
	line  int    // where in the script the API call was made
	col   int
}

func (rt *Runtime) newSession(ctx context.Context, req Request, lim Limits) *session {
	now := req.Now
	if now.IsZero() {
		now = rt.cfg.Now()
	}
	vm := goja.New()
	vm.SetMaxCallStackSize(lim.MaxCallDepth)
	s := &session{
		rt: rt, lim: lim, ctx: ctx, req: req, now: now, vm: vm,
		errs: map[*goja.Object]*apiError{}, thenables: map[*goja.Object]thenable{}, types: map[*goja.Object]string{},
		elems: map[*goja.Object]*element{}, lists: map[*goja.Object]*lazyList{},
	}
	s.stop = context.AfterFunc(ctx, func() { vm.Interrupt(errStopped) })
	s.mem = rt.mem.watch(vm, lim.MaxMemory)
	s.install()
	return s
}

func (s *session) close() {
	s.stop()
	s.mem.done()
}

// install sets up the sandbox: built-ins that could reach outside or
// allocate without bound are removed or guarded, then the script APIs are
// defined.
func (s *session) install() {
	parse, _ := goja.AssertFunction(s.vm.Get("JSON").ToObject(s.vm).Get("parse"))
	s.jsonParse = parse
	s.promise = s.vm.Get("Promise").ToObject(s.vm)
	s.errorCtor = s.vm.Get("Error").ToObject(s.vm)
	s.sandbox()
	s.installAPIs()
}

// throw raises a Go error of a script API as a JS exception the script may
// catch: an Error whose name says its class, with the message, and for a
// query error the query text. The Go error stays on the Go side (errs).
func (s *session) throw(err error, query string) {
	panic(s.errorValue(err, query))
}

// errorValue makes the JS error object for a Go error of a script API.
func (s *session) errorValue(err error, query string) *goja.Object {
	obj := s.newError(errorName(err), apiMessage(err, query))
	if query != "" {
		_ = obj.Set("query", query)
	}
	line, col := s.callerPosition()
	s.errs[obj] = &apiError{err: err, query: query, line: line, col: col}
	return obj
}

// newError makes a JS Error with the given name and message.
func (s *session) newError(name, msg string) *goja.Object {
	obj, err := s.vm.New(s.errorCtor, s.vm.ToValue(msg))
	if err != nil { // cannot happen with the original Error; stay usable anyway
		obj = s.vm.NewObject()
		_ = obj.Set("message", msg)
	}
	_ = obj.DefineDataProperty("name", s.vm.ToValue(name), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	// StackState's scripts read exceptions with getMessage().
	s.method(obj, "getMessage", func(goja.FunctionCall) goja.Value { return s.vm.ToValue(msg) })
	return obj
}

// errorName is the JS name of a Go error's class.
func errorName(err error) string {
	var (
		lim *LimitError
		sec *SecurityError
		to  *TimeoutError
	)
	switch {
	case errors.As(err, &lim), errors.As(err, new(*exec.LimitError)), errors.As(err, new(*exec.ResponseLimitError)):
		return "LimitError"
	case errors.As(err, new(*exec.TimeoutError)):
		return "TimeoutError"
	case errors.As(err, &sec):
		return "SecurityError"
	case errors.As(err, &to):
		return "TimeoutError"
	case errors.As(err, new(*httpError)):
		return "HttpError"
	case errors.As(err, new(*argError)):
		return "TypeError"
	case errors.Is(err, errNoComponent):
		return "NotFoundError"
	}
	return "QueryError"
}

// apiMessage is the one-line message of an API error: the error's text
// without the package prefix; for a language error, the query and the
// position in it (ScriptError.Query keeps the query for a caret drawing).
func apiMessage(err error, query string) string {
	msg := strings.TrimPrefix(err.Error(), "scriptrt: ")
	if query == "" {
		return msg
	}
	errs := lang.Locate(query, err)
	if len(errs) == 0 {
		return fmt.Sprintf("%s (in %s)", msg, query)
	}
	e := errs[0]
	msg = fmt.Sprintf("in %s: %d:%d: %s", query, e.Line, e.Col, e.Message)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// callerPosition is where in the script the running native function was
// called from.
func (s *session) callerPosition() (line, col int) {
	for _, f := range s.vm.CaptureCallStack(0, nil) {
		if p := f.Position(); p.Line > 0 {
			return p.Line, p.Column
		}
	}
	return 0, 0
}

// scriptError turns an exception that left the script into a ScriptError
// at the innermost script position, unwrapping an API error to its Go
// error.
func (s *session) scriptError(ex *goja.Exception) error {
	se := &ScriptError{Message: ex.Error()}
	var b strings.Builder
	for _, f := range ex.Stack() {
		if p := f.Position(); p.Line > 0 {
			if se.Line == 0 {
				se.Line, se.Column = p.Line, p.Column
			}
			fmt.Fprintf(&b, "at %s (%s:%d:%d)\n", f.FuncName(), f.SrcName(), p.Line, p.Column)
		}
	}
	se.Stack = b.String()
	obj, ok := ex.Value().(*goja.Object)
	if !ok {
		se.Name, se.Message = "Error", "uncaught "+valueString(ex.Value())
		return se
	}
	se.Name, se.Message = propString(obj, "name", "Error"), propString(obj, "message", valueString(obj))
	if ae := s.errs[obj]; ae != nil {
		se.Err, se.Query = ae.err, ae.query
		if ae.line > 0 {
			se.Line, se.Column = ae.line, ae.col
		}
		if lim, ok := ae.err.(*LimitError); ok {
			return lim // a limit names itself, whoever threw it
		}
	}
	return se
}

// propString reads a string property without running the script's code
// for anything but a getter the script defined itself (which the run's
// interrupts still bound).
func propString(obj *goja.Object, name, def string) string {
	v := obj.Get(name)
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return def
	}
	return valueString(v)
}

// valueString is a value's text, guarded against a toString that throws.
func valueString(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "<a value whose conversion to text failed>"
		}
	}()
	if v == nil {
		return "undefined"
	}
	return v.String()
}
