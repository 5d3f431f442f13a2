package scriptrt

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/exec"
)

// How engine results look in JavaScript.
//
// A component or relation is an object with the fields of its JSON form
// (exec.Component, exec.Relation: id, name, type, layer, …), made lazily:
// a field becomes a JS value when the script reads it, so a query of
// thousands of components costs one small object each until the script
// looks inside. An element the script has not changed serialises straight
// from the Go value. Other results (METRICS, EVENTS, TRACES parts) become
// plain JS data through their JSON form.

// API type names, the _type of a result that is one of these.
const (
	typeComponent = "Component"
	typeRelation  = "Relation"
	typeTopology  = "TopologyResult"
	typeChanges   = "ChangesResult"
)

// element is the Go side of a component or relation object. It implements
// goja.DynamicObject. Methods run on the session's goroutine only.
type element struct {
	s      *session
	typ    string
	raw    any             // *exec.Component or *exec.Relation, for the encoder
	comp   *exec.Component // one of comp and rel is set
	rel    *exec.Relation
	obj    *goja.Object
	fields []string
	vals   map[string]goja.Value // fields read or set so far
	gone   map[string]bool       // fields deleted
	extra  []string              // keys the script added, in order
	// touched is set once the script may have changed the element: it set
	// or deleted a key, or was handed a field that is an object (which it
	// may change in place). Until then the element serialises from raw.
	touched bool
}

var componentFields = []string{"id", "name", "type", "layer", "domain", "environments", "labels",
	"identifiers", "healthState", "properties", "sources", "lastUpdateTimestamp"}

var relationFields = []string{"id", "type", "source", "target", "dependencyDirection", "labels",
	"identifiers", "properties", "sources", "lastUpdateTimestamp"}

func (s *session) componentValue(c *exec.Component) *goja.Object {
	return s.newElement(&element{s: s, typ: typeComponent, raw: c, comp: c, fields: componentFields})
}

func (s *session) relationValue(r *exec.Relation) *goja.Object {
	return s.newElement(&element{s: s, typ: typeRelation, raw: r, rel: r, fields: relationFields})
}

// newElement makes an element's object and registers it, so that the
// encoder finds its Go side.
func (s *session) newElement(e *element) *goja.Object {
	e.obj = s.vm.NewDynamicObject(e)
	s.elems[e.obj] = e
	return e.obj
}

// field computes a field's value; ok is false for a field that is absent.
func (e *element) field(name string) (goja.Value, bool) {
	vm := e.s.vm
	if c := e.comp; c != nil {
		switch name {
		case "id":
			return vm.ToValue(c.ID), true
		case "name":
			return vm.ToValue(c.Name), true
		case "type":
			return vm.ToValue(c.Type), true
		case "layer":
			return vm.ToValue(c.Layer), true
		case "domain":
			return vm.ToValue(c.Domain), true
		case "healthState":
			return vm.ToValue(c.HealthState), true
		case "lastUpdateTimestamp":
			return vm.ToValue(c.LastUpdateTimestamp), true
		}
		return e.shared(name, c.Environments, c.Labels, c.Identifiers, c.Properties, c.Sources)
	}
	r := e.rel
	switch name {
	case "id":
		return vm.ToValue(r.ID), true
	case "type":
		return vm.ToValue(r.Type), true
	case "source":
		return vm.ToValue(r.Source), true
	case "target":
		return vm.ToValue(r.Target), true
	case "dependencyDirection":
		return vm.ToValue(r.DependencyDirection), true
	case "lastUpdateTimestamp":
		return vm.ToValue(r.LastUpdateTimestamp), true
	case "environments":
		return nil, false
	}
	return e.shared(name, nil, r.Labels, r.Identifiers, r.Properties, r.Sources)
}

// shared computes the object-valued fields components and relations have
// in common.
func (e *element) shared(name string, envs, labels, ids []string, props json.RawMessage, sources any) (goja.Value, bool) {
	switch name {
	case "environments":
		return e.s.strings(envs), true
	case "labels":
		return e.s.strings(labels), true
	case "identifiers":
		return e.s.strings(ids), true
	case "properties":
		if len(props) == 0 {
			return nil, false // omitted, as in the JSON form
		}
		return e.s.parseJSON(props), true
	case "sources":
		return e.s.jsonValue(sources), true
	}
	return nil, false
}

func (s *session) strings(l []string) goja.Value {
	vals := make([]any, len(l))
	for i, v := range l {
		vals[i] = v
	}
	return s.vm.NewArray(vals...)
}

// Get implements goja.DynamicObject.
func (e *element) Get(key string) goja.Value {
	if e.gone[key] {
		return nil
	}
	if v, ok := e.vals[key]; ok {
		return v
	}
	v, ok := e.field(key)
	if !ok {
		return nil
	}
	if _, isObj := v.(*goja.Object); isObj {
		e.touched = true
	}
	if e.vals == nil {
		e.vals = make(map[string]goja.Value, 4)
	}
	e.vals[key] = v
	return v
}

// Set implements goja.DynamicObject.
func (e *element) Set(key string, val goja.Value) bool {
	e.touched = true
	if !e.Has(key) {
		e.extra = append(e.extra, key)
	}
	delete(e.gone, key)
	if e.vals == nil {
		e.vals = map[string]goja.Value{}
	}
	e.vals[key] = val
	return true
}

// Has implements goja.DynamicObject.
func (e *element) Has(key string) bool {
	if e.gone[key] {
		return false
	}
	if _, ok := e.vals[key]; ok {
		return true
	}
	_, ok := e.field(key)
	return ok
}

// Delete implements goja.DynamicObject.
func (e *element) Delete(key string) bool {
	e.touched = true
	if e.gone == nil {
		e.gone = map[string]bool{}
	}
	e.gone[key] = true
	delete(e.vals, key)
	return true
}

// Keys implements goja.DynamicObject: the fields in their JSON order, then
// what the script added.
func (e *element) Keys() []string {
	keys := make([]string, 0, len(e.fields)+len(e.extra))
	for _, k := range e.fields {
		if e.Has(k) {
			keys = append(keys, k)
		}
	}
	for _, k := range e.extra {
		if !e.gone[k] && !containsString(e.fields, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// elementOf returns the Go side of a component or relation object.
func (s *session) elementOf(obj *goja.Object) (*element, bool) {
	e, ok := s.elems[obj]
	return e, ok
}

// topologyValue is a topology result: {evaluatedAt, components, relations}.
func (s *session) topologyValue(t *exec.TopologyResult) goja.Value {
	obj := s.vm.NewObject()
	_ = obj.Set("evaluatedAt", t.EvaluatedAt.UnixMilli())
	_ = obj.Set("components", s.componentsValue(t.Components))
	_ = obj.Set("relations", s.relationsValue(t.Relations))
	s.types[obj] = typeTopology
	return obj
}

func (s *session) componentsValue(cs exec.Rows[exec.Component]) goja.Value {
	return s.newList(cs, cs.Len(), s.componentMaker(cs))
}

func (s *session) relationsValue(rs exec.Rows[exec.Relation]) goja.Value {
	return s.newList(rs, rs.Len(), s.relationMaker(rs))
}

// componentMaker makes the object of a list's component i, reading the row
// then: a script that looks at a few of a broad answer's components
// converts only those.
func (s *session) componentMaker(cs exec.Rows[exec.Component]) func(i int) *goja.Object {
	return func(i int) *goja.Object {
		c := cs.At(i)
		return s.componentValue(&c)
	}
}

// relationMaker is componentMaker for relations.
func (s *session) relationMaker(rs exec.Rows[exec.Relation]) func(i int) *goja.Object {
	return func(i int) *goja.Object {
		r := rs.At(i)
		return s.relationValue(&r)
	}
}

// list is a JS array of components or relations that makes an element's
// object only when the script reads it (goja.DynamicArray). A list the
// script has not changed serialises straight from the Go slice, as a
// native query's result would.
type lazyList struct {
	s *session
	// q, when set, is the query that fills the list on first use: a list
	// straight from components() is usable at once as an array, running
	// its query when the script first looks at it.
	q     *query
	raw   any // exec.Rows of components or relations
	make  func(i int) *goja.Object
	items []goja.Value // made or set so far; nil entries are not made yet
	// touched is set once the script set an index or the length.
	touched bool
}

func (s *session) newList(raw any, n int, mk func(int) *goja.Object) *goja.Object {
	l := &lazyList{s: s}
	l.fill(raw, n, mk)
	obj := s.vm.NewDynamicArray(l)
	s.lists[obj] = l
	return obj
}

// pendingList is a list that a query fills on first use. It is an array
// to the script and, through its prototype, a thenable: its query's error
// is thrown where the script first reads the list, or goes to catchError.
//
// What it resolves to (what then's callback gets, what await gives) is a
// second array over the same list without the async methods: a value with
// a then method is one a promise can never hold (it would call that then
// again, for ever).
func (s *session) pendingList(text string, fill func(*lazyList, *exec.Result)) *goja.Object {
	l := &lazyList{s: s}
	plain := s.vm.NewDynamicArray(l)
	obj := s.vm.NewDynamicArray(l)
	obj.SetPrototype(s.listPrototype())
	l.q = s.newQuery(text, func(r *exec.Result) goja.Value {
		fill(l, r)
		return plain
	})
	s.lists[obj], s.lists[plain] = l, l
	s.thenables[obj] = l.q
	return obj
}

// fill sets what the list holds.
func (l *lazyList) fill(raw any, n int, mk func(int) *goja.Object) {
	l.raw, l.make, l.items = raw, mk, make([]goja.Value, n)
}

// ensure runs the list's query if it has not run; its error is thrown.
func (l *lazyList) ensure() {
	if l.q == nil {
		return
	}
	if out := l.q.resolve(); out.thrown != nil {
		panic(out.thrown)
	}
	l.q = nil
}

// listPrototype is the prototype of pending lists: Array.prototype's
// methods, and the async ones.
func (s *session) listPrototype() *goja.Object {
	if s.listProto == nil {
		s.listProto = s.vm.CreateObject(s.proto("Array"))
		self := func(c goja.FunctionCall) thenable {
			obj, _ := c.This.(*goja.Object)
			t, ok := s.thenables[obj]
			if !ok {
				s.throw(argErrorf("then, catchError and thenCollect work on a script API's results"), "")
			}
			return t
		}
		s.method(s.listProto, "then", func(c goja.FunctionCall) goja.Value { return s.then(self(c), c.Argument(0), c.Argument(1)) })
		s.method(s.listProto, "catchError", func(c goja.FunctionCall) goja.Value { return s.then(self(c), nil, c.Argument(0)) })
		s.method(s.listProto, "thenCollect", func(c goja.FunctionCall) goja.Value { return s.thenCollect(self(c), c.Argument(0)) })
	}
	return s.listProto
}

// Len implements goja.DynamicArray.
func (l *lazyList) Len() int {
	l.ensure()
	return len(l.items)
}

// Get implements goja.DynamicArray.
func (l *lazyList) Get(i int) goja.Value {
	l.ensure()
	if i < 0 || i >= len(l.items) {
		return nil
	}
	if l.items[i] == nil && !l.touched {
		l.items[i] = l.make(i)
	}
	return l.items[i]
}

// Set implements goja.DynamicArray.
func (l *lazyList) Set(i int, v goja.Value) bool {
	l.ensure()
	if i < 0 || i > l.s.lim.MaxArrayLength {
		return false
	}
	l.materialise()
	for i >= len(l.items) {
		l.items = append(l.items, goja.Undefined())
	}
	l.items[i] = v
	return true
}

// SetLen implements goja.DynamicArray.
func (l *lazyList) SetLen(n int) bool {
	l.ensure()
	if n < 0 || n > l.s.lim.MaxArrayLength {
		return false
	}
	l.materialise()
	for n > len(l.items) {
		l.items = append(l.items, goja.Undefined())
	}
	l.items = l.items[:n]
	return true
}

// materialise makes every element before the list changes shape, so that
// indexes keep meaning the same elements.
func (l *lazyList) materialise() {
	if l.touched {
		return
	}
	for i := range l.items {
		if l.items[i] == nil {
			l.items[i] = l.make(i)
		}
	}
	l.touched = true
}

// pristine reports that the list and every element the script read are as
// the engine returned them.
func (l *lazyList) pristine() bool {
	l.ensure()
	if l.touched {
		return false
	}
	for _, v := range l.items {
		if v == nil {
			continue
		}
		if e, ok := l.s.elems[v.(*goja.Object)]; !ok || e.touched {
			return false
		}
	}
	return true
}

// changesValue is a CHANGES result: {from, to, added, removed, changed},
// each with components and relations; a change is {before, after, fields}.
func (s *session) changesValue(c *exec.ChangesResult) goja.Value {
	obj := s.vm.NewObject()
	_ = obj.Set("from", c.From.UnixMilli())
	_ = obj.Set("to", c.To.UnixMilli())
	_ = obj.Set("added", s.elementsValue(c.Added))
	_ = obj.Set("removed", s.elementsValue(c.Removed))
	changed := s.vm.NewObject()
	cc := make([]any, len(c.Changed.Components))
	for i := range c.Changed.Components {
		ch := &c.Changed.Components[i]
		cc[i] = s.changeValue(s.componentValue(&ch.Before), s.componentValue(&ch.After), ch.Fields)
	}
	rc := make([]any, len(c.Changed.Relations))
	for i := range c.Changed.Relations {
		ch := &c.Changed.Relations[i]
		rc[i] = s.changeValue(s.relationValue(&ch.Before), s.relationValue(&ch.After), ch.Fields)
	}
	_ = changed.Set("components", s.vm.NewArray(cc...))
	_ = changed.Set("relations", s.vm.NewArray(rc...))
	_ = obj.Set("changed", changed)
	s.types[obj] = typeChanges
	return obj
}

func (s *session) elementsValue(e exec.Elements) goja.Value {
	obj := s.vm.NewObject()
	_ = obj.Set("components", s.componentsValue(exec.RowsOf(e.Components)))
	_ = obj.Set("relations", s.relationsValue(exec.RowsOf(e.Relations)))
	return obj
}

func (s *session) changeValue(before, after goja.Value, fields []string) goja.Value {
	obj := s.vm.NewObject()
	_ = obj.Set("before", before)
	_ = obj.Set("after", after)
	_ = obj.Set("fields", s.strings(fields))
	return obj
}

// resultValue is the JS value of any engine result. Parts this package
// has no special form for (METRICS, EVENTS, TRACES) go through the one
// result encoder (exec.AppendJSON), so a new part of exec.Result reaches
// scripts in the shape the API gives it, without a change here.
func (s *session) resultValue(res *exec.Result) (goja.Value, string) {
	switch {
	case res.Topology != nil:
		return s.topologyValue(res.Topology), typeTopology
	case res.Changes != nil:
		return s.changesValue(res.Changes), typeChanges
	}
	b, err := exec.AppendJSON(s.ctx, nil, res, exec.EncodeOptions{MaxBytes: int64(s.lim.MaxResultBytes)})
	if err != nil {
		s.throw(err, "")
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		s.throw(&InternalError{Msg: "a result does not decode: " + err.Error()}, "")
	}
	delete(parts, "schemaVersion")
	for name, raw := range parts {
		v := s.parseJSON(raw)
		typ := exportedName(name) + "Result"
		if obj, ok := v.(*goja.Object); ok {
			s.types[obj] = typ
		}
		return v, typ
	}
	return goja.Undefined(), "Undefined"
}

// exportedName upper-cases the first letter: "metrics" → "Metrics".
func exportedName(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// jsonValue converts Go data to plain JS data through its JSON form.
func (s *session) jsonValue(v any) goja.Value {
	b, err := json.Marshal(v)
	if err != nil {
		s.throw(&InternalError{Msg: "a value does not serialise: " + err.Error()}, "")
	}
	return s.parseJSON(b)
}

// parseJSON parses JSON text with the original JSON.parse, which makes
// plain JS objects and arrays (not wrappers of Go maps).
func (s *session) parseJSON(b []byte) goja.Value {
	v, err := s.jsonParse(goja.Undefined(), s.vm.ToValue(string(b)))
	if err != nil {
		panic(err)
	}
	return v
}

// msValue is a time as epoch milliseconds, the form StackState's scripts
// use for instants.
func msValue(t time.Time) int64 { return t.UnixMilli() }

func itoa(i int) string { return strconv.Itoa(i) }
