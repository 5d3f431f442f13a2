package pebblestore

import (
	"encoding/binary"
	"fmt"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
)

// Element records (the values of version keys) are a compact binary form:
//
//	format:1 kind:1 sourceID:uvarint targetID:uvarint ncontribs:uvarint contrib… [derived]
//	contrib   = str(source) str(ext) updated:varint body
//	component = str(name) str(type) str(layer) str(domain) strs(identifiers)
//	            strs(environments) strs(labels) health:1 bytes(properties)
//	relation  = str(type) str(sourceRef) str(targetRef) strs(identifiers)
//	            dependency:1 strs(labels) bytes(properties)
//	check     = str(name) state:1 str(message) str(identifier)
//	derived   = checkState:1 propagated:1   (components only)
//	str       = len:uvarint bytes;  strs = n:uvarint str…
//
// A check state's sourceID is the component it is bound to. A deleted
// version has an empty value.
const recordFormat = 2

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bytes(p []byte) {
	e.uvarint(uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *encoder) strs(l []string) {
	e.uvarint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

// encodeElement returns the record of an element version; nil (a deletion)
// encodes as an empty value.
func encodeElement(el *graphstore.Element) []byte {
	if el == nil {
		return []byte{}
	}
	e := &encoder{b: make([]byte, 0, 256)}
	e.byte(recordFormat)
	e.byte(byte(el.Kind))
	e.uvarint(uint64(el.SourceID))
	e.uvarint(uint64(el.TargetID))
	e.uvarint(uint64(len(el.Contribs)))
	for i := range el.Contribs {
		c := &el.Contribs[i]
		e.str(c.Source)
		e.str(c.ExternalID)
		e.varint(c.Updated)
		switch el.Kind {
		case graphstore.KindComponent:
			encodeComponent(e, c.Component)
		case graphstore.KindRelation:
			encodeRelation(e, c.Relation)
		case graphstore.KindCheck:
			encodeCheck(e, c.Check)
		}
	}
	if el.Kind == graphstore.KindComponent {
		e.byte(byte(el.CheckState))
		e.byte(byte(el.Propagated))
	}
	return e.b
}

func encodeComponent(e *encoder, d *graphstore.ComponentData) {
	e.str(d.Name)
	e.str(d.Type)
	e.str(d.Layer)
	e.str(d.Domain)
	e.strs(d.Identifiers)
	e.strs(d.Environments)
	e.strs(d.Labels)
	e.byte(byte(d.Health))
	e.bytes(d.Properties)
}

func encodeRelation(e *encoder, d *graphstore.RelationData) {
	e.str(d.Type)
	e.str(d.SourceRef)
	e.str(d.TargetRef)
	e.strs(d.Identifiers)
	e.byte(byte(d.Dependency))
	e.strs(d.Labels)
	e.bytes(d.Properties)
}

func encodeCheck(e *encoder, d *graphstore.CheckData) {
	e.str(d.Name)
	e.byte(byte(d.State))
	e.str(d.Message)
	e.str(d.Identifier)
}

// decoder reads what encoder wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) strs() []string {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every string takes at least one byte
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

// decodeElement decodes the record of element id at version ts; an empty
// value is a deletion and decodes to nil.
func decodeElement(id graphstore.ID, ts int64, v []byte) (*graphstore.Element, error) {
	if len(v) == 0 {
		return nil, nil
	}
	d := &decoder{b: v}
	if f := d.byte(); f != recordFormat {
		return nil, fmt.Errorf("pebblestore: element %d@%d: unknown record format %d", id, ts, f)
	}
	kind := graphstore.Kind(d.byte())
	src, dst := graphstore.ID(d.uvarint()), graphstore.ID(d.uvarint())
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		return nil, fmt.Errorf("pebblestore: element %d@%d: %w", id, ts, errCorrupt)
	}
	contribs := make([]graphstore.Contribution, n)
	for i := range contribs {
		c := &contribs[i]
		c.Source, c.ExternalID, c.Updated = d.str(), d.str(), d.varint()
		switch kind {
		case graphstore.KindComponent:
			c.Component = decodeComponent(d)
		case graphstore.KindRelation:
			c.Relation = decodeRelation(d)
		case graphstore.KindCheck:
			c.Check = decodeCheck(d)
		default:
			d.fail()
		}
	}
	if kind == graphstore.KindCheck && n != 1 {
		d.fail()
	}
	var checkState, propagated graphstore.HealthState
	if kind == graphstore.KindComponent {
		checkState, propagated = decodeHealth(d), decodeHealth(d)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("pebblestore: element %d@%d: %w", id, ts, errCorrupt)
	}
	if kind == graphstore.KindComponent {
		return graphstore.NewComponentElement(id, ts, contribs, checkState, propagated), nil
	}
	return graphstore.NewElement(id, kind, ts, contribs, src, dst), nil
}

// decodeHealth reads a health state byte, refusing values no state has.
func decodeHealth(d *decoder) graphstore.HealthState {
	h := graphstore.HealthState(d.byte())
	if h > graphstore.HealthCritical {
		d.fail()
	}
	return h
}

func decodeComponent(d *decoder) *graphstore.ComponentData {
	c := &graphstore.ComponentData{Name: d.str(), Type: d.str(), Layer: d.str(), Domain: d.str()}
	c.Identifiers, c.Environments, c.Labels = d.strs(), d.strs(), d.strs()
	c.Health = decodeHealth(d)
	c.Properties = nilIfEmpty(d.raw())
	return c
}

func decodeCheck(d *decoder) *graphstore.CheckData {
	c := &graphstore.CheckData{Name: d.str()}
	c.State = decodeHealth(d)
	c.Message, c.Identifier = d.str(), d.str()
	return c
}

func decodeRelation(d *decoder) *graphstore.RelationData {
	r := &graphstore.RelationData{Type: d.str(), SourceRef: d.str(), TargetRef: d.str()}
	r.Identifiers = d.strs()
	r.Dependency = graphstore.DependencyDirection(d.byte())
	r.Labels = d.strs()
	r.Properties = nilIfEmpty(d.raw())
	return r
}

// nilIfEmpty copies b (which aliases a buffer Pebble owns), mapping empty to
// nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// logEntry is one change of a commit as the change log stores it: the
// element, its kind, and the version it had before (0 when it was added).
// The version after is the commit's own time unless the element was removed.
type logEntry struct {
	id     graphstore.ID
	kind   graphstore.Kind
	op     graphstore.ChangeOp
	before int64
}

// encodeLog: n:uvarint then per change id:uvarint kind:1 op:1 before:uvarint.
func encodeLog(writes []base.Write) []byte {
	e := &encoder{b: make([]byte, 0, 8+len(writes)*12)}
	e.uvarint(uint64(len(writes)))
	for _, ch := range base.ChangesOf(writes) {
		e.uvarint(uint64(ch.ID))
		e.byte(byte(ch.Kind))
		e.byte(byte(ch.Op))
		var before int64
		if ch.Before != nil {
			before = ch.Before.Version
		}
		e.uvarint(uint64(before))
	}
	return e.b
}

func decodeLog(v []byte) ([]logEntry, error) {
	d := &decoder{b: v}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errCorrupt
	}
	out := make([]logEntry, n)
	for i := range out {
		out[i] = logEntry{
			id:     graphstore.ID(d.uvarint()),
			kind:   graphstore.Kind(d.byte()),
			op:     graphstore.ChangeOp(d.byte()),
			before: int64(d.uvarint()),
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errCorrupt
	}
	return out, nil
}
