package base

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/topokeys"
)

// Normalize validates every operation of a batch and returns them in
// canonical form; an invalid one fails the whole batch with a
// *graphstore.OpError.
func Normalize(b *graphstore.Batch) ([]graphstore.Op, error) {
	if err := graphstore.CheckState(b); err != nil {
		return nil, err
	}
	ops := make([]graphstore.Op, len(b.Ops))
	for i := range b.Ops {
		op, err := normalize(i, &b.Ops[i])
		if err != nil {
			return nil, err
		}
		ops[i] = op
	}
	return ops, nil
}

// normalize validates an operation and returns a copy in canonical form:
// lists sorted and deduplicated, labels lower-cased, properties compacted.
func normalize(i int, op *graphstore.Op) (graphstore.Op, error) {
	fail := func(format string, args ...any) (graphstore.Op, error) {
		return graphstore.Op{}, &graphstore.OpError{Index: i, Op: op, Msg: fmt.Sprintf(format, args...)}
	}
	source := "source"
	if op.Kind.ElementKind() == graphstore.KindCheck {
		source = "stream"
	}
	if err := checkString(source, op.Source, true); err != nil {
		return fail("%v", err)
	}
	if op.Kind == graphstore.OpReplaceStream {
		if op.ExternalID != "" {
			return fail("replacing a stream names no check state")
		}
	} else if err := checkString("external id", op.ExternalID, true); err != nil {
		return fail("%v", err)
	}
	out := graphstore.Op{Kind: op.Kind, Source: op.Source, ExternalID: op.ExternalID}
	var err error
	switch op.Kind {
	case graphstore.OpPutComponent:
		if op.Component == nil {
			return fail("no component data")
		}
		out.Component, err = normalizeComponent(op.Component)
	case graphstore.OpPutRelation:
		if op.Relation == nil {
			return fail("no relation data")
		}
		out.Relation, err = normalizeRelation(op.Relation)
	case graphstore.OpPutCheck:
		if op.Check == nil {
			return fail("no check state data")
		}
		out.Check, err = normalizeCheck(op.Check)
	case graphstore.OpDeleteComponent, graphstore.OpDeleteRelation, graphstore.OpDeleteCheck, graphstore.OpReplaceStream:
	default:
		return fail("unknown operation kind %d", op.Kind)
	}
	if err != nil {
		return fail("%v", err)
	}
	return out, nil
}

func normalizeComponent(d *graphstore.ComponentData) (*graphstore.ComponentData, error) {
	c := *d
	for _, f := range []struct{ name, v string }{{"name", c.Name}, {"type", c.Type}, {"layer", c.Layer}, {"domain", c.Domain}} {
		if err := checkString(f.name, f.v, false); err != nil {
			return nil, err
		}
	}
	var err error
	if c.Identifiers, err = normalizeList("identifiers", c.Identifiers, false); err != nil {
		return nil, err
	}
	if c.Environments, err = normalizeList("environments", c.Environments, false); err != nil {
		return nil, err
	}
	if c.Labels, err = normalizeList("labels", c.Labels, topokeys.Label.Folded()); err != nil {
		return nil, err
	}
	if c.Health > graphstore.HealthCritical {
		return nil, fmt.Errorf("invalid health state %d", c.Health)
	}
	if c.Properties, err = normalizeProperties(c.Properties); err != nil {
		return nil, err
	}
	return &c, nil
}

func normalizeRelation(d *graphstore.RelationData) (*graphstore.RelationData, error) {
	r := *d
	for _, f := range []struct{ name, v string }{{"type", r.Type}, {"source", r.SourceRef}, {"target", r.TargetRef}} {
		if err := checkString(f.name, f.v, false); err != nil {
			return nil, err
		}
	}
	if r.SourceRef == "" || r.TargetRef == "" {
		return nil, fmt.Errorf("a relation needs both a source and a target")
	}
	var err error
	if r.Identifiers, err = normalizeList("identifiers", r.Identifiers, false); err != nil {
		return nil, err
	}
	if r.Labels, err = normalizeList("labels", r.Labels, topokeys.Label.Folded()); err != nil {
		return nil, err
	}
	if r.Dependency > graphstore.DependencyNone {
		return nil, fmt.Errorf("invalid dependency direction %d", r.Dependency)
	}
	if r.Properties, err = normalizeProperties(r.Properties); err != nil {
		return nil, err
	}
	return &r, nil
}

func normalizeCheck(d *graphstore.CheckData) (*graphstore.CheckData, error) {
	c := *d
	if err := checkString("name", c.Name, true); err != nil {
		return nil, err
	}
	if err := checkString("identifier", c.Identifier, true); err != nil {
		return nil, err
	}
	if c.State > graphstore.HealthCritical {
		return nil, fmt.Errorf("invalid health state %d", c.State)
	}
	switch {
	case len(c.Message) > graphstore.MaxMessageBytes:
		return nil, fmt.Errorf("message is %d bytes long; the limit is %d", len(c.Message), graphstore.MaxMessageBytes)
	case !utf8.ValidString(c.Message):
		return nil, fmt.Errorf("message is not valid UTF-8")
	}
	return &c, nil
}

func checkString(what, s string, required bool) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > graphstore.MaxStringBytes:
		return fmt.Errorf("%s is %d bytes long; the limit is %d", what, len(s), graphstore.MaxStringBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

func normalizeList(what string, l []string, lower bool) ([]string, error) {
	if len(l) > graphstore.MaxListLen {
		return nil, fmt.Errorf("%d %s; the limit is %d", len(l), what, graphstore.MaxListLen)
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if err := checkString(what, s, false); err != nil {
			return nil, err
		}
		if s == "" {
			continue
		}
		if lower {
			s = topokeys.Fold(s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func normalizeProperties(p json.RawMessage) (json.RawMessage, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(p) > graphstore.MaxPropertiesBytes {
		return nil, fmt.Errorf("properties are %d bytes; the limit is %d", len(p), graphstore.MaxPropertiesBytes)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p); err != nil {
		return nil, fmt.Errorf("properties are not valid JSON: %v", err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, fmt.Errorf("properties must be a JSON object")
	}
	if d := graphstore.PropertiesDepth(buf.Bytes()); d > graphstore.MaxPropertiesDepth {
		return nil, fmt.Errorf("properties nest %d deep; the limit is %d", d, graphstore.MaxPropertiesDepth)
	}
	if buf.String() == "{}" {
		return nil, nil
	}
	return buf.Bytes(), nil
}
