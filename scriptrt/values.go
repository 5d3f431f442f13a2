package scriptrt

import (
	"encoding/json"
	"fmt"
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
	raw    any // *exec.Component or *exec.Relation
	obj    *goja.Object
	fields []string
	field  func(name string) (goja.Value, bool) // computes a field; ok false for a field that is absent
	vals   map[string]goja.Value                // fields read or set so far
	gone   map[string]bool                      // fields deleted
	extra  []string                             // keys the script added, in order
	// touched is set once the script may have changed the element: it set
	// or deleted a key, or was handed a field that is an object (which it
	// may change in place). Until then the element serialises from raw.
	touched bool
}

var componentFields = []string{"id", "name", "type", "layer", "domain", "environments", "labels",
	"identifiers", "healthState", "properties", "sources", "lastUpdateTimestamp"}

var relationFields = []string{"id", "type", "source", "target", "dependencyDirection", "labels",
	"identifiers", "properties", "sources", "lastUpdateTimestamp"}

func (s *session) componentValue(c *exec.Component) goja.Value {
	e := &element{s: s, typ: typeComponent, raw: c, fields: componentFields}
	defer s.keep(e)
	e.field = func(name string) (goja.Value, bool) {
		switch name {
		case "id":
			return s.vm.ToValue(c.ID), true
		case "name":
			return s.vm.ToValue(c.Name), true
		case "type":
			return s.vm.ToValue(c.Type), true
		case "layer":
			return s.vm.ToValue(c.Layer), true
		case "domain":
			return s.vm.ToValue(c.Domain), true
		case "healthState":
			return s.vm.ToValue(c.HealthState), true
		case "lastUpdateTimestamp":
			return s.vm.ToValue(c.LastUpdateTimestamp), true
		}
		return e.shared(name, c.Environments, c.Labels, c.Identifiers, c.Properties, c.Sources)
	}
	e.obj = s.vm.NewDynamicObject(e)
	return e.obj
}

// keep registers an element's object so the encoder finds its Go side.
func (s *session) keep(e *element) { s.elems[e.obj] = e }

func (s *session) relationValue(r *exec.Relation) goja.Value {
	e := &element{s: s, typ: typeRelation, raw: r, fields: relationFields}
	defer s.keep(e)
	e.field = func(name string) (goja.Value, bool) {
		switch name {
		case "id":
			return s.vm.ToValue(r.ID), true
		case "type":
			return s.vm.ToValue(r.Type), true
		case "source":
			return s.vm.ToValue(r.Source), true
		case "target":
			return s.vm.ToValue(r.Target), true
		case "dependencyDirection":
			return s.vm.ToValue(r.DependencyDirection), true
		case "lastUpdateTimestamp":
			return s.vm.ToValue(r.LastUpdateTimestamp), true
		}
		return e.shared(name, nil, r.Labels, r.Identifiers, r.Properties, r.Sources)
	}
	e.obj = s.vm.NewDynamicObject(e)
	return e.obj
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

func (s *session) componentsValue(cs []exec.Component) goja.Value {
	vals := make([]any, len(cs))
	for i := range cs {
		vals[i] = s.componentValue(&cs[i])
	}
	return s.vm.NewArray(vals...)
}

func (s *session) relationsValue(rs []exec.Relation) goja.Value {
	vals := make([]any, len(rs))
	for i := range rs {
		vals[i] = s.relationValue(&rs[i])
	}
	return s.vm.NewArray(vals...)
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
	_ = obj.Set("components", s.componentsValue(e.Components))
	_ = obj.Set("relations", s.relationsValue(e.Relations))
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
// has no special form for (METRICS, EVENTS, TRACES) go through their JSON
// form, so a new part of exec.Result reaches scripts without a change here.
func (s *session) resultValue(res *exec.Result) (goja.Value, string) {
	switch {
	case res.Topology != nil:
		return s.topologyValue(res.Topology), typeTopology
	case res.Changes != nil:
		return s.changesValue(res.Changes), typeChanges
	}
	b, err := json.Marshal(res)
	if err != nil {
		s.throw(&InternalError{Msg: "a result does not serialise: " + err.Error()}, "")
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != 1 {
		s.throw(&InternalError{Msg: fmt.Sprintf("a result has %d parts, want 1", len(parts))}, "")
	}
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
