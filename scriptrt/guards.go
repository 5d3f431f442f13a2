package scriptrt

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// The sandbox.
//
// goja gives a script nothing of the host by itself: no require, no
// modules, no console, no timers, no file system, process or network. The
// sandbox keeps it that way (the script APIs are built by hand from
// functions and plain objects; no Go value is reflected into JavaScript),
// and closes what goja does have that a hostile script could use against
// the process:
//
//   - built-ins that allocate or loop in native code in proportion to an
//     argument (repeat, padStart, join, fill, apply with a huge
//     array-like, JSON.stringify of a value shared many times, …) cannot be
//     interrupted midway, so each is wrapped with a check that refuses a
//     call whose output or walk would exceed MaxStringLength or
//     MaxArrayLength, before it starts;
//   - built-ins that recurse in Go over nested values (JSON.stringify,
//     join and toString of nested arrays, flat) could overflow the Go stack,
//     which kills the process: the same checks refuse nesting deeper than
//     MaxNesting;
//   - binary data (ArrayBuffer, typed arrays, DataView), which a script of
//     this API has no use for, allocates eagerly: it is removed;
//   - a regular expression that needs backtracking runs in
//     github.com/dlclark/regexp2, which cannot be interrupted: its matches
//     give up after regexpMatchTimeout (and then find no match).
//
// Everything else is bounded by the timeout and the memory watchdog.

// regexpMatchTimeout bounds one backtracking regular-expression match.
const regexpMatchTimeout = 5 * time.Second

var regexpOnce sync.Once

// limitRegexpBacktracking sets regexp2's package default, which goja's
// regular expressions use, unless the program set one already. It is
// process-wide by regexp2's design.
func limitRegexpBacktracking() {
	regexpOnce.Do(func() {
		if regexp2.DefaultMatchTimeout == time.Duration(math.MaxInt64) {
			regexp2.DefaultMatchTimeout = regexpMatchTimeout
		}
	})
}

// binaryGlobals are removed from every sandbox.
var binaryGlobals = []string{
	"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray",
	"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array",
	"Float64Array", "BigInt64Array", "BigUint64Array",
}

// arrayWalkers are the Array.prototype methods that walk their receiver up
// to its length in native code, holes included.
var arrayWalkers = []string{
	"copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex",
	"forEach", "includes", "indexOf", "lastIndexOf", "map", "push", "reduce", "reduceRight",
	"reverse", "shift", "slice", "some", "sort", "splice", "unshift", "toReversed", "toSorted",
	"toSpliced", "with", "flatMap",
}

// sandbox removes and guards built-ins; see the comment above.
func (s *session) sandbox() {
	g := s.vm.GlobalObject()
	for _, name := range binaryGlobals {
		_ = g.Delete(name)
	}
	str := s.proto("String")
	s.guard(str, "repeat", s.checkRepeat)
	s.guard(str, "padStart", s.checkPad)
	s.guard(str, "padEnd", s.checkPad)
	s.guard(str, "concat", s.checkStringConcat)
	s.guard(str, "replace", s.checkReplace(false))
	s.guard(str, "replaceAll", s.checkReplace(true))
	arr := s.proto("Array")
	for _, name := range arrayWalkers {
		s.guard(arr, name, s.checkThisLength)
	}
	s.guard(arr, "join", s.checkJoin)
	s.guard(arr, "toLocaleString", s.checkJoin)
	s.guard(arr, "concat", s.checkArrayConcat)
	s.guard(arr, "flat", s.checkFlat)
	s.guard(s.object("Array"), "from", s.checkFrom)
	s.guard(s.proto("Function"), "apply", s.checkApply(1))
	s.guard(s.object("Reflect"), "apply", s.checkApply(2))
	s.guard(s.object("Reflect"), "construct", s.checkApply(1))
	s.guard(s.object("JSON"), "stringify", s.checkStringify)
}

func (s *session) object(name string) *goja.Object {
	return s.vm.GlobalObject().Get(name).ToObject(s.vm)
}

func (s *session) proto(name string) *goja.Object {
	return s.object(name).Get("prototype").ToObject(s.vm)
}

// guard replaces obj[name] with a function that runs check and then the
// original. The original is reachable only from Go, so the script cannot
// call around the check. The wrapper keeps the original's name and length.
func (s *session) guard(obj *goja.Object, name string, check func(goja.FunctionCall)) {
	v := obj.Get(name)
	orig, ok := goja.AssertFunction(v)
	if !ok {
		return
	}
	length := v.ToObject(s.vm).Get("length")
	fn := s.function(name, func(call goja.FunctionCall) goja.Value {
		check(call)
		out, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err) // rethrown as it was: an exception, or an uncatchable interrupt
		}
		return out
	})
	_ = fn.DefineDataProperty("length", length, goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = obj.DefineDataProperty(name, fn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// limit throws a LimitError the script may catch.
func (s *session) limit(l Limit, max int, format string, args ...any) {
	s.throw(&LimitError{Limit: l, Max: int64(max), Detail: fmt.Sprintf(format, args...)}, "")
}

func (s *session) checkString(n float64, what string) {
	if n > float64(s.lim.MaxStringLength) {
		s.limit(LimitString, s.lim.MaxStringLength, "%s would make a string of %.0f characters", what, n)
	}
}

func (s *session) checkArray(n float64, what string) {
	if n > float64(s.lim.MaxArrayLength) {
		s.limit(LimitArray, s.lim.MaxArrayLength, "%s would walk or make %.0f elements", what, n)
	}
}

// strLen is the length of a value as a string, without converting objects
// (which could run the script's code at a time it does not expect).
func strLen(v goja.Value) int {
	if str, ok := v.(goja.String); ok {
		return str.Length()
	}
	return 0
}

// lengthOf is toLength(obj.length) of an object, 0 for a primitive.
func (s *session) lengthOf(v goja.Value) float64 {
	obj, ok := v.(*goja.Object)
	if !ok {
		return 0
	}
	n := obj.Get("length")
	if n == nil {
		return 0
	}
	f := n.ToFloat()
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return f
}

func (s *session) checkRepeat(call goja.FunctionCall) {
	n := call.Argument(0).ToFloat()
	if !math.IsInf(n, 0) && !math.IsNaN(n) && n > 0 {
		s.checkString(float64(strLen(call.This))*math.Trunc(n), "String.prototype.repeat")
	}
}

func (s *session) checkPad(call goja.FunctionCall) {
	s.checkString(call.Argument(0).ToFloat(), "String.prototype.padStart/padEnd")
}

func (s *session) checkStringConcat(call goja.FunctionCall) {
	n := float64(strLen(call.This))
	for _, a := range call.Arguments {
		n += float64(strLen(a))
	}
	s.checkString(n, "String.prototype.concat")
}

// checkReplace bounds the output of replace and replaceAll with a string
// replacement: every match adds the replacement, and each $ pattern in it
// may add up to the whole input. A function replacement runs the script's
// code per match, which interrupts reach.
func (s *session) checkReplace(all bool) func(goja.FunctionCall) {
	return func(call goja.FunctionCall) {
		rep, ok := call.Argument(1).(goja.String)
		if !ok {
			return
		}
		in := float64(strLen(call.This))
		repText := rep.String()
		per := float64(rep.Length()) + float64(strings.Count(repText, "$"))*in
		matches := 1.0
		if pat, ok := call.Argument(0).(goja.String); ok {
			if all {
				matches = float64(countMatches(call.This.String(), pat.String()))
			}
		} else if _, isObj := call.Argument(0).(*goja.Object); isObj {
			matches = in + 1 // a global regular expression may match at every position
		}
		s.checkString(in+matches*per, "String.prototype.replace")
	}
}

// countMatches counts the matches of replaceAll with a string pattern (an
// empty pattern matches between every character).
func countMatches(s, pat string) int {
	if pat == "" {
		return len([]rune(s)) + 1
	}
	return strings.Count(s, pat)
}

func (s *session) checkThisLength(call goja.FunctionCall) {
	s.checkArray(s.lengthOf(call.This), "an array method")
}

func (s *session) checkArrayConcat(call goja.FunctionCall) {
	n := s.lengthOf(call.This)
	for _, a := range call.Arguments {
		n += max(1, s.lengthOf(a))
	}
	s.checkArray(n, "Array.prototype.concat")
}

func (s *session) checkFrom(call goja.FunctionCall) {
	s.checkArray(s.lengthOf(call.Argument(0)), "Array.from")
}

// checkApply bounds the argument list that apply, Reflect.apply and
// Reflect.construct copy out of an array-like.
func (s *session) checkApply(argIndex int) func(goja.FunctionCall) {
	return func(call goja.FunctionCall) {
		s.checkArray(s.lengthOf(call.Argument(argIndex)), "spreading arguments")
	}
}

func (s *session) checkJoin(call goja.FunctionCall) {
	sep := 1.0
	if v := call.Argument(0); !goja.IsUndefined(v) {
		sep = float64(strLen(v))
	}
	m := s.newMeasure()
	n := m.joined(call.This, sep, 0)
	s.checkString(n, "Array.prototype.join")
}

func (s *session) checkFlat(call goja.FunctionCall) {
	depth := 1.0
	if v := call.Argument(0); !goja.IsUndefined(v) {
		depth = v.ToFloat()
	}
	m := s.newMeasure()
	m.flatDepth = depth
	n := m.flattened(call.This, 0)
	s.checkArray(n, "Array.prototype.flat")
}

func (s *session) checkStringify(call goja.FunctionCall) {
	m := s.newMeasure()
	if ind := call.Argument(2); !goja.IsUndefined(ind) {
		if str, ok := ind.(goja.String); ok {
			m.indent = float64(min(str.Length(), 10))
		} else {
			m.indent = math.Min(10, math.Max(0, ind.ToFloat()))
		}
	}
	n := m.json(call.Argument(0), 0)
	s.checkString(n, "JSON.stringify")
}
