package scriptrt

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/dop251/goja"
)

// Result is a script's result in StackState's typed form: the body of
// POST /api/script/execute is {"result": <Result>}. Type is the type the
// value had in the script: Undefined, Null, Boolean, Number, BigInt,
// String, Array, Object, Date, Function, or the name of the script API
// result it is (Component, Relation, TopologyResult, ChangesResult,
// MetricsResult, EventsResult, TracesResult, HttpResponse).
type Result struct {
	Type  string          `json:"_type"`
	Value json.RawMessage `json:"value"`
	// HealthStates and Events count what the run wrote (not part of the
	// document).
	HealthStates int `json:"-"`
	Events       int `json:"-"`
}

// Response is the body StackState's script endpoint answers with.
type Response struct {
	Result *Result `json:"result"`
}

// encodeResult serialises the settled completion value, within the result
// size and nesting limits.
func (s *session) encodeResult(v goja.Value) (*Result, error) {
	e := &encoder{s: s, max: s.lim.MaxResultBytes, visiting: map[*goja.Object]bool{}}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return &Result{Type: s.typeOf(v), Value: json.RawMessage(e.buf.Bytes())}, nil
}

// typeOf names the type of a result value.
func (s *session) typeOf(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "Undefined"
	case goja.IsNull(v):
		return "Null"
	case goja.IsString(v):
		return "String"
	case goja.IsNumber(v):
		return "Number"
	case goja.IsBigInt(v):
		return "BigInt"
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		if _, ok := v.Export().(bool); ok {
			return "Boolean"
		}
		return "Object"
	}
	if t, ok := s.types[obj]; ok {
		return t
	}
	if el, ok := s.elementOf(obj); ok {
		return el.typ
	}
	if _, ok := goja.AssertFunction(obj); ok {
		return "Function"
	}
	switch c := obj.ClassName(); c {
	case "Array", "Date":
		return c
	}
	return "Object"
}

// encoder writes JS values as JSON the way JSON.stringify does (undefined
// and functions are left out of objects and are null in arrays, toJSON is
// called, NaN and infinities are null), except that a Date is its ISO time
// and a BigInt a number; thenables inside the result are resolved.
type encoder struct {
	s        *session
	buf      bytes.Buffer
	max      int
	visiting map[*goja.Object]bool
	steps    int
	json     *json.Encoder // of native values into buf
}

func (e *encoder) over() error {
	if e.buf.Len() > e.max {
		return &LimitError{Limit: LimitResultSize, Max: int64(e.max), Detail: "the result is bigger; return less, or summarise it in the script"}
	}
	return nil
}

// value writes v (undefined, a function or a symbol as null: the callers
// leave them out of objects).
func (e *encoder) value(v goja.Value, depth int) error {
	if depth > e.s.lim.MaxNesting {
		return &LimitError{Limit: LimitNesting, Max: int64(e.s.lim.MaxNesting), Detail: "the result is nested deeper"}
	}
	e.steps++
	if e.steps&1023 == 0 {
		if err := e.s.ctx.Err(); err != nil {
			return err
		}
	}
	if skipped(v) {
		e.buf.WriteString("null")
		return nil
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return e.primitive(v)
	}
	return e.object(obj, depth)
}

func (e *encoder) primitive(v goja.Value) error {
	switch x := exportPrimitive(v).(type) {
	case nil:
		e.buf.WriteString("null")
	case bool:
		e.buf.WriteString(strconv.FormatBool(x))
	case int64:
		e.buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		e.number(x)
	case *big.Int:
		e.buf.WriteString(x.String())
	case string:
		if len(x) > e.max {
			return e.tooBig()
		}
		e.str(x)
	default:
		e.buf.WriteString("null") // a symbol
	}
	return e.over()
}

func (e *encoder) tooBig() error {
	return &LimitError{Limit: LimitResultSize, Max: int64(e.max), Detail: "the result holds a string bigger than that"}
}

func exportPrimitive(v goja.Value) any {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	return v.Export()
}

func (e *encoder) number(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.buf.WriteString("null")
		return
	}
	b, _ := json.Marshal(f) // Go's float format is ECMAScript's for JSON
	e.buf.Write(b)
}

func (e *encoder) str(s string) {
	_ = e.native(s)
}

// object writes an object, array, element, date, boxed primitive or
// thenable.
func (e *encoder) object(obj *goja.Object, depth int) error {
	if t, ok := e.s.thenables[obj]; ok {
		out := t.resolve()
		if out.thrown != nil {
			return e.s.rejectionError(out)
		}
		return e.value(out.val, depth)
	}
	if el, ok := e.s.elementOf(obj); ok && !el.touched {
		return e.native(el.raw)
	}
	if l, ok := e.s.lists[obj]; ok && l.pristine() {
		return e.native(l.raw)
	}
	if e.visiting[obj] {
		return &ScriptError{Name: "TypeError", Message: "the result refers to itself (a cycle), which JSON cannot hold"}
	}
	e.visiting[obj] = true
	defer delete(e.visiting, obj)
	switch obj.ClassName() {
	case "Date":
		if t, ok := obj.Export().(time.Time); ok {
			e.str(t.UTC().Format("2006-01-02T15:04:05.000Z"))
			return e.over()
		}
		e.buf.WriteString("null")
		return nil
	case "Number":
		e.number(obj.ToFloat())
		return e.over()
	case "String":
		return e.primitive(obj.ToString())
	case "Boolean":
		e.buf.WriteString(strconv.FormatBool(obj.ToBoolean()))
		return nil
	case "Array":
		return e.array(obj, depth)
	}
	if f, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
		v, err := f(obj)
		if err != nil {
			return err
		}
		return e.value(v, depth+1)
	}
	return e.fields(obj, depth)
}

// native writes the JSON form of engine results the script has not
// changed.
func (e *encoder) native(v any) error {
	if e.json == nil {
		e.json = json.NewEncoder(&e.buf)
		e.json.SetEscapeHTML(false)
	}
	if err := e.json.Encode(v); err != nil {
		return &InternalError{Msg: err.Error()}
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	return e.over()
}

func (e *encoder) array(obj *goja.Object, depth int) error {
	n := e.s.lengthOf(obj)
	if n > float64(e.s.lim.MaxArrayLength) {
		return &LimitError{Limit: LimitArray, Max: int64(e.s.lim.MaxArrayLength), Detail: "the result is an array longer than that"}
	}
	e.buf.WriteByte('[')
	for i := 0; i < int(n); i++ {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		v := obj.Get(strconv.Itoa(i))
		if skipped(v) {
			e.buf.WriteString("null")
			continue
		}
		if err := e.value(v, depth+1); err != nil {
			return err
		}
	}
	e.buf.WriteByte(']')
	return e.over()
}

func (e *encoder) fields(obj *goja.Object, depth int) error {
	e.buf.WriteByte('{')
	first := true
	for _, k := range obj.Keys() {
		v := obj.Get(k)
		if skipped(v) {
			continue
		}
		if !first {
			e.buf.WriteByte(',')
		}
		first = false
		e.str(k)
		e.buf.WriteByte(':')
		if err := e.value(v, depth+1); err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return e.over()
}

// skipped reports the values JSON.stringify leaves out of objects.
func skipped(v goja.Value) bool {
	if v == nil || goja.IsUndefined(v) {
		return true
	}
	if _, ok := goja.AssertFunction(v); ok {
		return true
	}
	_, sym := v.(*goja.Symbol)
	return sym
}
