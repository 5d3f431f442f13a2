package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// Topology is one entry of an intake payload's topologies list, or one
// check topology: what one source says in one message. Its elements are
// already mapped to the store's model.
type Topology struct {
	// Path locates the topology in its document (topologies[0],
	// [2].topologies[1]; empty for a check topology at the top level), for
	// errors found when it is applied.
	Path string
	// Source is "<instance type>:<instance url>", or the decoder's default
	// source for a topology without an instance.
	Source        string
	StartSnapshot bool
	StopSnapshot  bool
	Components    []Component
	Relations     []Relation
	// DeleteIDs are external ids of the source's components or relations
	// to delete.
	DeleteIDs []string
	// CheckStates are check states of health streams to put or delete.
	// Only the check states form and the intake's health entries have
	// them, in a Topology of their own with no source and no elements.
	CheckStates []CheckState
	// ReplaceStreams are the health streams whose check states are
	// replaced by the ones CheckStates puts for them (the check states
	// form's replace_streams).
	ReplaceStreams []string
	// Health is set for an entry of an intake payload's health list: its
	// consistency model's snapshot and expiry (health.go).
	Health *HealthEntry `json:",omitempty"`
}

// Component is one component of a topology.
type Component struct {
	ExternalID string
	Data       graphstore.ComponentData
}

// Relation is one relation of a topology.
type Relation struct {
	ExternalID string
	Data       graphstore.RelationData
}

// DefaultMaxBytes is the decoding limit when Decoder.MaxBytes is zero.
const DefaultMaxBytes = 64 << 20

// Decoder turns a payload into topologies. The zero value is ready to use;
// a Decoder holds no state and may be used from many goroutines.
type Decoder struct {
	// MaxBytes bounds the payload (DefaultMaxBytes when zero). A larger
	// payload fails with a *TooLargeError before any of it is parsed.
	MaxBytes int64
	// DefaultSource is the source of topologies that name no instance.
	// When empty, such a topology is an error.
	DefaultSource string
}

func (dc Decoder) maxBytes() int64 {
	if dc.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return dc.MaxBytes
}

// Decode reads a payload from r and decodes it; see DecodeBytes.
func (dc Decoder) Decode(r io.Reader) ([]Topology, error) {
	limit := dc.maxBytes()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("ingest: reading payload: %w", err)
	}
	return dc.DecodeBytes(b)
}

// DecodeBytes decodes a payload: an intake payload, a check topology, a
// recorded request, or a JSON list of these (see the package
// documentation). Input errors come back as one *ErrorList naming every
// problem found with its JSON path; on any error no topology is returned, so
// a caller cannot apply half a payload.
func (dc Decoder) DecodeBytes(b []byte) ([]Topology, error) {
	w, err := dc.walk(b)
	if err != nil {
		return nil, err
	}
	return w.out, nil
}

// DecodeChecked is DecodeBytes that also returns the payload's warnings:
// what it accepted but found odd (see Warnings).
func (dc Decoder) DecodeChecked(b []byte) ([]Topology, *Warnings, error) {
	w, err := dc.walk(b)
	if err != nil {
		return nil, nil, err
	}
	return w.out, &w.warns, nil
}

// DecodePayloadChecked is DecodePayloadBytes that also returns the
// payload's warnings.
func (dc Decoder) DecodePayloadChecked(b []byte) (*Payload, *Warnings, error) {
	w, err := dc.walk(b)
	if err != nil {
		return nil, nil, err
	}
	return w.payload(), &w.warns, nil
}

// walk decodes a whole document; on error it returns only the errors.
func (dc Decoder) walk(b []byte) (*walker, error) {
	if limit := dc.maxBytes(); int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	d := &dec{members: getArena()}
	defer putArena(d)
	if len(bytes.TrimSpace(b)) == 0 {
		d.failf(nil, "empty payload")
		return nil, d.errs.err()
	}
	if !json.Valid(b) {
		var v any
		d.failf(nil, "%s", syntaxMessage(b, json.Unmarshal(b, &v)))
		return nil, d.errs.err()
	}
	w := &walker{dec: d, defaultSource: dc.DefaultSource}
	w.document(&path{}, bytes.TrimSpace(b))
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// syntaxMessage renders a JSON syntax error with its line and column.
func syntaxMessage(b []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON: " + err.Error()
	}
	// Offset counts the bytes read, the offending one included.
	off := max(min(int(se.Offset), len(b))-1, 0)
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
}

// Top-level keys that identify each form. A document is recognised by the
// keys it has; every key is optional, and keys of no form are ignored.
var (
	envelopeKeys = []string{"topologies", "metrics", "events", "health", "service_checks",
		"internalHostname", "collection_timestamp", "apiKey", "series"}
	stubKeys     = []string{"components", "relations", "instance_key", "start_snapshot", "stop_snapshot", "delete_ids"}
	requestKeys  = []string{"method", "uri_path", "headers"}
	requestBody  = []string{"payload", "body"}
	checksKeys   = []string{"check_states", "replace_streams"}
	expectedForm = `want an intake payload (an object with "topologies", "metrics", "events" or "series"), a check topology ` +
		`(an object with "components", "relations", "instance_key", …), a recorded request ` +
		`(an object with "payload" and "uri_path"), check states (an object with "check_states"), an OTLP/JSON document ` +
		`("resourceSpans", "resourceMetrics", "resourceLogs"), a trace-agent span ({"trace_id", "span_id", "start", …}), or a list of these`
)

func hasAny(o object, keys []string) bool {
	return slices.ContainsFunc(keys, o.has)
}

// walker decodes one document into topologies.
type walker struct {
	*dec
	defaultSource string
	out           []Topology
	firstPut      map[putKey]putAt // where each element was first put
	tel           telemetryOut
}

// document decodes the top level: one object, or a list of objects.
func (w *walker) document(p *path, raw json.RawMessage) {
	switch kindOf(raw) {
	case '[':
		l, _ := w.optList(p, raw)
		for i, e := range l {
			switch kindOf(e) {
			case '{':
				w.form(p.at(i), e)
			case '[':
				w.agentTrace(p.at(i), e) // a trace: a list of spans
			default:
				w.wrongType(p.at(i), "an object", e)
			}
		}
	case '{':
		w.form(p, raw)
	default:
		w.wrongType(p, "an object or a list of objects", raw)
	}
}

// form recognises an object by its keys and decodes it.
func (w *walker) form(p *path, raw json.RawMessage) {
	o, ok := w.object(p, raw)
	if !ok {
		return
	}
	env, stub := hasAny(o, envelopeKeys), hasAny(o, stubKeys)
	switch {
	case hasAny(o, checksKeys) && (env || stub):
		w.failf(p, `mixes check states (%s) with the keys of a topology payload (%s); send them as two payloads`, keysOf(o, checksKeys),
			keysOf(o, append(slices.Clone(envelopeKeys), stubKeys...)))
	case hasAny(o, otlpKeys) && !env && !stub:
		w.otlp(p, raw)
	case isAgentSpan(o): // its "metrics" member is the span's, not an intake list
		w.agentSpan(p, o)
	case hasAny(o, requestBody) && hasAny(o, requestKeys) && !env && !stub:
		w.request(p, o)
	case env && stub:
		w.failf(p, "mixes the keys of an intake payload (%s) and of a check topology (%s)",
			keysOf(o, envelopeKeys), keysOf(o, stubKeys))
	case env || o.len() == 0:
		w.envelope(p, o)
	case hasAny(o, checksKeys):
		w.checkStates(p, o)
	case o.has("instance") && !o.has("instance_key"):
		w.failf(p, `looks like one entry of an intake payload's topologies list; send it as {"topologies": [ … ]}`)
	case stub:
		w.topology(p, o, stubForm)
	default:
		w.failf(p, "%s; got an object with keys %s", expectedForm, keysOf(o, nil))
	}
}

// keysOf lists the object's keys among want (all keys when want is nil),
// sorted, quoted, at most five.
func keysOf(o object, want []string) string {
	var ks []string
	for _, k := range o.keys() {
		if want == nil || slices.Contains(want, k) {
			ks = append(ks, fmt.Sprintf("%q", k))
		}
	}
	slices.Sort(ks)
	if len(ks) > 5 {
		ks = append(ks[:5], "…")
	}
	return strings.Join(ks, ", ")
}

// request decodes a recorded HTTP request: {method, uri_path, headers,
// payload}. A request to another endpoint than the intake carries no
// topology and is skipped.
func (w *walker) request(p *path, o object) {
	if raw := o.get("uri_path"); raw != nil {
		uri, ok := w.optString(p.field("uri_path"), raw)
		if !ok || !isIntakePath(uri) {
			return
		}
	}
	key := "payload"
	if !o.has(key) {
		key = "body"
	}
	bp := p.field(key)
	body, ok := w.object(bp, o.get(key))
	if !ok {
		return
	}
	if hasAny(body, stubKeys) && !hasAny(body, envelopeKeys) {
		w.failf(bp, `want an intake payload (an object with "topologies"), got a check topology`)
		return
	}
	w.envelope(bp, body)
}

// isIntakePath reports whether a request path (with its query) is the
// receiver's intake endpoint, /stsAgent/intake or /intake.
func isIntakePath(uri string) bool {
	u, _, _ := strings.Cut(uri, "?")
	return strings.HasSuffix(strings.TrimSuffix(u, "/"), "/intake")
}

// envelope decodes an intake payload: its topologies, health, metrics,
// series and events (service checks are not read yet).
func (w *walker) envelope(p *path, o object) {
	tp := p.field("topologies")
	l, _ := w.optList(tp, o.get("topologies"))
	for i, raw := range l {
		if t, ok := w.object(tp.at(i), raw); ok {
			w.topology(tp.at(i), t, intakeForm)
		}
	}
	w.intakeHealth(p, o.get("health"))
	host := w.intakeHost(p, o)
	w.serviceChecks(p, o.get("service_checks"), host)
	w.intakeTelemetry(p, o, host)
}

// topologyForm is what differs between the intake and check stub forms.
type topologyForm struct {
	instance  string // key of the {type, url} object
	component func(w *walker, p *path, o object) Component
	relation  func(w *walker, p *path, o object) Relation
}

var (
	intakeForm = topologyForm{instance: "instance", component: (*walker).intakeComponent, relation: (*walker).intakeRelation}
	stubForm   = topologyForm{instance: "instance_key", component: (*walker).stubComponent, relation: (*walker).stubRelation}
)

// topology decodes one topology and appends it to the output when it has
// no error.
func (w *walker) topology(p *path, o object, f topologyForm) {
	before := len(w.errs.Errs) + w.errs.Dropped
	t := Topology{Path: p.String()}
	t.Source = w.source(p.field(f.instance), o.get(f.instance))
	t.StartSnapshot = w.optBool(p.field("start_snapshot"), o.get("start_snapshot"))
	t.StopSnapshot = w.optBool(p.field("stop_snapshot"), o.get("stop_snapshot"))
	cp := p.field("components")
	cs, _ := w.optList(cp, o.get("components"))
	if len(cs) > 0 {
		t.Components = make([]Component, 0, len(cs))
	}
	for i, raw := range cs {
		mark := w.mark()
		if co, ok := w.object(cp.at(i), raw); ok {
			t.Components = append(t.Components, f.component(w, cp.at(i), co))
		}
		w.release(mark)
	}
	rp := p.field("relations")
	rs, _ := w.optList(rp, o.get("relations"))
	if len(rs) > 0 {
		t.Relations = make([]Relation, 0, len(rs))
	}
	for i, raw := range rs {
		mark := w.mark()
		if ro, ok := w.object(rp.at(i), raw); ok {
			t.Relations = append(t.Relations, f.relation(w, rp.at(i), ro))
		}
		w.release(mark)
	}
	t.DeleteIDs, _ = w.optStrings(p.field("delete_ids"), o.get("delete_ids"))
	if len(w.errs.Errs)+w.errs.Dropped == before {
		w.checkDuplicates(cp, rp, &t)
		w.out = append(w.out, t)
	}
}

// checkDuplicates warns about an external id that the payload puts again
// for the same source: the store keeps the last description.
func (w *walker) checkDuplicates(cp, rp *path, t *Topology) {
	if w.firstPut == nil {
		w.firstPut = make(map[putKey]putAt, len(t.Components)+len(t.Relations))
	}
	note := func(list *path, i int, k putKey) {
		if first, ok := w.firstPut[k]; ok {
			w.warnf(list.at(i), "external id %q was put already for source %q at %s; the last one is kept",
				k.ext, k.src, first.list.at(first.i))
			return
		}
		w.firstPut[k] = putAt{list, i}
	}
	for i, c := range t.Components {
		note(cp, i, putKey{t.Source, graphstore.KindComponent, c.ExternalID})
	}
	for i, r := range t.Relations {
		note(rp, i, putKey{t.Source, graphstore.KindRelation, r.ExternalID})
	}
}

// putAt is where an element was put: element i of a list. (Rendered only
// when the element is put again.)
type putAt struct {
	list *path
	i    int
}

// putKey is one element of one source.
type putKey struct {
	src  string
	kind graphstore.Kind
	ext  string
}

// source names the source of a topology from its {type, url} instance.
func (w *walker) source(p *path, raw json.RawMessage) string {
	o, ok := w.optObject(p, raw)
	if !ok {
		return ""
	}
	typ, _ := w.optString(p.field("type"), o.get("type"))
	url, _ := w.optString(p.field("url"), o.get("url"))
	if typ == "" && url == "" {
		if w.defaultSource == "" {
			w.failf(p, "no instance {type, url} names the topology's source, and no default source was given")
		}
		return w.defaultSource
	}
	src := typ + ":" + url
	w.checkString(p, src)
	return src
}
