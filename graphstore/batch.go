package graphstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// OpKind is what a batch operation does.
type OpKind uint8

const (
	OpPutComponent    OpKind = iota + 1 // create or replace one source's description of a component
	OpDeleteComponent                   // withdraw one source's description of a component
	OpPutRelation                       // create or replace one source's description of a relation
	OpDeleteRelation                    // withdraw one source's description of a relation
)

// Op is one operation of a batch. Every operation names the source that
// speaks and the element's external id within that source.
type Op struct {
	Kind       OpKind
	Source     string
	ExternalID string
	Component  *ComponentData // for OpPutComponent
	Relation   *RelationData  // for OpPutRelation
}

// Batch is a set of operations committed atomically as one version of the
// graph.
type Batch struct {
	// Time stamps the version. Zero means the commit time. A time before
	// the time an earlier batch asked for is refused (history does not go
	// backwards); a time at or before the last commit (batches asking for
	// the same time) is moved on to one nanosecond after it.
	Time time.Time
	Ops  []Op
}

// PutComponent appends an operation that sets source's description of the
// component with external id ext.
func (b *Batch) PutComponent(source, ext string, d ComponentData) {
	b.Ops = append(b.Ops, Op{Kind: OpPutComponent, Source: source, ExternalID: ext, Component: &d})
}

// DeleteComponent appends an operation that withdraws source's description
// of the component with external id ext.
func (b *Batch) DeleteComponent(source, ext string) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteComponent, Source: source, ExternalID: ext})
}

// PutRelation appends an operation that sets source's description of the
// relation with external id ext.
func (b *Batch) PutRelation(source, ext string, d RelationData) {
	b.Ops = append(b.Ops, Op{Kind: OpPutRelation, Source: source, ExternalID: ext, Relation: &d})
}

// DeleteRelation appends an operation that withdraws source's description of
// the relation with external id ext.
func (b *Batch) DeleteRelation(source, ext string) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteRelation, Source: source, ExternalID: ext})
}

// Limits on what one element may carry. They keep a hostile payload from
// making records or index keys unbounded.
const (
	MaxStringBytes     = 4 << 10  // a name, type, label, identifier…
	MaxListLen         = 1 << 10  // identifiers, labels, environments of one element
	MaxPropertiesBytes = 64 << 10 // the properties object of one contribution
	MaxPropertiesDepth = 64       // objects and lists nested in properties (Kubernetes objects need about 15)
)

// PropertiesDepth returns how deeply objects and lists nest in compact
// JSON p (0 for a scalar, 1 for {} or []). Strings are skipped, brackets
// inside them do not count.
func PropertiesDepth(p []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// OpError reports an invalid operation of a batch; nothing of the batch is
// committed.
type OpError struct {
	Index int // position of the operation in Batch.Ops
	Op    *Op
	Msg   string
}

func (e *OpError) Error() string {
	return fmt.Sprintf("graphstore: operation %d (%s %q from source %q): %s",
		e.Index, e.Op.Kind, e.Op.ExternalID, e.Op.Source, e.Msg)
}

func (k OpKind) String() string {
	switch k {
	case OpPutComponent:
		return "put component"
	case OpDeleteComponent:
		return "delete component"
	case OpPutRelation:
		return "put relation"
	case OpDeleteRelation:
		return "delete relation"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// normalize validates an operation and returns a copy in canonical form:
// lists sorted and deduplicated, labels lower-cased, properties compacted.
func normalize(i int, op *Op) (Op, error) {
	fail := func(format string, args ...any) (Op, error) {
		return Op{}, &OpError{Index: i, Op: op, Msg: fmt.Sprintf(format, args...)}
	}
	if err := checkString("source", op.Source, true); err != nil {
		return fail("%v", err)
	}
	if err := checkString("external id", op.ExternalID, true); err != nil {
		return fail("%v", err)
	}
	out := Op{Kind: op.Kind, Source: op.Source, ExternalID: op.ExternalID}
	var err error
	switch op.Kind {
	case OpPutComponent:
		if op.Component == nil {
			return fail("no component data")
		}
		out.Component, err = normalizeComponent(op.Component)
	case OpPutRelation:
		if op.Relation == nil {
			return fail("no relation data")
		}
		out.Relation, err = normalizeRelation(op.Relation)
	case OpDeleteComponent, OpDeleteRelation:
	default:
		return fail("unknown operation kind %d", op.Kind)
	}
	if err != nil {
		return fail("%v", err)
	}
	return out, nil
}

func normalizeComponent(d *ComponentData) (*ComponentData, error) {
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
	if c.Labels, err = normalizeList("labels", c.Labels, true); err != nil {
		return nil, err
	}
	if c.Health > HealthCritical {
		return nil, fmt.Errorf("invalid health state %d", c.Health)
	}
	if c.Properties, err = normalizeProperties(c.Properties); err != nil {
		return nil, err
	}
	return &c, nil
}

func normalizeRelation(d *RelationData) (*RelationData, error) {
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
	if r.Labels, err = normalizeList("labels", r.Labels, true); err != nil {
		return nil, err
	}
	if r.Dependency > DependencyNone {
		return nil, fmt.Errorf("invalid dependency direction %d", r.Dependency)
	}
	if r.Properties, err = normalizeProperties(r.Properties); err != nil {
		return nil, err
	}
	return &r, nil
}

func checkString(what, s string, required bool) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > MaxStringBytes:
		return fmt.Errorf("%s is %d bytes long; the limit is %d", what, len(s), MaxStringBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

func normalizeList(what string, l []string, lower bool) ([]string, error) {
	if len(l) > MaxListLen {
		return nil, fmt.Errorf("%d %s; the limit is %d", len(l), what, MaxListLen)
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
			s = strings.ToLower(s)
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
	if len(p) > MaxPropertiesBytes {
		return nil, fmt.Errorf("properties are %d bytes; the limit is %d", len(p), MaxPropertiesBytes)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p); err != nil {
		return nil, fmt.Errorf("properties are not valid JSON: %v", err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, fmt.Errorf("properties must be a JSON object")
	}
	if d := PropertiesDepth(buf.Bytes()); d > MaxPropertiesDepth {
		return nil, fmt.Errorf("properties nest %d deep; the limit is %d", d, MaxPropertiesDepth)
	}
	if buf.String() == "{}" {
		return nil, nil
	}
	return buf.Bytes(), nil
}
