package graphstore

import (
	"fmt"
	"time"
)

// OpKind is what a batch operation does.
type OpKind uint8

const (
	OpPutComponent    OpKind = iota + 1 // create or replace one source's description of a component
	OpDeleteComponent                   // withdraw one source's description of a component
	OpPutRelation                       // create or replace one source's description of a relation
	OpDeleteRelation                    // withdraw one source's description of a relation
	OpPutCheck                          // create or replace a check state of a health stream
	OpDeleteCheck                       // delete a check state of a health stream
	OpReplaceStream                     // delete the check states of a stream the rest of the batch does not put
)

// ElementKind returns the kind of element an operation writes.
func (k OpKind) ElementKind() Kind {
	switch k {
	case OpPutRelation, OpDeleteRelation:
		return KindRelation
	case OpPutCheck, OpDeleteCheck, OpReplaceStream:
		return KindCheck
	}
	return KindComponent
}

// Op is one operation of a batch. Every operation names the source that
// speaks and the element's external id within that source; for a check
// state, the health stream and the check state's id within it (an
// OpReplaceStream names only the stream; its ExternalID is empty).
type Op struct {
	Kind       OpKind
	Source     string
	ExternalID string
	Component  *ComponentData // for OpPutComponent
	Relation   *RelationData  // for OpPutRelation
	Check      *CheckData     // for OpPutCheck
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
	// State is writer state committed in the same atomic batch as Ops
	// (see StateStore): a receiver's open snapshots, a consumer's log
	// offsets. It is not versioned: the latest commit's state is all
	// there is.
	State []StateOp
}

// StateOp is one write to a store's writer state, applied in batch order
// after the batch's elements.
type StateOp struct {
	Key   string
	Value []byte
	// Delete removes Key; with Prefix, every key that starts with Key.
	Delete bool
	Prefix bool
}

// SetState appends a write of writer state key.
func (b *Batch) SetState(key string, value []byte) {
	b.State = append(b.State, StateOp{Key: key, Value: value})
}

// DeleteState appends the removal of writer state key.
func (b *Batch) DeleteState(key string) {
	b.State = append(b.State, StateOp{Key: key, Delete: true})
}

// DeleteStatePrefix appends the removal of every writer state key that
// starts with prefix (which must not be empty).
func (b *Batch) DeleteStatePrefix(prefix string) {
	b.State = append(b.State, StateOp{Key: prefix, Delete: true, Prefix: true})
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

// PutCheck appends an operation that sets the check state with id checkID
// of a health stream (StackState's stream urn, with its sub stream when it
// has one). The state counts for the component holding d.Identifier, now
// or whenever one does.
func (b *Batch) PutCheck(stream, checkID string, d CheckData) {
	b.Ops = append(b.Ops, Op{Kind: OpPutCheck, Source: stream, ExternalID: checkID, Check: &d})
}

// DeleteCheck appends an operation that deletes the check state with id
// checkID of a health stream. Deleting one that does not exist does
// nothing.
func (b *Batch) DeleteCheck(stream, checkID string) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteCheck, Source: stream, ExternalID: checkID})
}

// ReplaceStream appends an operation that makes the check states of a
// health stream exactly the ones the rest of the batch puts for it: every
// check state the stream has when the operation is reached (committed, or
// put earlier in the batch) that no later PutCheck of the batch sets again
// is deleted, in the same version. A state put again unchanged keeps its
// version: nothing is written for it, and its components' health does not
// move. A ReplaceStream followed by no PutCheck of its stream empties the
// stream.
//
// It is StackState's REPEAT_SNAPSHOTS consistency model: a complete
// snapshot of a stream (start_snapshot, its check states, stop_snapshot)
// is one batch of a ReplaceStream and a PutCheck per state, so a reader
// never sees half a snapshot, and a state the snapshot no longer holds
// goes. TRANSACTIONAL_INCREMENTS are PutCheck and DeleteCheck as given;
// REPEAT_STATES are PutCheck, with the receiver deleting the states not
// repeated within their expiry.
func (b *Batch) ReplaceStream(stream string) {
	b.Ops = append(b.Ops, Op{Kind: OpReplaceStream, Source: stream})
}

// Limits on what one element may carry. They keep a hostile payload from
// making records or index keys unbounded.
const (
	MaxStringBytes     = 4 << 10  // a name, type, label, identifier…
	MaxListLen         = 1 << 10  // identifiers, labels, environments of one element
	MaxPropertiesBytes = 64 << 10 // the properties object of one contribution
	MaxPropertiesDepth = 64       // objects and lists nested in properties (Kubernetes objects need about 15)
	MaxStateKeyBytes   = 8 << 10  // a writer state key
	MaxStateValueBytes = 1 << 20  // a writer state value
	MaxMessageBytes    = 16 << 10 // the message of a check state
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
	if e.Op.Kind == OpReplaceStream {
		return fmt.Sprintf("graphstore: operation %d (replace stream %q): %s", e.Index, e.Op.Source, e.Msg)
	}
	from := "source"
	if e.Op.Kind.ElementKind() == KindCheck {
		from = "stream"
	}
	return fmt.Sprintf("graphstore: operation %d (%s %q from %s %q): %s",
		e.Index, e.Op.Kind, e.Op.ExternalID, from, e.Op.Source, e.Msg)
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
	case OpPutCheck:
		return "put check"
	case OpDeleteCheck:
		return "delete check"
	case OpReplaceStream:
		return "replace stream"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// StateError reports an invalid writer state operation of a batch; nothing
// of the batch is committed.
type StateError struct {
	Index int // position of the operation in Batch.State
	Msg   string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("graphstore: state operation %d: %s", e.Index, e.Msg)
}

// CheckState validates a batch's writer state operations.
func CheckState(b *Batch) error {
	for i, op := range b.State {
		switch {
		case op.Key == "":
			return &StateError{Index: i, Msg: "empty key"}
		case len(op.Key) > MaxStateKeyBytes:
			return &StateError{Index: i, Msg: fmt.Sprintf("key is %d bytes long; the limit is %d", len(op.Key), MaxStateKeyBytes)}
		case len(op.Value) > MaxStateValueBytes:
			return &StateError{Index: i, Msg: fmt.Sprintf("value is %d bytes long; the limit is %d", len(op.Value), MaxStateValueBytes)}
		case op.Prefix && !op.Delete:
			return &StateError{Index: i, Msg: "a prefix operation must be a delete"}
		}
	}
	return nil
}
