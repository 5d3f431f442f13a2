package ingest

import (
	"fmt"
	"slices"
	"strings"
)

// The health list of an intake payload (docs/ingest-formats.md §6): each
// entry is one stream's check states under a consistency model, and
// becomes one Topology of check states, applied in the same batch as the
// payload's topologies.
//
//   - REPEAT_SNAPSHOTS (also when consistency_model is absent, as agents
//     send it): an entry with start_snapshot and stop_snapshot is a whole
//     snapshot: the stream is replaced by its check states
//     (graphstore.Batch.ReplaceStream), so states it no longer holds go.
//     An entry with only one of them, or neither, is part of a snapshot
//     spread over payloads: its states are put, and nothing is removed
//     (a warning says so), because this build does not keep a snapshot
//     open across payloads.
//   - TRANSACTIONAL_INCREMENTS: states put, and deleted with "delete":
//     true. The increment's checkpoints are not checked.
//   - REPEAT_STATES: states put. Their expiry is not enforced: a state
//     that is not repeated stays until it is put again or its stream is
//     replaced.
//
// The stream is stream.urn, with "#<sub_stream_id>" when it has one.

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
	if m, _ := w.optString(mp, o["consistency_model"]); m != "" {
		model = strings.ToUpper(m)
		if !slices.Contains(consistencyModels, model) {
			w.failf(mp, "%q is not a consistency model; want %s", m, strings.Join(consistencyModels, ", "))
		}
	}
	stream := w.healthStream(p.field("stream"), o["stream"])
	t := Topology{Path: p.String(), CheckStates: []CheckState{}}
	start, stop := given(o["start_snapshot"]), given(o["stop_snapshot"])
	if model == "REPEAT_SNAPSHOTS" {
		for _, k := range []string{"start_snapshot", "stop_snapshot"} {
			if given(o[k]) {
				w.object(p.field(k), o[k])
			}
		}
		if start && stop {
			t.ReplaceStreams = []string{stream}
		} else {
			w.warnf(p, "a snapshot of stream %q spread over several payloads (start_snapshot %v, stop_snapshot %v): "+
				"its check states are put, but states it no longer holds are not removed; send the snapshot in one entry", stream, start, stop)
		}
	}
	lp := p.field("check_states")
	states, _ := w.optList(lp, o["check_states"])
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
	urn, _ := w.reqString(p.field("urn"), o["urn"])
	key := "sub_stream_id"
	if absent(o[key]) {
		key = "sub_stream"
	}
	if sub, _ := w.optString(p.field(key), o[key]); sub != "" {
		return fmt.Sprintf("%s#%s", urn, sub)
	}
	return urn
}
