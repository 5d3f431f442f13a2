package scriptrt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/telemetry"
)

// Scripts write back into the 4T model through Health.set and Events.emit.
// A run's writes are collected while it runs and handed to the Sink in one
// go when it ends without error, so a script that fails halfway writes
// nothing: a monitor or a report is all or nothing.

// Sink receives what scripts write back. Implementations are safe for
// concurrent use; the slices passed belong to the sink once called.
type Sink interface {
	// SetHealth puts check states into a health stream. With Snapshot,
	// they replace every state of the stream: one the write does not list
	// is deleted (a monitor's run says everything it knows).
	SetHealth(ctx context.Context, w HealthWrite) error
	// EmitEvents appends events to the event store.
	EmitEvents(ctx context.Context, events []Event) error
}

// HealthWrite is a set of check states of one health stream.
type HealthWrite struct {
	// Stream names the health stream (urn:tetra:… of the writer).
	Stream   string
	States   []HealthState
	Snapshot bool
}

// HealthState is one check state written by a script: StackState's
// CheckState, bound to a component by identifier.
type HealthState struct {
	// Component is an identifier of the component (urn:…).
	Component string `json:"component"`
	// State is CLEAR, DEVIATING, CRITICAL or UNKNOWN.
	State string `json:"state"`
	// Message says why, for the people who read it.
	Message string `json:"message,omitempty"`
	// Name names the check (the run's Request.Name when empty: the
	// monitor's or automation's name, or "script").
	Name string `json:"name,omitempty"`
	// CheckID identifies the check state within the stream (the
	// component's identifier when empty).
	CheckID string `json:"checkId,omitempty"`
}

// Event is an event written by a script.
type Event struct {
	Time     time.Time         `json:"time"`
	Name     string            `json:"name"`
	Category string            `json:"category,omitempty"`
	Type     string            `json:"type,omitempty"`
	Source   string            `json:"source,omitempty"`
	Message  string            `json:"message,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	// Components are identifiers of the components the event is about.
	Components []string `json:"components,omitempty"`
}

// HealthStates are the states a check state may have.
var HealthStates = []string{"CLEAR", "DEVIATING", "CRITICAL", "UNKNOWN"}

// DefaultMaxWrites bounds the health states and events one run writes.
const DefaultMaxWrites = 10_000

// maxWriteText bounds a message, a name or a tag of a write.
const maxWriteText = 16 << 10

// writes are a run's pending writes.
type writes struct {
	health   []HealthState
	events   []Event
	snapshot bool // the health states replace the stream's (a monitor's run)
}

func (w *writes) n() int { return len(w.health) + len(w.events) }

// healthSet is Health.set(component, state[, message]) or
// Health.set({component, state, message, name, checkId}).
func (s *session) healthSet(call goja.FunctionCall) goja.Value {
	s.needSink("Health.set")
	var st HealthState
	if obj, ok := call.Argument(0).(*goja.Object); ok && obj.ClassName() == "Object" {
		st = HealthState{Component: s.field(obj, "component", true), State: s.field(obj, "state", true),
			Message: s.field(obj, "message", false), Name: s.field(obj, "name", false), CheckID: s.field(obj, "checkId", false)}
	} else {
		st = HealthState{Component: s.stringArg(call, 0, "Health.set's component"), State: s.stringArg(call, 1, "Health.set's state")}
		if m := call.Argument(2); !goja.IsUndefined(m) {
			st.Message = s.stringArg(call, 2, "Health.set's message")
		}
	}
	st, err := CheckHealthState(st)
	if err != nil {
		s.throw(argErrorf("Health.set: %v", err), "")
	}
	s.addWrite()
	s.writes.health = append(s.writes.health, st)
	return goja.Undefined()
}

// eventsEmit is Events.emit({name, category, type, message, components,
// tags, time}).
func (s *session) eventsEmit(call goja.FunctionCall) goja.Value {
	s.needSink("Events.emit")
	obj, ok := call.Argument(0).(*goja.Object)
	if !ok {
		s.throw(argErrorf("Events.emit takes an object: {name, category, message, components, tags}"), "")
	}
	ev := Event{Name: s.field(obj, "name", true), Category: s.field(obj, "category", false), Type: s.field(obj, "type", false),
		Message: s.field(obj, "message", false), Source: s.req.Source, Time: s.now}
	if t := obj.Get("time"); t != nil && !goja.IsUndefined(t) {
		ev.Time = s.instant(t, "Events.emit's time")
	}
	ev.Components = s.stringList(obj.Get("components"), "Events.emit's components")
	ev.Tags = s.stringMap(obj.Get("tags"), "Events.emit's tags")
	if err := checkEvent(ev); err != nil {
		s.throw(argErrorf("Events.emit: %v", err), "")
	}
	s.addWrite()
	s.writes.events = append(s.writes.events, ev)
	return goja.Undefined()
}

// needSink refuses a write API in a run that has nowhere to write.
func (s *session) needSink(api string) {
	if s.req.Sink == nil {
		s.throw(&SecurityError{Msg: api + " is not available here: scripts write health states and events only when run by " +
			"an automation or by a server's script endpoint (role script)"}, "")
	}
}

func (s *session) addWrite() {
	if s.writes.n() >= s.lim.MaxWrites {
		s.throw(&LimitError{Limit: LimitWrites, Max: int64(s.lim.MaxWrites), Detail: "too many health states and events in one run"}, "")
	}
}

// field reads a string property of an argument object.
func (s *session) field(obj *goja.Object, name string, required bool) string {
	v := obj.Get(name)
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		if required {
			s.throw(argErrorf("the field %q is required", name), "")
		}
		return ""
	}
	if !goja.IsString(v) {
		s.throw(argErrorf("the field %q must be a string", name), "")
	}
	return v.String()
}

func (s *session) stringList(v goja.Value, what string) []string {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Array" {
		s.throw(argErrorf("%s must be an array of strings", what), "")
	}
	n := obj.Get("length").ToInteger()
	if n > 1024 {
		s.throw(argErrorf("%s holds %d entries; at most 1024", what, n), "")
	}
	out := make([]string, 0, n)
	for i := range n {
		e := obj.Get(fmt.Sprint(i))
		if !goja.IsString(e) {
			s.throw(argErrorf("%s must be an array of strings", what), "")
		}
		out = append(out, e.String())
	}
	return out
}

func (s *session) stringMap(v goja.Value, what string) map[string]string {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		s.throw(argErrorf("%s must be an object of strings", what), "")
	}
	keys := obj.Keys()
	if len(keys) > 256 {
		s.throw(argErrorf("%s holds %d entries; at most 256", what, len(keys)), "")
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		e := obj.Get(k)
		if !goja.IsString(e) {
			s.throw(argErrorf("%s must be an object of strings (%q is not a string)", what, k), "")
		}
		out[k] = e.String()
	}
	return out
}

// CheckHealthState validates a health state and returns it with its state
// upper-cased. It is the one rule for what scripts and monitors write.
func CheckHealthState(st HealthState) (HealthState, error) {
	st.State = strings.ToUpper(strings.TrimSpace(st.State))
	switch {
	case strings.TrimSpace(st.Component) == "":
		return st, fmt.Errorf("a health state needs the identifier of its component (component: \"urn:…\")")
	case !containsString(HealthStates, st.State):
		return st, fmt.Errorf("state %q is not a health state: want CLEAR, DEVIATING, CRITICAL or UNKNOWN", st.State)
	case len(st.Component) > 4<<10 || len(st.Name) > 4<<10 || len(st.CheckID) > 4<<10:
		return st, fmt.Errorf("a component, name or checkId longer than 4 KiB")
	case len(st.Message) > maxWriteText:
		return st, fmt.Errorf("a message longer than %d KiB", maxWriteText>>10)
	}
	if st.CheckID == "" {
		st.CheckID = st.Component
	}
	return st, nil
}

// checkEvent checks an event against the event store's rules
// (telemetry.CheckEvent), the one home of what an event may carry.
func checkEvent(ev Event) error {
	if strings.TrimSpace(ev.Name) == "" {
		return fmt.Errorf("an event needs a name")
	}
	te := ev.Telemetry()
	if err := telemetry.CheckEvent(&te); err != nil {
		// The store's class prefix says nothing to a script's author.
		return errors.New(strings.TrimPrefix(err.Error(), telemetry.ErrInvalid.Error()+": "))
	}
	return nil
}

// Telemetry returns the event as the event store keeps it: its category
// as results spell it (Others when unknown), its tags in canonical order,
// its id derived from its content (the same event written twice is kept
// once).
func (ev Event) Telemetry() telemetry.Event {
	tags := make([]telemetry.Tag, 0, len(ev.Tags))
	for k, v := range ev.Tags {
		tags = append(tags, telemetry.Tag{Key: k, Value: v})
	}
	te := telemetry.Event{Time: ev.Time.UnixMilli(), Name: ev.Name, Category: telemetry.CanonicalCategory(ev.Category),
		Type: ev.Type, Source: ev.Source, Message: ev.Message, Tags: telemetry.NewTags(tags), Identifiers: ev.Components}
	te.ID = telemetry.EventID(&te)
	return te
}

// monitorStates reads a monitor's value as the health states it reports.
func (s *session) monitorStates(res *Result) error {
	if s.req.Sink == nil {
		return &InternalError{Msg: "a monitor run without a sink"}
	}
	var states []HealthState
	v := bytes.TrimSpace(res.Value)
	var err error
	switch {
	case len(v) > 0 && v[0] == '{':
		states = make([]HealthState, 1)
		err = strictUnmarshal(v, &states[0])
	case len(v) > 0 && v[0] == '[':
		err = strictUnmarshal(v, &states)
	default:
		err = fmt.Errorf("it returned %s", res.Type)
	}
	if err != nil {
		return &ScriptError{Name: "TypeError", Message: "a monitor returns its health states: an array of " +
			"{component: \"urn:…\", state: \"CRITICAL\", message: \"…\"} (or one of them); " + err.Error()}
	}
	if len(states)+s.writes.n() > s.lim.MaxWrites {
		return &LimitError{Limit: LimitWrites, Max: int64(s.lim.MaxWrites), Detail: "a monitor reported more health states"}
	}
	for i := range states {
		st, err := CheckHealthState(states[i])
		if err != nil {
			return &ScriptError{Name: "TypeError", Message: fmt.Sprintf("health state %d of the monitor: %v", i, err)}
		}
		states[i] = st
	}
	s.writes.health = append(s.writes.health, states...)
	s.writes.snapshot = true
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// flush hands a run's writes to the sink, after checking that a scoped
// caller writes only about components its scope holds.
func (s *session) flush() error {
	if s.writes.n() == 0 && !s.writes.snapshot {
		return nil
	}
	if err := s.checkWriteScope(); err != nil {
		return err
	}
	sink, ctx := s.req.Sink, s.ctx
	for i := range s.writes.health {
		if s.writes.health[i].Name == "" {
			s.writes.health[i].Name = s.req.Name // the monitor's or script's name
		}
	}
	if len(s.writes.health) > 0 || s.writes.snapshot {
		w := HealthWrite{Stream: s.stream(), States: s.writes.health, Snapshot: s.writes.snapshot}
		if err := sink.SetHealth(ctx, w); err != nil {
			return &WriteError{What: "health states", Err: err}
		}
	}
	if len(s.writes.events) > 0 {
		if err := sink.EmitEvents(ctx, s.writes.events); err != nil {
			return &WriteError{What: "events", Err: err}
		}
	}
	return nil
}

// stream is the health stream a run's Health.set calls write to.
func (s *session) stream() string {
	if s.req.Monitor != "" {
		return s.req.Monitor
	}
	if s.req.Source == "" {
		return "urn:tetra:script"
	}
	return "urn:tetra:script:" + s.req.Source
}

// checkWriteScope refuses writes about components outside the caller's
// scope: a scoped key may only report on what it can see.
func (s *session) checkWriteScope() error {
	if s.req.Scope == nil {
		return nil
	}
	ids := map[string]bool{}
	for _, h := range s.writes.health {
		ids[h.Component] = true
	}
	for _, e := range s.writes.events {
		for _, c := range e.Components {
			ids[c] = true
		}
	}
	for id := range ids {
		stmt, err := lang.Parse("identifier = " + lang.Quote(id))
		if err != nil {
			return err
		}
		res, err := s.run(stmt)
		if err != nil {
			return err
		}
		if res.Topology == nil || res.Topology.Components.Len() == 0 {
			return &SecurityError{Msg: fmt.Sprintf("the script writes about %q, which is not a component in the caller's scope", id)}
		}
	}
	return nil
}
