package scriptrt

import (
	"errors"

	"github.com/dop251/goja"
)

// Async results.
//
// StackState's script APIs return AsyncScriptResults: builders that run
// when the script chains .then on them or returns them. Tetra's engine
// answers synchronously, so an async result here is a settled outcome (a
// value, or the exception that rejected it), and .then runs its callback at
// once. Builders are lazy: Topology.query(q).at(t) only records the query;
// it runs when .then, .catchError, Async.sequence, await or the end of the
// script needs its value, once per builder object.
//
// Every builder and async result has then(onValue, onError) (so await and
// Promise.resolve accept it), catchError(fn) and thenCollect(fn). A value a
// callback returns is flattened: a builder or async result is resolved, and
// so is an array of them (StackState's flattening).

// thenable is the Go side of a builder or async result.
type thenable interface {
	resolve() outcome
}

// outcome is a settled result: a value, or the exception that rejected it.
type outcome struct {
	val    goja.Value
	thrown goja.Value // non-nil when rejected
	ex     *goja.Exception
}

// settledResult is an async result that is already settled.
type settledResult struct{ out outcome }

func (r *settledResult) resolve() outcome { return r.out }

// lazy memoises a builder's resolution: a builder object runs once.
type lazy struct {
	done bool
	out  outcome
}

func (l *lazy) get(run func() outcome) outcome {
	if !l.done {
		l.out, l.done = run(), true
	}
	return l.out
}

// thenableObject makes the JS object of a thenable: the async methods plus
// the builder's own.
func (s *session) thenableObject(t thenable, methods map[string]func(goja.FunctionCall) goja.Value) *goja.Object {
	obj := s.vm.NewObject()
	s.thenables[obj] = t
	s.method(obj, "then", func(c goja.FunctionCall) goja.Value { return s.then(t, c.Argument(0), c.Argument(1)) })
	s.method(obj, "catchError", func(c goja.FunctionCall) goja.Value { return s.then(t, nil, c.Argument(0)) })
	s.method(obj, "thenCollect", func(c goja.FunctionCall) goja.Value { return s.thenCollect(t, c.Argument(0)) })
	for name, fn := range methods {
		s.method(obj, name, fn)
	}
	return obj
}

// method defines a non-enumerable method, so that a builder serialises to
// nothing of its own and Object.keys shows only data.
func (s *session) method(obj *goja.Object, name string, fn func(goja.FunctionCall) goja.Value) {
	_ = obj.DefineDataProperty(name, s.function(name, fn), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// function makes a native function named name: goja would name it after
// the Go function, which says nothing to a script and is none of its
// business.
func (s *session) function(name string, fn func(goja.FunctionCall) goja.Value) *goja.Object {
	f := s.vm.ToValue(fn).ToObject(s.vm)
	_ = f.DefineDataProperty("name", s.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return f
}

// asyncObject makes a settled async result.
func (s *session) asyncObject(out outcome) goja.Value {
	return s.thenableObject(&settledResult{out}, nil)
}

// then runs onValue or onError on t's outcome at once.
func (s *session) then(t thenable, onValue, onError goja.Value) goja.Value {
	out := t.resolve()
	okFn, _ := goja.AssertFunction(onValue)
	errFn, _ := goja.AssertFunction(onError)
	switch {
	case out.thrown == nil && okFn != nil:
		out = s.callback(okFn, out.val)
	case out.thrown != nil && errFn != nil:
		out = s.callback(errFn, out.thrown)
	}
	return s.asyncObject(out)
}

// thenCollect maps fn over the array t resolves to (StackState's
// .thenCollect { … }).
func (s *session) thenCollect(t thenable, fn goja.Value) goja.Value {
	out := t.resolve()
	f, ok := goja.AssertFunction(fn)
	if out.thrown != nil || !ok {
		return s.asyncObject(out)
	}
	arr, ok := isArray(out.val)
	if !ok {
		return s.asyncObject(s.rejectf("thenCollect needs a list, and the result is not one"))
	}
	n := int(s.lengthOf(arr))
	s.checkArray(float64(n), "thenCollect")
	vals := make([]any, n)
	for i := range n {
		o := s.callback(f, arr.Get(itoa(i)))
		if o.thrown != nil {
			return s.asyncObject(o)
		}
		vals[i] = o.val
	}
	return s.asyncObject(outcome{val: s.vm.NewArray(vals...)})
}

// callback calls a script function with one argument and flattens what it
// returns. An exception it throws rejects the outcome; an interrupt goes
// on up.
func (s *session) callback(fn goja.Callable, arg goja.Value) outcome {
	v, err := fn(goja.Undefined(), arg)
	if err != nil {
		var ex *goja.Exception
		if errors.As(err, &ex) && !isUncatchable(err) {
			return outcome{thrown: ex.Value(), ex: ex}
		}
		panic(err)
	}
	return s.flatten(v)
}

// isUncatchable reports an interrupt or a stack overflow, which no script
// code may catch.
func isUncatchable(err error) bool {
	var intr *goja.InterruptedError
	var so *goja.StackOverflowError
	return errors.As(err, &intr) || errors.As(err, &so)
}

// flatten resolves a builder or async result, and every one in an array.
func (s *session) flatten(v goja.Value) outcome {
	obj, ok := v.(*goja.Object)
	if !ok {
		return outcome{val: v}
	}
	if t, ok := s.thenables[obj]; ok {
		return t.resolve()
	}
	if _, ok := isArray(obj); !ok {
		return outcome{val: v}
	}
	n := s.lengthOf(obj)
	if n > float64(s.lim.MaxArrayLength) {
		return outcome{val: v} // not a list of results; the encoder refuses it if it is the result
	}
	vals := make([]any, int(n))
	changed := false
	for i := range int(n) {
		e := obj.Get(itoa(i))
		if eo, ok := e.(*goja.Object); ok {
			if t, ok := s.thenables[eo]; ok {
				o := t.resolve()
				if o.thrown != nil {
					return o
				}
				e, changed = o.val, true
			}
		}
		vals[i] = e
	}
	if !changed {
		return outcome{val: v}
	}
	return outcome{val: s.vm.NewArray(vals...)}
}

// sequence is Async.sequence(list): the list with every async result in it
// resolved.
func (s *session) sequence(call goja.FunctionCall) goja.Value {
	list := call.Argument(0)
	if _, ok := isArray(list); !ok {
		s.throw(argErrorf("Async.sequence takes a list of async results"), "")
	}
	return s.asyncObject(s.flatten(list))
}

// settle resolves the script's completion value: a promise (an async
// function's result) must have settled, a thenable is resolved.
func (s *session) settle(v goja.Value) (goja.Value, error) {
	if obj, ok := v.(*goja.Object); ok && s.vm.InstanceOf(obj, s.promise) {
		if p, ok := obj.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStateFulfilled:
				v = p.Result()
			case goja.PromiseStateRejected:
				return nil, s.rejectionError(outcome{thrown: p.Result()})
			default:
				return nil, &ScriptError{Name: "Error", Message: "the script returned a promise that never settled"}
			}
		}
	}
	out := s.flatten(v)
	if out.thrown != nil {
		return nil, s.rejectionError(out)
	}
	return out.val, nil
}

// rejectionError turns a rejected outcome that reached the end of the script
// into the error of the run.
func (s *session) rejectionError(out outcome) error {
	if out.ex != nil {
		return s.scriptError(out.ex)
	}
	if obj, ok := out.thrown.(*goja.Object); ok {
		if ae := s.errs[obj]; ae != nil {
			if lim, ok := ae.err.(*LimitError); ok {
				return lim
			}
			return &ScriptError{Name: propString(obj, "name", "Error"), Message: apiMessage(ae.err, ae.query),
				Line: ae.line, Column: ae.col, Query: ae.query, Err: ae.err}
		}
		return &ScriptError{Name: propString(obj, "name", "Error"), Message: propString(obj, "message", valueString(obj))}
	}
	return &ScriptError{Name: "Error", Message: "uncaught " + valueString(out.thrown)}
}

// reject makes a rejected outcome of a Go error of an API call made at pos.
func (s *session) reject(err error, query string, pos position) outcome {
	out := outcome{thrown: s.errorValue(err, query)}
	s.placeRejection(out, pos)
	return out
}

func (s *session) rejectf(msg string) outcome {
	return s.reject(argErrorf("%s", msg), "", position{})
}

// position is a place in the script.
type position struct{ line, col int }

// here is the script position of the API call being made.
func (s *session) here() position {
	l, c := s.callerPosition()
	return position{l, c}
}

// try runs f, turning an exception it throws into a rejected outcome.
func (s *session) try(f func() goja.Value) (out outcome) {
	defer func() {
		if r := recover(); r != nil {
			switch x := r.(type) {
			case *goja.Exception:
				out = outcome{thrown: x.Value(), ex: x}
			case goja.Value:
				out = outcome{thrown: x}
			default:
				panic(r)
			}
		}
	}()
	return outcome{val: f()}
}

// placeRejection gives an API error raised while resolving (when no script
// frame is running, at the end of the script) the position of the call
// that made the builder.
func (s *session) placeRejection(out outcome, pos position) {
	if obj, ok := out.thrown.(*goja.Object); ok {
		if ae := s.errs[obj]; ae != nil && ae.line == 0 {
			ae.line, ae.col = pos.line, pos.col
		}
	}
}
