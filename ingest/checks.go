package ingest

import (
	"fmt"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// CheckState is one check state of a health stream, as the check states
// form gives it: to put, or (Delete) to delete.
type CheckState struct {
	Stream string
	ID     string // checkStateId
	Delete bool
	Data   graphstore.CheckData // for a put
}

// StreamSummary is what one Apply did to one health stream.
type StreamSummary struct {
	Stream   string
	Replaced bool // the stream's states were replaced by the ones put
	Put      int  // check states put
	Deleted  int  // check states deleted (given, or not in a snapshot at its stop)
	Expired  int  // REPEAT_STATES check states deleted as not repeated in time
}

func (s StreamSummary) String() string {
	if s.Replaced { // what the replacement deleted, the commit line counts
		out := fmt.Sprintf("%s: replaced by %s", s.Stream, plural(s.Put, "check state"))
		if s.Deleted > 0 {
			out += fmt.Sprintf("; deleted %d more", s.Deleted)
		}
		return out
	}
	out := fmt.Sprintf("%s: put %s; deleted %d", s.Stream, plural(s.Put, "check state"), s.Deleted)
	if s.Expired > 0 {
		out += fmt.Sprintf("; expired %d", s.Expired)
	}
	return out
}

// healthEntryKeys mark a single entry of an intake payload's health list,
// which is not the check states form: its consistency models belong to the
// intake payload's health list (health.go).
var healthEntryKeys = []string{"consistency_model", "stream", "start_snapshot", "stop_snapshot", "expiry", "increment"}

// checkStates decodes the check states form: {"replace_streams": [stream,
// …], "check_states": [{stream, checkStateId, name, health,
// topologyElementIdentifier, message} or {stream, checkStateId, delete:
// true}]}, both optional. It becomes one Topology with no source that
// carries only check states. A replaced stream holds exactly the states the
// document puts for it afterwards (graphstore.Batch.ReplaceStream).
func (w *walker) checkStates(p *path, o object) {
	if hasAny(o, healthEntryKeys) {
		w.failf(p, `looks like one entry of an intake payload's health list (%s); its consistency models apply inside an intake payload: `+
			`send it as {"health": [ … ]}, or load the check states themselves as {"check_states": [{"stream": …, "checkStateId": …, …}]}`,
			keysOf(o, healthEntryKeys))
		return
	}
	before := len(w.errs.Errs) + w.errs.Dropped
	t := Topology{Path: p.String(), CheckStates: []CheckState{}}
	rp := p.field("replace_streams")
	streams, _ := w.optList(rp, o.get("replace_streams"))
	for i, raw := range streams {
		if s, ok := w.reqString(rp.at(i), raw); ok {
			t.ReplaceStreams = append(t.ReplaceStreams, s)
		}
	}
	lp := p.field("check_states")
	l, _ := w.optList(lp, o.get("check_states"))
	for i, raw := range l {
		if co, ok := w.object(lp.at(i), raw); ok {
			t.CheckStates = append(t.CheckStates, w.checkStateOf(lp.at(i), co, nil))
		}
	}
	if len(w.errs.Errs)+w.errs.Dropped == before {
		w.out = append(w.out, t)
	}
}

// checkStateOf decodes one check state, with StackState's field names, of
// stream (read from the state's own "stream" when nil). A deletion needs
// only its stream and id ("delete wins over other fields", as in
// StackState's transactional increments).
func (w *walker) checkStateOf(p *path, o object, stream *string) CheckState {
	var c CheckState
	if stream != nil {
		c.Stream = *stream
	} else {
		c.Stream, _ = w.reqString(p.field("stream"), o.get("stream"))
	}
	c.ID, _ = w.reqString(p.field("checkStateId"), o.get("checkStateId"))
	if c.Delete = w.optBool(p.field("delete"), o.get("delete")); c.Delete {
		return c
	}
	c.Data.Name, _ = w.reqString(p.field("name"), o.get("name"))
	c.Data.Identifier, _ = w.reqString(p.field("topologyElementIdentifier"), o.get("topologyElementIdentifier"))
	hp := p.field("health")
	if h, ok := w.reqString(hp, o.get("health")); ok {
		state, err := graphstore.ParseHealthState(h)
		if err != nil {
			w.failf(hp, "%q is not a health state; want CLEAR, DEVIATING, CRITICAL or UNKNOWN, in any case", h)
		}
		c.Data.State = state
	}
	c.Data.Message = w.message(p.field("message"), o.get("message"))
	return c
}

// message decodes a check state's optional markdown message, bounded by
// graphstore.MaxMessageBytes.
func (w *walker) message(p *path, raw []byte) string {
	if absent(raw) {
		return ""
	}
	if kindOf(raw) != '"' {
		w.wrongType(p, "a string", raw)
		return ""
	}
	s := unquote(raw)
	if len(s) > graphstore.MaxMessageBytes {
		w.failf(p, "message is %d bytes long; the limit is %d", len(s), graphstore.MaxMessageBytes)
		return ""
	}
	return s
}

// checkStates adds a topology's check states to the batch: a health
// entry's snapshot start, the replacements, the puts and deletes (with
// their deadlines and the open snapshot's record of them), then the
// snapshot's stop.
func (r *run) checkStates(t *Topology) error {
	h := t.Health
	r.healthStart(h)
	for _, s := range t.ReplaceStreams {
		r.batch.ReplaceStream(s)
		r.streamSummary(s).Replaced = true
	}
	for _, c := range t.CheckStates {
		sum, k := r.streamSummary(c.Stream), checkKey{stream: c.Stream, id: c.ID}
		if c.Delete {
			r.batch.DeleteCheck(c.Stream, c.ID)
			r.hput[k] = false
			r.clearDeadline(k)
			sum.Deleted++
			continue
		}
		r.batch.PutCheck(c.Stream, c.ID, c.Data)
		r.hput[k] = true
		r.healthPut(h, c.ID)
		r.setDeadline(h, k)
		sum.Put++
	}
	return r.healthStop(h)
}

// streamSummary returns the current item's summary of a stream.
func (r *run) streamSummary(stream string) *StreamSummary {
	sum, ok := r.streams[stream]
	if !ok {
		sum = &StreamSummary{Stream: stream}
		r.streams[stream] = sum
	}
	return sum
}

func compareStreams(a, b StreamSummary) int { return strings.Compare(a.Stream, b.Stream) }
