package ingest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The health list of an intake payload (docs/ingest-formats.md §6): each
// entry is one stream's check states under a consistency model, and
// becomes one Topology of check states (with its HealthEntry), applied in
// the same batch as the payload's topologies.
//
//   - REPEAT_SNAPSHOTS (also when consistency_model is absent, as agents
//     send it): an entry with start_snapshot and stop_snapshot is a whole
//     snapshot: the stream is replaced by its check states
//     (graphstore.Batch.ReplaceStream), so states it no longer holds go.
//     A snapshot spread over payloads (start_snapshot in one entry,
//     stop_snapshot in a later one, entries with neither between) is kept
//     open durably in the store's writer state, as a topology snapshot is
//     (healthsnap.go): its states are put as they come, and at
//     stop_snapshot every state of the stream the snapshot did not put is
//     deleted, in the batch that carries the stop. A stop_snapshot with no
//     snapshot open for its stream refuses the payload, as a topology's
//     does; an entry with neither while none is open just puts its states.
//     With start_snapshot.expiry_interval_s above 0, the stream's states
//     are all deleted (and its open snapshot dropped) when no snapshot
//     starts within that many seconds of the last start (expiry.go).
//   - TRANSACTIONAL_INCREMENTS: states put, and deleted with "delete":
//     true. The increment's checkpoints are not checked.
//   - REPEAT_STATES: states put; with expiry.expiry_interval_s above 0, a
//     state that is not put again within that many seconds is deleted
//     (expiry.go): a versioned deletion, so healthstate at earlier times
//     still sees it.
//
// The stream is stream.urn, with "#<sub_stream_id>" when it has one.

// HealthEntry is what an entry of an intake payload's health list asks
// of its stream beyond its check states.
type HealthEntry struct {
	Stream string
	Model  string // REPEAT_SNAPSHOTS, REPEAT_STATES or TRANSACTIONAL_INCREMENTS
	// Start and Stop are the snapshot's start and stop (REPEAT_SNAPSHOTS).
	Start, Stop bool
	// Expiry is how long a REPEAT_STATES state lives unless put again
	// (expiry.expiry_interval_s), or a REPEAT_SNAPSHOTS stream's states
	// unless a snapshot starts again (start_snapshot.expiry_interval_s);
	// 0: for ever.
	Expiry time.Duration
}

var consistencyModels = []string{"REPEAT_SNAPSHOTS", "REPEAT_STATES", "TRANSACTIONAL_INCREMENTS"}

// intakeHealth decodes an intake payload's health list.
func (w *walker) intakeHealth(p *path, raw []byte) {
	hp := p.field("health")
	l, _ := w.optList(hp, raw)
	for i, e := range l {
		if o, ok := w.object(hp.at(i), e); ok {
			w.healthEntry(hp.at(i), o)
		}
	}
}

// healthEntry decodes one entry of the health list.
func (w *walker) healthEntry(p *path, o object) {
	before := len(w.errs.Errs) + w.errs.Dropped
	model := "REPEAT_SNAPSHOTS"
	mp := p.field("consistency_model")
	if m, _ := w.optString(mp, o.get("consistency_model")); m != "" {
		model = strings.ToUpper(m)
		if !slices.Contains(consistencyModels, model) {
			w.failf(mp, "%q is not a consistency model; want %s", m, strings.Join(consistencyModels, ", "))
		}
	}
	stream := w.healthStream(p.field("stream"), o.get("stream"))
	h := &HealthEntry{Stream: stream, Model: model}
	t := Topology{Path: p.String(), CheckStates: []CheckState{}, Health: h}
	switch model {
	case "REPEAT_SNAPSHOTS":
		for _, k := range []string{"start_snapshot", "stop_snapshot"} {
			if given(o.get(k)) {
				w.object(p.field(k), o.get(k))
			}
		}
		h.Start, h.Stop = given(o.get("start_snapshot")), given(o.get("stop_snapshot"))
		if h.Start {
			h.Expiry = w.expiry(p.field("start_snapshot"), o.get("start_snapshot"))
		}
		if h.Start && h.Stop {
			t.ReplaceStreams = []string{stream}
		}
	case "REPEAT_STATES":
		h.Expiry = w.expiry(p.field("expiry"), o.get("expiry"))
	}
	lp := p.field("check_states")
	states, _ := w.optList(lp, o.get("check_states"))
	for i, raw := range states {
		if co, ok := w.object(lp.at(i), raw); ok {
			c := w.checkStateOf(lp.at(i), co, &stream)
			if c.Delete && model != "TRANSACTIONAL_INCREMENTS" {
				w.failf(lp.at(i).field("delete"), "a check state is deleted only under TRANSACTIONAL_INCREMENTS; this entry's model is %s", model)
			}
			t.CheckStates = append(t.CheckStates, c)
		}
	}
	if len(w.errs.Errs)+w.errs.Dropped == before {
		w.out = append(w.out, t)
	}
}

// maxExpiry bounds expiry_interval_s: a year.
const maxExpiry = 365 * 24 * time.Hour

// expiry decodes a REPEAT_STATES entry's expiry or a REPEAT_SNAPSHOTS
// entry's start_snapshot, {"repeat_interval_s", "expiry_interval_s"},
// into the expiry (0: none).
func (w *walker) expiry(p *path, raw []byte) time.Duration {
	if absent(raw) {
		return 0
	}
	o, ok := w.object(p, raw)
	if !ok {
		return 0
	}
	w.optNumber(p.field("repeat_interval_s"), o.get("repeat_interval_s")) // only checked: Tetra does not need it
	ep := p.field("expiry_interval_s")
	s, ok := w.optNumber(ep, o.get("expiry_interval_s"))
	switch {
	case !ok:
		return 0
	case s < 0 || s > maxExpiry.Seconds():
		w.failf(ep, "%v seconds is not an expiry; want 0 (none) up to %d", s, int(maxExpiry.Seconds()))
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// given reports whether an object member is there and not null (an empty
// object, as agents send stop_snapshot, counts).
func given(raw []byte) bool { return raw != nil && kindOf(raw) != 'n' }

// healthStream decodes {"urn": …, "sub_stream_id": …} ("sub_stream" as
// the Python checks send it) into the stream's name.
func (w *walker) healthStream(p *path, raw []byte) string {
	o, ok := w.object(p, raw)
	if !ok {
		return ""
	}
	urn, _ := w.reqString(p.field("urn"), o.get("urn"))
	key := "sub_stream_id"
	if absent(o.get(key)) {
		key = "sub_stream"
	}
	if sub, _ := w.optString(p.field(key), o.get(key)); sub != "" {
		return fmt.Sprintf("%s#%s", urn, sub)
	}
	return urn
}
