package scriptrt

import (
	"strconv"

	"github.com/dop251/goja"
)

// measure estimates, before a recursive built-in runs, how big its output
// would be, walking the value the way the built-in would. It stops as soon
// as the estimate passes the limit, refuses nesting deeper than
// MaxNesting, and checks for the end of the run every few hundred steps,
// so the walk itself is bounded. A value shared many times counts every
// time, as the built-in would write it every time. Objects with their own
// toString or toJSON count as short: what those return is made by the
// script's code, which the run's interrupts reach.
type measure struct {
	s         *session
	limit     float64
	steps     int
	visiting  map[*goja.Object]bool // the path from the root: a cycle is an error of the built-in itself
	indent    float64               // JSON.stringify's indent width
	flatDepth float64               // flat's depth
}

func (s *session) newMeasure() *measure {
	return &measure{s: s, limit: float64(s.lim.MaxStringLength), visiting: map[*goja.Object]bool{}}
}

// step counts one visited value and stops the walk when the run is over.
func (m *measure) step(depth int) {
	if depth > m.s.lim.MaxNesting {
		m.s.limit(LimitNesting, m.s.lim.MaxNesting, "a value nested more than %d levels deep", m.s.lim.MaxNesting)
	}
	m.steps++
	if m.steps&255 == 0 && m.s.ctx.Err() != nil {
		m.s.throw(errStopped, "") // the context's interrupt follows at once
	}
}

// array returns obj when it is an array (not a proxy or array-like).
func isArray(v goja.Value) (*goja.Object, bool) {
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Array" {
		return nil, false
	}
	return obj, true
}

// elements walks an array's elements up to its length, stopping when the
// running total passes the limit.
func (m *measure) elements(obj *goja.Object, total *float64, each func(goja.Value) float64) {
	n := m.s.lengthOf(obj)
	m.s.checkArray(n, "a built-in")
	for i := 0; i < int(n) && *total <= m.limit; i++ {
		*total += each(obj.Get(strconv.Itoa(i)))
	}
}

// array sums each over the elements of v when it is an array not already
// on the path from the root, and returns other when it is not one.
func (m *measure) array(v goja.Value, depth int, other float64, each func(goja.Value) float64) float64 {
	m.step(depth)
	obj, ok := isArray(v)
	if !ok || m.visiting[obj] {
		return other
	}
	m.visiting[obj] = true
	defer delete(m.visiting, obj)
	total := 0.0
	m.elements(obj, &total, each)
	return total
}

// joined estimates the length of join(sep) of v.
func (m *measure) joined(v goja.Value, sep float64, depth int) float64 {
	return m.array(v, depth, 0, func(e goja.Value) float64 {
		return sep + m.scalar(e, func(a goja.Value) float64 { return m.joined(a, 1, depth+1) })
	})
}

// scalar is the text length of a non-array element; nested arrays go to
// nested.
func (m *measure) scalar(e goja.Value, nested func(goja.Value) float64) float64 {
	switch {
	case e == nil || goja.IsUndefined(e) || goja.IsNull(e):
		return 4
	case goja.IsString(e):
		return float64(strLen(e)) + 2
	}
	if _, ok := isArray(e); ok {
		return nested(e)
	}
	return 24
}

// flattened estimates the length of flat(depth) of v.
func (m *measure) flattened(v goja.Value, depth int) float64 {
	return m.array(v, depth, 1, func(e goja.Value) float64 {
		if _, ok := isArray(e); ok && float64(depth) < m.flatDepth {
			return m.flattened(e, depth+1)
		}
		return 1
	})
}

// json estimates the length of JSON.stringify of v.
func (m *measure) json(v goja.Value, depth int) float64 {
	m.step(depth)
	obj, ok := v.(*goja.Object)
	if !ok {
		return m.scalar(v, nil)
	}
	if m.visiting[obj] {
		return 0 // JSON.stringify throws on the cycle
	}
	if _, ok := goja.AssertFunction(obj); ok {
		return 4
	}
	m.visiting[obj] = true
	defer delete(m.visiting, obj)
	line := 1 + m.indent*float64(depth+1) // separator, newline and indent of each member
	total := 2.0
	if _, ok := isArray(obj); ok {
		m.elements(obj, &total, func(e goja.Value) float64 { return line + m.json(e, depth+1) })
		return total
	}
	if f := obj.Get("toJSON"); f != nil {
		if _, ok := goja.AssertFunction(f); ok {
			return total
		}
	}
	keys := obj.Keys()
	m.s.checkArray(float64(len(keys)), "JSON.stringify")
	for _, k := range keys {
		if total > m.limit {
			break
		}
		total += line + float64(len(k)) + 3 + m.json(obj.Get(k), depth+1)
	}
	return total
}
