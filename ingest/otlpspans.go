package ingest

import (
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetrahq/tetra/telemetry"
)

// The protobuf body of a trace export is decoded in one pass from its wire
// form straight into spans (wireTraces): no generated message per span,
// attribute and value, and no string copied: every string is cut from one
// copy of the body. It checks what checkWire checks (the bytes parse,
// strings are UTF-8, known fields have their own wire type) and maps as
// otlpTraces does, through the same otlpSpanFields. On any problem in the
// wire form it gives up, and DecodeOTLP takes the checked path, which
// names the field and offset; so the messages are the same either way.
// The field numbers and messages are those of the OpenTelemetry proto
// module's descriptors.

var (
	mdTraceRequest  = (&coltracepb.ExportTraceServiceRequest{}).ProtoReflect().Descriptor()
	mdResourceSpans = (&tracepb.ResourceSpans{}).ProtoReflect().Descriptor()
	mdResource      = (&resourcepb.Resource{}).ProtoReflect().Descriptor()
	mdScopeSpans    = (&tracepb.ScopeSpans{}).ProtoReflect().Descriptor()
	mdSpan          = (&tracepb.Span{}).ProtoReflect().Descriptor()
	mdStatus        = (&tracepb.Status{}).ProtoReflect().Descriptor()
	mdKeyValue      = (&commonpb.KeyValue{}).ProtoReflect().Descriptor()
	mdAnyValue      = (&commonpb.AnyValue{}).ProtoReflect().Descriptor()

	fRequestResourceSpans = fieldNum(mdTraceRequest, "resource_spans")
	fResource             = fieldNum(mdResourceSpans, "resource")
	fScopeSpans           = fieldNum(mdResourceSpans, "scope_spans")
	fResourceAttributes   = fieldNum(mdResource, "attributes")
	fSpans                = fieldNum(mdScopeSpans, "spans")
	fTraceID              = fieldNum(mdSpan, "trace_id")
	fSpanID               = fieldNum(mdSpan, "span_id")
	fParentSpanID         = fieldNum(mdSpan, "parent_span_id")
	fName                 = fieldNum(mdSpan, "name")
	fKind                 = fieldNum(mdSpan, "kind")
	fStart                = fieldNum(mdSpan, "start_time_unix_nano")
	fEnd                  = fieldNum(mdSpan, "end_time_unix_nano")
	fAttributes           = fieldNum(mdSpan, "attributes")
	fStatus               = fieldNum(mdSpan, "status")
	fStatusMessage        = fieldNum(mdStatus, "message")
	fStatusCode           = fieldNum(mdStatus, "code")
	fKey                  = fieldNum(mdKeyValue, "key")
	fValue                = fieldNum(mdKeyValue, "value")
	fString               = fieldNum(mdAnyValue, "string_value")
	fBool                 = fieldNum(mdAnyValue, "bool_value")
	fInt                  = fieldNum(mdAnyValue, "int_value")
	fDouble               = fieldNum(mdAnyValue, "double_value")
	fBytes                = fieldNum(mdAnyValue, "bytes_value")
)

func fieldNum(md protoreflect.MessageDescriptor, name string) protowire.Number {
	return md.Fields().ByName(protoreflect.Name(name)).Number()
}

// wireField is one field of a message's wire form.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	n   uint64 // a varint's or fixed number's value
	v   []byte // a length-delimited value
	at  int    // where v starts in the body
	raw []byte // the value as sent (for checkField)
}

// wireFields iterates over the fields of a message at offset base of the
// body.
type wireFields struct {
	b    []byte
	base int
	off  int
	bad  bool
}

// next returns the next field; false at the end or when the bytes do not
// parse (then bad is set).
func (it *wireFields) next(f *wireField) bool {
	if it.off >= len(it.b) {
		return false
	}
	num, typ, n := protowire.ConsumeTag(it.b[it.off:])
	if n < 0 {
		it.bad = true
		return false
	}
	rest := it.b[it.off+n:]
	m := protowire.ConsumeFieldValue(num, typ, rest)
	if m < 0 {
		it.bad = true
		return false
	}
	*f = wireField{num: num, typ: typ, at: it.base + it.off + n, raw: rest[:m]}
	switch typ {
	case protowire.VarintType:
		f.n, _ = protowire.ConsumeVarint(rest)
	case protowire.Fixed64Type:
		f.n, _ = protowire.ConsumeFixed64(rest)
	case protowire.Fixed32Type:
		v, _ := protowire.ConsumeFixed32(rest)
		f.n = uint64(v)
	case protowire.BytesType:
		v, k := protowire.ConsumeBytes(rest)
		f.v, f.at = v, f.at+k-len(v)
	}
	it.off += n + m
	return true
}

// spanWire decodes a trace export's wire form into a walker's spans.
type spanWire struct {
	w   *walker
	all string // the body, once as a string: strings are cut from it
}

// wireTraces decodes the body of an ExportTraceServiceRequest (or
// TracesData) into w's spans, reporting whether its wire form is sound;
// when it is not, w holds a part of the spans and is to be dropped.
func (w *walker) wireTraces(body []byte) bool {
	d := spanWire{w: w, all: string(body)}
	// Room for the spans at once (a span takes 100 bytes and more on the
	// wire; a body of a few large attributes reserves little): the slice
	// grown span by span was copied some ten times.
	w.tel.spans = slices.Grow(w.tel.spans, min(len(body)/160, 8192))
	it := wireFields{b: body}
	var f wireField
	rs := 0
	for it.next(&f) {
		if f.num != fRequestResourceSpans {
			if !d.other(mdTraceRequest, &f, 0) {
				return false
			}
			continue
		}
		if f.typ != protowire.BytesType || !d.resourceSpans(f.v, f.at, rs) {
			return false
		}
		rs++
	}
	return !it.bad
}

// other checks a field that is not mapped (unknown ones are skipped).
func (d *spanWire) other(md protoreflect.MessageDescriptor, f *wireField, depth int) bool {
	fd := md.Fields().ByNumber(f.num)
	return fd == nil || checkField(fd, f.typ, f.raw, len(f.raw), f.at, depth) == nil
}

// str is a length-delimited field as a string of the body, if UTF-8.
func (d *spanWire) str(f *wireField) (string, bool) {
	if f.typ != protowire.BytesType || !utf8.Valid(f.v) {
		return "", false
	}
	return d.all[f.at : f.at+len(f.v)], true
}

// resourceSpans decodes the i-th ResourceSpans. Its resource may follow
// its spans on the wire (and may be sent in parts, which merge): it is
// read first.
func (d *spanWire) resourceSpans(b []byte, base, i int) bool {
	var res telemetry.Tags
	it := wireFields{b: b, base: base}
	var f wireField
	for it.next(&f) {
		switch {
		case f.num == fResource:
			if f.typ != protowire.BytesType {
				return false
			}
			var ok bool
			if res, ok = d.resource(f.v, f.at, res); !ok {
				return false
			}
		case f.num != fScopeSpans:
			if !d.other(mdResourceSpans, &f, 1) {
				return false
			}
		}
	}
	if it.bad {
		return false
	}
	res = sortedTags(res)
	service, _ := res.First("service.name")
	it = wireFields{b: b, base: base}
	j := 0
	for it.next(&f) {
		if f.num != fScopeSpans {
			continue
		}
		if f.typ != protowire.BytesType || !d.scopeSpans(f.v, f.at, spanLoc{rs: i, ss: j}, service, res) {
			return false
		}
		j++
	}
	return true
}

// resource appends a Resource's attributes to res.
func (d *spanWire) resource(b []byte, base int, res telemetry.Tags) (telemetry.Tags, bool) {
	it := wireFields{b: b, base: base}
	var f wireField
	for it.next(&f) {
		if f.num != fResourceAttributes {
			if !d.other(mdResource, &f, 2) {
				return nil, false
			}
			continue
		}
		t, ok := d.keyValue(&f, 3)
		if !ok {
			return nil, false
		}
		res = append(res, t)
	}
	return res, !it.bad
}

// spanLoc is where a span is: its path is only built for an error.
type spanLoc struct{ rs, ss, sp int }

func (l spanLoc) path() *path {
	return (&path{}).field("resourceSpans").at(l.rs).field("scopeSpans").at(l.ss).field("spans").at(l.sp)
}

func (d *spanWire) scopeSpans(b []byte, base int, loc spanLoc, service string, res telemetry.Tags) bool {
	it := wireFields{b: b, base: base}
	var f wireField
	for it.next(&f) {
		if f.num != fSpans {
			if !d.other(mdScopeSpans, &f, 2) {
				return false
			}
			continue
		}
		if f.typ != protowire.BytesType || !d.span(f.v, f.at, loc, service, res) {
			return false
		}
		loc.sp++
	}
	return !it.bad
}

// span decodes one Span and adds it.
func (d *spanWire) span(b []byte, base int, loc spanLoc, service string, res telemetry.Tags) bool {
	var s otlpSpanFields
	it := wireFields{b: b, base: base}
	var f wireField
	ok := true
	for ok && it.next(&f) {
		switch f.num {
		case fTraceID:
			s.traceID, ok = f.v, f.typ == protowire.BytesType
		case fSpanID:
			s.spanID, ok = f.v, f.typ == protowire.BytesType
		case fParentSpanID:
			s.parentID, ok = f.v, f.typ == protowire.BytesType
		case fName:
			s.name, ok = d.str(&f)
		case fKind:
			s.kind, ok = tracepb.Span_SpanKind(int32(f.n)), f.typ == protowire.VarintType
		case fStart:
			s.start, ok = f.n, f.typ == protowire.Fixed64Type
		case fEnd:
			s.end, ok = f.n, f.typ == protowire.Fixed64Type
		case fAttributes:
			var t telemetry.Tag
			if t, ok = d.keyValue(&f, 4); ok {
				s.attrs = append(s.attrs, t)
			}
		case fStatus:
			ok = f.typ == protowire.BytesType && d.status(f.v, f.at, &s)
		default:
			ok = d.other(mdSpan, &f, 3)
		}
	}
	if !ok || it.bad {
		return false
	}
	d.w.otlpSpan(loc.path, &s, service, res)
	return true
}

// status reads a Status's fields into s (sent in parts, they merge).
func (d *spanWire) status(b []byte, base int, s *otlpSpanFields) bool {
	it := wireFields{b: b, base: base}
	var f wireField
	ok := true
	for ok && it.next(&f) {
		switch f.num {
		case fStatusMessage:
			s.statusMessage, ok = d.str(&f)
		case fStatusCode:
			s.statusCode, ok = tracepb.Status_StatusCode(int32(f.n)), f.typ == protowire.VarintType
		default:
			ok = d.other(mdStatus, &f, 4)
		}
	}
	return ok && !it.bad
}

// keyValue decodes a KeyValue (f) at depth, as attrs does. A value sent
// in parts (which merge), or a list or map, is decoded by the protobuf
// module after checkWire: they are rare.
func (d *spanWire) keyValue(f *wireField, depth int) (telemetry.Tag, bool) {
	if f.typ != protowire.BytesType {
		return telemetry.Tag{}, false
	}
	var t telemetry.Tag
	var value *wireField
	values := 0
	it := wireFields{b: f.v, base: f.at}
	var g wireField
	for it.next(&g) {
		switch g.num {
		case fKey:
			var ok bool
			if t.Key, ok = d.str(&g); !ok {
				return t, false
			}
		case fValue:
			if g.typ != protowire.BytesType {
				return t, false
			}
			values++
			v := g
			value = &v
		default:
			if !d.other(mdKeyValue, &g, depth) {
				return t, false
			}
		}
	}
	if it.bad {
		return t, false
	}
	if value == nil {
		return t, true
	}
	var ok bool
	if values == 1 {
		if t.Value, ok = d.anyValue(value); ok {
			return t, true
		}
	}
	return d.keyValueSlow(f, depth)
}

// keyValueSlow decodes a KeyValue with the protobuf module, after
// checking its wire form.
func (d *spanWire) keyValueSlow(f *wireField, depth int) (telemetry.Tag, bool) {
	if walkWire(mdKeyValue, f.v, f.at, depth) != nil {
		return telemetry.Tag{}, false
	}
	var kv commonpb.KeyValue
	if proto.Unmarshal(f.v, &kv) != nil {
		return telemetry.Tag{}, false
	}
	return telemetry.Tag{Key: kv.GetKey(), Value: anyString(kv.GetValue())}, true
}

// anyValue prints a scalar AnyValue as anyString does; false when it is
// not sound or not a scalar (the slow path decides which).
func (d *spanWire) anyValue(f *wireField) (string, bool) {
	var out string
	it := wireFields{b: f.v, base: f.at}
	var g wireField
	for it.next(&g) {
		var ok bool
		switch g.num {
		case fString:
			out, ok = d.str(&g)
		case fBool:
			out, ok = strconv.FormatBool(g.n != 0), g.typ == protowire.VarintType
		case fInt:
			out, ok = strconv.FormatInt(int64(g.n), 10), g.typ == protowire.VarintType
		case fDouble:
			out, ok = strconv.FormatFloat(math.Float64frombits(g.n), 'g', -1, 64), g.typ == protowire.Fixed64Type
		case fBytes:
			out, ok = hex.EncodeToString(g.v), g.typ == protowire.BytesType
		default:
			ok = mdAnyValue.Fields().ByNumber(g.num) == nil // a list or map: the slow path
		}
		if !ok {
			return "", false
		}
	}
	return out, !it.bad
}
