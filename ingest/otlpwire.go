package ingest

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireProblem is where a protobuf body goes wrong: the field (built on the
// way back up, so that a good body allocates nothing) and the byte offset.
type wireProblem struct {
	path   *path
	offset int
	msg    string
}

// checkWire walks a protobuf message's wire form by its descriptor and
// returns the first problem, or nil: bytes that do not parse (with the
// field and offset they are in, which proto.Unmarshal does not say), a
// string that is not UTF-8, and a known field sent with a wire type that
// is not its own. proto.Unmarshal keeps the last as an unknown field and
// the value is silently lost, so a sender with a wrong type must hear of
// it. Fields the descriptor does not know are skipped (newer senders).
func checkWire(md protoreflect.MessageDescriptor, b []byte) *wireProblem {
	return walkWire(md, b, 0, 0)
}

// maxWireDepth bounds the nesting walked (OTLP's AnyValue nests).
const maxWireDepth = 100

func walkWire(md protoreflect.MessageDescriptor, b []byte, base, depth int) *wireProblem {
	if depth > maxWireDepth {
		return &wireProblem{offset: base, msg: fmt.Sprintf("messages nest deeper than %d", maxWireDepth)}
	}
	var seen map[protowire.Number]int // the index of repeated fields, only counted when needed
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return &wireProblem{offset: base + off, msg: protowire.ParseError(n).Error()}
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			if m < 0 {
				return &wireProblem{offset: base + off, msg: fmt.Sprintf("field %d: %v", num, protowire.ParseError(m))}
			}
			off += n + m
			continue
		}
		idx := 0
		if fd.Cardinality() == protoreflect.Repeated {
			if seen == nil {
				seen = map[protowire.Number]int{}
			}
			idx = seen[num]
			seen[num]++
		}
		if pr := checkField(fd, typ, b[off+n:], m, base+off+n, depth); pr != nil {
			pr.path = prependField(pr.path, fd, idx)
			return pr
		}
		off += n + m
	}
	return nil
}

// checkField checks one field's value (m bytes of b, as ConsumeFieldValue
// measured them; negative when they do not parse).
func checkField(fd protoreflect.FieldDescriptor, typ protowire.Type, b []byte, m, at, depth int) *wireProblem {
	want := wireType(fd.Kind())
	packed := fd.IsList() && typ == protowire.BytesType && want != protowire.BytesType
	if typ != want && !packed {
		return &wireProblem{offset: at, msg: fmt.Sprintf("want %s, got wire type %s", kindName(fd), wireName(typ))}
	}
	if m < 0 {
		return &wireProblem{offset: at, msg: protowire.ParseError(m).Error()}
	}
	if typ != protowire.BytesType || packed {
		return nil
	}
	v, _ := protowire.ConsumeBytes(b)
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.Valid(v) {
			return &wireProblem{offset: at, msg: "the string is not valid UTF-8"}
		}
	case protoreflect.MessageKind:
		return walkWire(fd.Message(), v, at+(m-len(v)), depth+1)
	}
	return nil
}

// prependField puts a field (and its index, when repeated) in front of a
// path built from the inside out.
func prependField(inner *path, fd protoreflect.FieldDescriptor, idx int) *path {
	head := (&path{}).field(fd.JSONName())
	if fd.IsList() {
		head = head.at(idx)
	}
	return graft(head, inner)
}

// graft hangs the path inner (rooted at an empty path) below head.
func graft(head, inner *path) *path {
	if inner == nil || inner.parent == nil {
		return head
	}
	return &path{parent: graft(head, inner.parent), key: inner.key, index: inner.index}
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

func kindName(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.MessageKind {
		return "a message " + string(fd.Message().Name())
	}
	return "a " + fd.Kind().String()
}

func wireName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType, protowire.EndGroupType:
		return "group"
	}
	return fmt.Sprint(int(t))
}
