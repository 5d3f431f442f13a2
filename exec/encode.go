package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// SchemaVersion is the version of the result JSON format that AppendJSON
// writes and DecodeJSON reads (docs/api.md describes it). It changes only
// when a field changes meaning or goes away; new fields and new result parts
// do not change it.
const SchemaVersion = 1

// EncodeOptions bound the encoding of one result.
type EncodeOptions struct {
	// MaxBytes fails the encoding once the document would grow past it
	// (no limit when zero).
	MaxBytes int64
	// Cache, when set, supplies and keeps the JSON of components and
	// relations (see EncodeCache); the document is the same with or
	// without it.
	Cache *EncodeCache
}

// ResponseLimitError says a result encodes to more bytes than allowed. Like
// the element limit, it fails the query instead of cutting the answer.
type ResponseLimitError struct {
	Limit int64
}

func (e *ResponseLimitError) Error() string {
	return fmt.Sprintf("exec: the result is larger than %d bytes as JSON (the response limit); "+
		"narrow the query, or raise the limit", e.Limit)
}

// checkEvery is how many elements the encoder writes between looks at the
// context and the size limit.
const checkEvery = 64

// AppendJSON appends the result as one compact JSON document and a newline:
//
//	{"schemaVersion":1,"topology":{…}}
//
// Every result part that is set appears under its json name. This is the
// one encoder of results: tetra query --json and POST /api/query both write
// it. Properties are written as stored (compact JSON, checked at ingest),
// never re-indented, so the work is linear in the size of the output. It
// stops with ctx's error when ctx ends, and with a *ResponseLimitError past
// o.MaxBytes; dst then holds part of a document and must not be sent.
func AppendJSON(ctx context.Context, dst []byte, res *Result, o EncodeOptions) ([]byte, error) {
	e := newEncoder(ctx, dst, o)
	rv := reflect.ValueOf(res).Elem()
	for _, p := range resultParts {
		f := rv.Field(p.index)
		if f.IsNil() {
			continue
		}
		e.partName(p.name)
		if err := e.part(f.Interface()); err != nil {
			return e.b, err
		}
	}
	return e.end()
}

// RunJSON runs one statement with per-query options, as RunWith does, and
// appends its result to dst as the document AppendJSON writes of it, byte
// for byte. A topology query is encoded while it reads the graph, from
// the store's elements (through o.Cache when set) without building a
// Result: no copy of an element is made unless it must be encoded afresh.
// Other statements run with RunWith and are encoded with AppendJSON. The
// query's timeout covers the encoding too. On an error dst holds part of a
// document and must not be sent.
func (e *Engine) RunJSON(parent context.Context, dst []byte, stmt lang.Statement, qo QueryOptions, o EncodeOptions) ([]byte, error) {
	qo = e.with(qo)
	ctx, cancel := withTimeout(parent, qo.Timeout) // planning and encoding count too
	defer cancel()
	out, err := e.runJSON(ctx, dst, stmt, qo, o)
	return out, timeout(parent, ctx, qo.Timeout, err)
}

func (e *Engine) runJSON(ctx context.Context, dst []byte, stmt lang.Statement, qo QueryOptions, o EncodeOptions) ([]byte, error) {
	var res *Result
	if isData(stmt) {
		var err error
		if res, err = e.runData(ctx, stmt, qo); err != nil {
			return dst, err
		}
		return AppendJSON(ctx, dst, res, o)
	}
	q, cat, err := e.planned(ctx, stmt, qo)
	if err != nil {
		return dst, err
	}
	if q.Changes {
		cat.close()
		c, err := e.changes(ctx, q, qo.MaxElements)
		if err != nil {
			return dst, err
		}
		return AppendJSON(ctx, dst, &Result{Changes: c}, o)
	}
	w := topologyWriters.Get().(*topologyWriter)
	defer w.release()
	enc := &w.enc
	enc.begin(ctx, dst, o)
	w.t = topologyJSON{e: enc}
	enc.partName(topologyPart)
	enc.topologyHead(q.At, false)
	if err := e.topology(ctx, q, qo.MaxElements, cat, &w.t); err != nil {
		return enc.b, err
	}
	if err := w.t.endList(); err != nil {
		return enc.b, err
	}
	enc.b = append(enc.b, "]}"...) // the relations list, the topology part
	return enc.end()
}

// topologyWriter is a topology answer's encoder and sink, recycled
// (topologyWriters) because they are most of a small query's garbage
// otherwise.
type topologyWriter struct {
	enc encoder
	t   topologyJSON
}

var topologyWriters = sync.Pool{New: func() any { return new(topologyWriter) }}

// release drops w's references to the answer, the context and the store's
// elements and gives it back.
func (w *topologyWriter) release() {
	w.enc = encoder{}
	w.t.comps.release()
	w.t.rels.release()
	w.t = topologyJSON{comps: w.t.comps, rels: w.t.rels}
	topologyWriters.Put(w)
}

// topologyPart is the json name of Result.Topology (a test checks it).
const topologyPart = "topology"

// resultPart is one field of Result: a pointer to a part, with its json
// name.
type resultPart struct {
	name  string
	index int
}

// resultParts lists Result's parts once, so a part added to Result (with a
// json tag) is encoded without a change here.
var resultParts = func() []resultPart {
	t := reflect.TypeFor[Result]()
	var parts []resultPart
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := bytes.Cut([]byte(f.Tag.Get("json")), []byte(","))
		if !f.IsExported() || len(name) == 0 || string(name) == "-" {
			continue
		}
		parts = append(parts, resultPart{name: string(name), index: i})
	}
	return parts
}()

// DecodeJSON reads a document AppendJSON wrote back into a Result. Parts it
// does not know are ignored (a newer server's additions); a different
// schema version is an error.
func DecodeJSON(data []byte) (*Result, error) {
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		*Result
	}
	doc.Result = &Result{}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("exec: decoding a result: %w", err)
	}
	if doc.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("exec: the result has schema version %d; this build reads version %d", doc.SchemaVersion, SchemaVersion)
	}
	return doc.Result, nil
}

// encoder appends JSON to b, checking the context and the size now and then.
type encoder struct {
	b     []byte
	ctx   context.Context
	start int
	max   int64
	cache *EncodeCache // nil: encode every element
	n     int          // elements written since the last check
	props bytes.Buffer // appendProperties' view of b, kept here so it is not allocated per element
}

// newEncoder starts a document: {"schemaVersion":1 (parts follow, see
// partName; end closes it).
func newEncoder(ctx context.Context, dst []byte, o EncodeOptions) *encoder {
	e := &encoder{}
	e.begin(ctx, dst, o)
	return e
}

// begin starts a document in e, as newEncoder does.
func (e *encoder) begin(ctx context.Context, dst []byte, o EncodeOptions) {
	*e = encoder{b: dst, ctx: ctx, start: len(dst), max: o.MaxBytes, cache: o.Cache}
	e.b = append(e.b, `{"schemaVersion":`...)
	e.b = strconv.AppendInt(e.b, SchemaVersion, 10)
}

// partName starts a result part: ,"name":
func (e *encoder) partName(name string) {
	e.b = append(e.b, ',')
	e.b = appendString(e.b, name)
	e.b = append(e.b, ':')
}

// end closes the document and checks it a last time.
func (e *encoder) end() ([]byte, error) {
	e.b = append(e.b, "}\n"...)
	return e.b, e.check()
}

func (e *encoder) check() error {
	if e.max > 0 && int64(len(e.b)-e.start) > e.max {
		return &ResponseLimitError{Limit: e.max}
	}
	return e.ctx.Err()
}

// tick counts one element and checks every checkEvery.
func (e *encoder) tick() error {
	if e.n++; e.n < checkEvery {
		return nil
	}
	e.n = 0
	return e.check()
}

// part writes one result part: the topology kinds by hand (they are the
// hot path of the API), any other part with encoding/json.
func (e *encoder) part(v any) error {
	switch p := v.(type) {
	case *TopologyResult:
		return e.topology(p)
	case *ChangesResult:
		return e.changes(p)
	}
	if err := e.check(); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	e.b = append(e.b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	return e.check()
}

func (e *encoder) topology(r *TopologyResult) error {
	e.topologyHead(r.EvaluatedAt, r.Truncated)
	e.b = append(e.b, `"components":`...)
	if err := r.Components.appendJSON(e); err != nil {
		return err
	}
	e.b = append(e.b, `,"relations":`...)
	if err := r.Relations.appendJSON(e); err != nil {
		return err
	}
	e.b = append(e.b, '}')
	return nil
}

// appendJSON writes the rows as a JSON list (null for a nil list): rows
// held as values as a slice of them is written, rows of the store's
// elements as RunJSON writes those.
func (l Rows[T]) appendJSON(e *encoder) error {
	switch v := any(l.vals).(type) {
	case []Component:
		if l.refs == nil {
			return writeList(e, v, (*encoder).component)
		}
		return writeRefs(e, l.refs, func(e *encoder, el *graphstore.Element, tmp *Component) error {
			return e.storedComponent(el.Component(), tmp)
		})
	case []Relation:
		if l.refs == nil {
			return writeList(e, v, (*encoder).relation)
		}
		return writeRefs(e, l.refs, func(e *encoder, el *graphstore.Element, tmp *Relation) error {
			return e.storedRelation(el.Relation(), tmp)
		})
	}
	return nil
}

// writeRefs writes a JSON list of the store's elements, each by one (tmp
// is its room to convert the element), reading them a block ahead as
// Rows.All does.
func writeRefs[T any](e *encoder, refs []*graphstore.Element, one func(e *encoder, el *graphstore.Element, tmp *T) error) error {
	var tmp T
	e.b = append(e.b, '[')
	for i, el := range refs {
		if i%warmBlock == 0 {
			warmRows(refs[i:min(i+warmBlock, len(refs))])
		}
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if err := one(e, el, &tmp); err != nil {
			return err
		}
	}
	e.b = append(e.b, ']')
	return nil
}

// topologyHead opens a topology part up to its elements.
func (e *encoder) topologyHead(at time.Time, truncated bool) {
	e.b = append(e.b, `{"evaluatedAt":`...)
	e.b = appendTime(e.b, at)
	e.b = append(e.b, `,"truncated":`...)
	e.b = strconv.AppendBool(e.b, truncated)
	e.b = append(e.b, ',')
}

// topologyJSON is the topologySink of RunJSON: it writes the components
// and relations lists of a topology part as (*encoder).topology writes
// those of the TopologyResult a topologyBuilder builds of the same
// elements (never null: the builder's lists are never nil). With a cache,
// a list it wrote before is written whole (runList).
type topologyJSON struct {
	e     *encoder
	n     int       // elements in the list being written
	comp  Component // an element to encode afresh, converted as the builder does
	rel   Relation
	comps runList[graphstore.Component]
	rels  runList[graphstore.Relation]
}

func componentID(c *graphstore.Component) graphstore.ID { return c.ID }
func relationID(r *graphstore.Relation) graphstore.ID   { return r.ID }

func (t *topologyJSON) components(n int) {
	t.e.b = append(t.e.b, `"components":[`...)
	if t.e.cache != nil {
		t.comps.begin(&t.e.cache.compRuns, componentID, n, len(t.e.b))
	}
}

func (t *topologyJSON) keeps() bool { return false }

func (t *topologyJSON) component(els []*graphstore.Element) error {
	return encodeEach(els, (*graphstore.Element).Component, t.encodeComponent)
}

// encodeEach calls encode with the view of each element in turn, until
// one fails.
func encodeEach[V any](els []*graphstore.Element, view func(*graphstore.Element) *V, encode func(*V) error) error {
	for _, el := range els {
		if err := encode(view(el)); err != nil {
			return err
		}
	}
	return nil
}

func (t *topologyJSON) encodeComponent(c *graphstore.Component) error {
	var kept bool
	if t.e.b, kept = t.comps.skip(c, t.e.b); kept {
		t.n++
		return nil
	}
	if t.n++; t.n > 1 {
		t.e.b = append(t.e.b, ',')
	}
	if err := t.e.storedComponent(c, &t.comp); err != nil {
		return err
	}
	t.comps.wrote(c, len(t.e.b))
	return nil
}

func (t *topologyJSON) relations(n int) {
	t.e.b = t.comps.end(t.e.b)
	t.e.b = append(t.e.b, `],"relations":[`...)
	t.n = 0
	if t.e.cache != nil {
		t.rels.begin(&t.e.cache.relRuns, relationID, n, len(t.e.b))
	}
}

func (t *topologyJSON) relation(els []*graphstore.Element) error {
	return encodeEach(els, (*graphstore.Element).Relation, t.encodeRelation)
}

func (t *topologyJSON) encodeRelation(r *graphstore.Relation) error {
	var kept bool
	if t.e.b, kept = t.rels.skip(r, t.e.b); kept {
		t.n++
		return nil
	}
	if t.n++; t.n > 1 {
		t.e.b = append(t.e.b, ',')
	}
	if err := t.e.storedRelation(r, &t.rel); err != nil {
		return err
	}
	t.rels.wrote(r, len(t.e.b))
	return nil
}

// endList closes the relations list (its block, when it is a kept one) and
// checks the size and the context: a kept list's elements are not counted
// one by one (encoder.tick).
func (t *topologyJSON) endList() error {
	t.e.b = t.rels.end(t.e.b)
	return t.e.check()
}

// elements writes "components":[…],"relations":[…].
func (e *encoder) elements(cs []Component, rs []Relation) error {
	e.b = append(e.b, `"components":`...)
	if err := writeList(e, cs, (*encoder).component); err != nil {
		return err
	}
	e.b = append(e.b, `,"relations":`...)
	return writeList(e, rs, (*encoder).relation)
}

// writeList writes a JSON list (null for a nil slice, as encoding/json).
func writeList[T any](e *encoder, l []T, one func(*encoder, *T) error) error {
	if l == nil {
		e.b = append(e.b, "null"...)
		return nil
	}
	e.b = append(e.b, '[')
	for i := range l {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if err := one(e, &l[i]); err != nil {
			return err
		}
	}
	e.b = append(e.b, ']')
	return nil
}

func (e *encoder) changes(r *ChangesResult) error {
	e.b = append(e.b, `{"from":`...)
	e.b = appendTime(e.b, r.From)
	e.b = append(e.b, `,"to":`...)
	e.b = appendTime(e.b, r.To)
	e.b = append(e.b, `,"truncated":`...)
	e.b = strconv.AppendBool(e.b, r.Truncated)
	for _, s := range []struct {
		name string
		el   *Elements
	}{{"added", &r.Added}, {"removed", &r.Removed}} {
		e.b = append(e.b, ',')
		e.b = appendString(e.b, s.name)
		e.b = append(e.b, ":{"...)
		if err := e.elements(s.el.Components, s.el.Relations); err != nil {
			return err
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, `,"changed":{"components":`...)
	if err := writeList(e, r.Changed.Components, (*encoder).componentChange); err != nil {
		return err
	}
	e.b = append(e.b, `,"relations":`...)
	if err := writeList(e, r.Changed.Relations, (*encoder).relationChange); err != nil {
		return err
	}
	e.b = append(e.b, "}}"...)
	return nil
}

func (e *encoder) componentChange(c *ComponentChange) error {
	e.b = append(e.b, `{"before":`...)
	if err := e.component(&c.Before); err != nil {
		return err
	}
	e.b = append(e.b, `,"after":`...)
	if err := e.component(&c.After); err != nil {
		return err
	}
	e.b = append(e.b, `,"fields":`...)
	e.b = appendStrings(e.b, c.Fields)
	e.b = append(e.b, '}')
	return nil
}

func (e *encoder) relationChange(c *RelationChange) error {
	e.b = append(e.b, `{"before":`...)
	if err := e.relation(&c.Before); err != nil {
		return err
	}
	e.b = append(e.b, `,"after":`...)
	if err := e.relation(&c.After); err != nil {
		return err
	}
	e.b = append(e.b, `,"fields":`...)
	e.b = appendStrings(e.b, c.Fields)
	e.b = append(e.b, '}')
	return nil
}

// component writes c, from the cache when it holds c.
func (e *encoder) component(c *Component) error {
	if e.cache == nil {
		return e.encodeComponent(c)
	}
	if b, ok := e.cache.component(c); ok {
		e.b = append(e.b, b...)
		return e.tick()
	}
	start := len(e.b)
	err := e.encodeComponent(c)
	if err == nil {
		e.cache.putComponent(c, nil, e.b[start:])
	}
	return err
}

// storedComponent writes a store's component: from the cache when it
// holds this element's JSON, else converted into *tmp as a Result holds it
// (componentOf) and encoded as component does.
func (e *encoder) storedComponent(c *graphstore.Component, tmp *Component) error {
	if e.cache != nil {
		if b, ok := e.cache.storedComponent(c, tmp); ok {
			e.b = append(e.b, b...)
			return e.tick()
		}
	} else {
		*tmp = componentOf(c)
	}
	start := len(e.b)
	err := e.encodeComponent(tmp)
	if err == nil && e.cache != nil {
		e.cache.putComponent(tmp, c, e.b[start:])
	}
	return err
}

func (e *encoder) encodeComponent(c *Component) error {
	b := append(e.b, `{"id":`...)
	b = strconv.AppendUint(b, c.ID, 10)
	b = appendField(b, "name", c.Name)
	b = appendField(b, "type", c.Type)
	b = appendField(b, "layer", c.Layer)
	b = appendField(b, "domain", c.Domain)
	b = append(b, `,"environments":`...)
	b = appendStrings(b, c.Environments)
	b = append(b, `,"labels":`...)
	b = appendStrings(b, c.Labels)
	b = append(b, `,"identifiers":`...)
	b = appendStrings(b, c.Identifiers)
	b = appendField(b, "healthState", c.HealthState)
	b = appendField(b, "propagatedHealthState", c.PropagatedHealthState)
	b, err := appendProperties(b, c.Properties, &e.props)
	if err != nil {
		return fmt.Errorf("exec: component %d: %w", c.ID, err)
	}
	b = append(b, `,"sources":`...)
	b = appendSources(b, c.Sources)
	b = append(b, `,"lastUpdateTimestamp":`...)
	b = strconv.AppendInt(b, c.LastUpdateTimestamp, 10)
	e.b = append(b, '}')
	return e.tick()
}

// relation writes r, from the cache when it holds r.
func (e *encoder) relation(r *Relation) error {
	if e.cache == nil {
		return e.encodeRelation(r)
	}
	if b, ok := e.cache.relation(r); ok {
		e.b = append(e.b, b...)
		return e.tick()
	}
	start := len(e.b)
	err := e.encodeRelation(r)
	if err == nil {
		e.cache.putRelation(r, nil, e.b[start:])
	}
	return err
}

// storedRelation is storedComponent for relations.
func (e *encoder) storedRelation(r *graphstore.Relation, tmp *Relation) error {
	if e.cache != nil {
		if b, ok := e.cache.storedRelation(r, tmp); ok {
			e.b = append(e.b, b...)
			return e.tick()
		}
	} else {
		*tmp = relationOf(r)
	}
	start := len(e.b)
	err := e.encodeRelation(tmp)
	if err == nil && e.cache != nil {
		e.cache.putRelation(tmp, r, e.b[start:])
	}
	return err
}

func (e *encoder) encodeRelation(r *Relation) error {
	b := append(e.b, `{"id":`...)
	b = strconv.AppendUint(b, r.ID, 10)
	b = appendField(b, "type", r.Type)
	b = append(b, `,"source":`...)
	b = strconv.AppendUint(b, r.Source, 10)
	b = append(b, `,"target":`...)
	b = strconv.AppendUint(b, r.Target, 10)
	b = appendField(b, "dependencyDirection", r.DependencyDirection)
	b = append(b, `,"labels":`...)
	b = appendStrings(b, r.Labels)
	b = append(b, `,"identifiers":`...)
	b = appendStrings(b, r.Identifiers)
	b, err := appendProperties(b, r.Properties, &e.props)
	if err != nil {
		return fmt.Errorf("exec: relation %d: %w", r.ID, err)
	}
	b = append(b, `,"sources":`...)
	b = appendSources(b, r.Sources)
	b = append(b, `,"lastUpdateTimestamp":`...)
	b = strconv.AppendInt(b, r.LastUpdateTimestamp, 10)
	e.b = append(b, '}')
	return e.tick()
}

// appendProperties writes ,"properties":… unless p is empty (omitempty).
// Stored properties are compact already; json.Compact checks that they are
// valid JSON (a damaged value must not break the document) in one linear
// pass and never indents.
func appendProperties(b []byte, p json.RawMessage, buf *bytes.Buffer) ([]byte, error) {
	if len(p) == 0 {
		return b, nil
	}
	b = append(b, `,"properties":`...)
	*buf = *bytes.NewBuffer(b)
	if err := json.Compact(buf, p); err != nil {
		return b, fmt.Errorf("stored properties are not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendSources(b []byte, l []graphstore.SourceRef) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"source":`...)
		b = appendString(b, s.Source)
		b = append(b, `,"externalId":`...)
		b = appendString(b, s.ExternalID)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTime writes t in RFC 3339 with nanoseconds, in UTC, so a result
// reads the same wherever it was encoded.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// plain8 reports whether eight bytes all go into a JSON string as they
// are: none below 0x20, none a quote or a backslash, none beyond ASCII. It
// tests them at once (the bit tricks of "Bit Twiddling Hacks": a byte
// below n sets its top bit in w-n·0x01…, which ^w keeps only for bytes
// below 0x80); a false "no" only sends the bytes down the byte-wise path.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	below := func(v uint64, n uint64) uint64 { return (v - n*ones) & ^v & highs }
	special := w&highs | below(w, 0x20) | below(w^('"'*ones), 1) | below(w^('\\'*ones), 1)
	return special == 0
}

// appendString writes s as a JSON string exactly as encoding/json does
// with HTML escaping off: control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8 // most of a result is names and labels: eight plain bytes at a time
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
