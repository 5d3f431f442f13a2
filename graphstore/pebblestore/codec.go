package pebblestore

import (
	"fmt"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/internal/base"
	"github.com/tetrahq/tetra/internal/kv"
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

// encodeElement returns the record of an element version; nil (a deletion)
// encodes as an empty value.
func encodeElement(el *graphstore.Element) []byte {
	if el == nil {
		return []byte{}
	}
	return appendElement(make([]byte, 0, 256), el)
}

// appendElement appends the record of an element version (nothing for a
// deletion).
func appendElement(e []byte, el *graphstore.Element) []byte {
	if el == nil {
		return e
	}
	e = append(e, recordFormat)
	e = append(e, byte(el.Kind))
	e = kv.AppendUvarint(e, uint64(el.SourceID))
	e = kv.AppendUvarint(e, uint64(el.TargetID))
	e = kv.AppendUvarint(e, uint64(len(el.Contribs)))
	for i := range el.Contribs {
		c := &el.Contribs[i]
		e = kv.AppendString(e, c.Source)
		e = kv.AppendString(e, c.ExternalID)
		e = kv.AppendVarint(e, c.Updated)
		switch el.Kind {
		case graphstore.KindComponent:
			e = encodeComponent(e, c.Component)
		case graphstore.KindRelation:
			e = encodeRelation(e, c.Relation)
		case graphstore.KindCheck:
			e = encodeCheck(e, c.Check)
		}
	}
	if el.Kind == graphstore.KindComponent {
		e = append(e, byte(el.CheckState))
		e = append(e, byte(el.Propagated))
	}
	return e
}

func encodeComponent(e []byte, d *graphstore.ComponentData) []byte {
	e = kv.AppendString(e, d.Name)
	e = kv.AppendString(e, d.Type)
	e = kv.AppendString(e, d.Layer)
	e = kv.AppendString(e, d.Domain)
	e = kv.AppendStrings(e, d.Identifiers)
	e = kv.AppendStrings(e, d.Environments)
	e = kv.AppendStrings(e, d.Labels)
	e = append(e, byte(d.Health))
	return kv.AppendBytes(e, d.Properties)
}

func encodeRelation(e []byte, d *graphstore.RelationData) []byte {
	e = kv.AppendString(e, d.Type)
	e = kv.AppendString(e, d.SourceRef)
	e = kv.AppendString(e, d.TargetRef)
	e = kv.AppendStrings(e, d.Identifiers)
	e = append(e, byte(d.Dependency))
	e = kv.AppendStrings(e, d.Labels)
	return kv.AppendBytes(e, d.Properties)
}

func encodeCheck(e []byte, d *graphstore.CheckData) []byte {
	e = kv.AppendString(e, d.Name)
	e = append(e, byte(d.State))
	e = kv.AppendString(e, d.Message)
	return kv.AppendString(e, d.Identifier)
}

// decodeElement decodes the record of element id at version ts; an empty
// value is a deletion and decodes to nil.
func decodeElement(id graphstore.ID, ts int64, v []byte) (*graphstore.Element, error) {
	if len(v) == 0 {
		return nil, nil
	}
	d := kv.NewReader(v)
	if f := d.Byte(); f != recordFormat {
		return nil, fmt.Errorf("pebblestore: element %d@%d: unknown record format %d", id, ts, f)
	}
	kind := graphstore.Kind(d.Byte())
	src, dst := graphstore.ID(d.Uvarint()), graphstore.ID(d.Uvarint())
	n := d.Uvarint()
	if n == 0 || n > uint64(d.Len()) {
		return nil, fmt.Errorf("pebblestore: element %d@%d: %w", id, ts, errCorrupt)
	}
	contribs := make([]graphstore.Contribution, n)
	for i := range contribs {
		c := &contribs[i]
		c.Source, c.ExternalID, c.Updated = d.String(), d.String(), d.Varint()
		switch kind {
		case graphstore.KindComponent:
			c.Component = decodeComponent(d)
		case graphstore.KindRelation:
			c.Relation = decodeRelation(d)
		case graphstore.KindCheck:
			c.Check = decodeCheck(d)
		default:
			d.Fail()
		}
	}
	if kind == graphstore.KindCheck && n != 1 {
		d.Fail()
	}
	var checkState, propagated graphstore.HealthState
	if kind == graphstore.KindComponent {
		checkState, propagated = decodeHealth(d), decodeHealth(d)
	}
	if d.Done() != nil {
		return nil, fmt.Errorf("pebblestore: element %d@%d: %w", id, ts, errCorrupt)
	}
	if kind == graphstore.KindComponent {
		return graphstore.NewComponentElement(id, ts, contribs, checkState, propagated), nil
	}
	return graphstore.NewElement(id, kind, ts, contribs, src, dst), nil
}

// decodeHealth reads a health state byte, refusing values no state has.
func decodeHealth(d *kv.Reader) graphstore.HealthState {
	h := graphstore.HealthState(d.Byte())
	if h > graphstore.HealthCritical {
		d.Fail()
	}
	return h
}

func decodeComponent(d *kv.Reader) *graphstore.ComponentData {
	c := &graphstore.ComponentData{Name: d.String(), Type: d.String(), Layer: d.String(), Domain: d.String()}
	c.Identifiers, c.Environments, c.Labels = d.Strings(), d.Strings(), d.Strings()
	c.Health = decodeHealth(d)
	c.Properties = nilIfEmpty(d.Bytes())
	return c
}

func decodeCheck(d *kv.Reader) *graphstore.CheckData {
	c := &graphstore.CheckData{Name: d.String()}
	c.State = decodeHealth(d)
	c.Message, c.Identifier = d.String(), d.String()
	return c
}

func decodeRelation(d *kv.Reader) *graphstore.RelationData {
	r := &graphstore.RelationData{Type: d.String(), SourceRef: d.String(), TargetRef: d.String()}
	r.Identifiers = d.Strings()
	r.Dependency = graphstore.DependencyDirection(d.Byte())
	r.Labels = d.Strings()
	r.Properties = nilIfEmpty(d.Bytes())
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
	e := make([]byte, 0, 8+len(writes)*12)
	e = kv.AppendUvarint(e, uint64(len(writes)))
	for _, ch := range base.ChangesOf(writes) {
		e = kv.AppendUvarint(e, uint64(ch.ID))
		e = append(e, byte(ch.Kind))
		e = append(e, byte(ch.Op))
		var before int64
		if ch.Before != nil {
			before = ch.Before.Version
		}
		e = kv.AppendUvarint(e, uint64(before))
	}
	return e
}

func decodeLog(v []byte) ([]logEntry, error) {
	d := kv.NewReader(v)
	n := d.Uvarint()
	if n > uint64(d.Len()) {
		return nil, errCorrupt
	}
	out := make([]logEntry, n)
	for i := range out {
		out[i] = logEntry{
			id:     graphstore.ID(d.Uvarint()),
			kind:   graphstore.Kind(d.Byte()),
			op:     graphstore.ChangeOp(d.Byte()),
			before: int64(d.Uvarint()),
		}
	}
	if d.Done() != nil {
		return nil, errCorrupt
	}
	return out, nil
}
