package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// Trace-agent spans (docs/ingest-formats.md §7.1): what tracers send to the
// agent, {service, name, resource, trace_id, span_id, parent_id, start,
// duration, error, meta, metrics, type}, as a list of spans or a list of
// traces (lists of spans). The mapping:
//
//   - ids (unsigned 64-bit numbers) become 16 hexadecimal digits; a
//     parent_id of 0 is a root span;
//   - the span's name is its resource (what OpenTelemetry calls the span
//     name, "GET /coffeehouse"), or its name when it has no resource; the
//     operation name is the attribute operation.name;
//   - start and duration are nanoseconds; error ≠ 0 is status error, else
//     ok; meta.get("span.kind") is the kind;
//   - meta and metrics become attributes (metrics printed as numbers),
//     type the attribute span.type;
//   - the resource holds service.name and, from meta, span.hostname as
//     host.name; meta.get("span.serviceURN") and ["span.serviceInstanceURN"]
//     are explicit identifiers.

var agentSpanKeys = []string{"trace_id", "span_id"}

// isAgentSpan reports whether an object is a trace-agent span.
func isAgentSpan(o object) bool { return o.has("trace_id") && o.has("span_id") && o.has("start") }

// agentTrace decodes a list of spans (one trace).
func (w *walker) agentTrace(p *path, raw json.RawMessage) {
	l, _ := w.optList(p, raw)
	for i, e := range l {
		o, ok := w.object(p.at(i), e)
		if !ok {
			continue
		}
		if !isAgentSpan(o) {
			w.failf(p.at(i), "want a span {trace_id, span_id, start, duration, service, …}; got an object with keys %s", keysOf(o, nil))
			continue
		}
		w.agentSpan(p.at(i), o)
	}
}

// agentSpan decodes one trace-agent span.
func (w *walker) agentSpan(p *path, o object) {
	var s traces.Span
	var ok [4]bool
	s.TraceID, ok[0] = w.hexID(p.field("trace_id"), o.get("trace_id"), true)
	s.SpanID, ok[1] = w.hexID(p.field("span_id"), o.get("span_id"), true)
	s.ParentID, ok[2] = w.hexID(p.field("parent_id"), o.get("parent_id"), false)
	start, ok3 := w.nanos(p.field("start"), o.get("start"))
	dur, ok4 := w.nanos(p.field("duration"), o.get("duration"))
	ok[3] = ok3 && ok4
	s.Start, s.Duration = start, dur
	s.Service, _ = w.optString(p.field("service"), o.get("service"))
	name, _ := w.optString(p.field("name"), o.get("name"))
	resource, _ := w.optString(p.field("resource"), o.get("resource"))
	s.Name = resource
	if s.Name == "" {
		s.Name = name
	}
	s.Status = "ok"
	if e, good := w.optNumber(p.field("error"), o.get("error")); good && e != 0 {
		s.Status = "error"
	}
	meta := w.stringMap(p.field("meta"), o.get("meta"))
	s.Attributes = append(s.Attributes, meta...)
	s.Attributes = append(s.Attributes, w.numberMap(p.field("metrics"), o.get("metrics"))...)
	if name != "" && resource != "" {
		s.Attributes = append(s.Attributes, telemetry.Tag{Key: "operation.name", Value: name})
	}
	if typ, _ := w.optString(p.field("type"), o.get("type")); typ != "" {
		s.Attributes = append(s.Attributes, telemetry.Tag{Key: "span.type", Value: typ})
	}
	s.Attributes = sortedTags(s.Attributes)
	s.Kind = strings.ToLower(first(s.Attributes, "span.kind"))
	if s.Service != "" {
		s.Resource = append(s.Resource, telemetry.Tag{Key: "service.name", Value: s.Service})
	}
	if h := first(s.Attributes, "span.hostname"); h != "" {
		s.Resource = append(s.Resource, telemetry.Tag{Key: "host.name", Value: h})
	}
	s.Resource = sortedTags(s.Resource)
	for _, k := range []string{"span.serviceURN", "span.serviceInstanceURN"} {
		if v := first(s.Attributes, k); v != "" {
			s.Identifiers = append(s.Identifiers, v)
		}
	}
	w.addSpan(func() *path { return p }, &s, ok[0] && ok[1] && ok[2] && ok[3])
}

func first(t telemetry.Tags, k string) string {
	v, _ := t.First(k)
	return v
}

// addSpan validates a span and adds it; p is its path, built only for an
// error (a request holds many spans).
func (w *walker) addSpan(p func() *path, s *traces.Span, ok bool) {
	if !ok {
		return
	}
	if err := traces.CheckSpan(s); err != nil {
		w.checkData(p(), err)
		return
	}
	w.tel.spans = append(w.tel.spans, *s)
}

// hexID decodes an unsigned 64-bit id (a JSON number, or a decimal
// string) as 16 hexadecimal digits; 0 is no id (allowed unless required).
func (w *walker) hexID(p *path, raw json.RawMessage, required bool) (string, bool) {
	text := string(raw)
	switch kindOf(raw) {
	case 0, 'n':
		if required {
			w.failf(p, "missing")
			return "", false
		}
		return "", true
	case '"':
		text = unquote(raw)
	case '{', '[', 't', 'f':
		w.wrongType(p, "an unsigned 64-bit number", raw)
		return "", false
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		w.failf(p, "%s is not an unsigned 64-bit number", raw)
		return "", false
	}
	if v == 0 {
		if required {
			w.failf(p, "must not be 0")
			return "", false
		}
		return "", true
	}
	return fmt.Sprintf("%016x", v), true
}

// nanos decodes a non-negative whole number of nanoseconds, exactly (a
// float64 keeps only 53 bits: nanosecond times need 61).
func (w *walker) nanos(p *path, raw json.RawMessage) (int64, bool) {
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil && n >= 0 {
		return n, true
	}
	v, ok := w.number(p, raw)
	if !ok {
		return 0, false
	}
	if v < 0 || v > math.MaxInt64 || v != math.Trunc(v) {
		w.failf(p, "%s is not a whole number of nanoseconds", raw)
		return 0, false
	}
	return int64(v), true
}

// optNumber decodes a number that may be absent (0).
func (w *walker) optNumber(p *path, raw json.RawMessage) (float64, bool) {
	if k := kindOf(raw); k == 0 || k == 'n' {
		return 0, true
	}
	return w.number(p, raw)
}

// stringMap decodes an object of strings into tags.
func (w *walker) stringMap(p *path, raw json.RawMessage) telemetry.Tags {
	if absent(raw) {
		return nil
	}
	o, ok := w.object(p, raw)
	if !ok {
		return nil
	}
	var out telemetry.Tags
	for _, m := range o.ms {
		k, v := string(m.key), m.val
		switch kindOf(v) {
		case 'n':
		case '"':
			// Not str: attribute values may exceed the topology's string
			// limit (stack traces); telemetry.CheckTags bounds them.
			out = append(out, telemetry.Tag{Key: k, Value: unquote(v)})
		default:
			w.wrongType(p.field(k), "a string", v)
		}
	}
	return out
}

// numberMap decodes an object of numbers into tags.
func (w *walker) numberMap(p *path, raw json.RawMessage) telemetry.Tags {
	if absent(raw) {
		return nil
	}
	o, ok := w.object(p, raw)
	if !ok {
		return nil
	}
	var out telemetry.Tags
	for _, m := range o.ms {
		k, v := string(m.key), m.val
		if n, ok := w.number(p.field(k), v); ok {
			out = append(out, telemetry.Tag{Key: k, Value: strconv.FormatFloat(n, 'g', -1, 64)})
		}
	}
	return out
}
