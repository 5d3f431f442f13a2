package ingest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// Health snapshots spread over payloads (REPEAT_SNAPSHOTS): the open
// snapshot of a stream, and the check states it has put, are kept like a
// topology's open snapshot, in memory and durably in the store's writer
// state, committed in the same batch as the check states:
//
//	ingest/hsnap/<len(stream)>:<stream>/o        the snapshot is open
//	ingest/hsnap/<len(stream)>:<stream>/s<id>    it has put check state <id>
//
// At stop_snapshot, every check state the stream has (committed, or put
// earlier in the batch) that the snapshot did not put is deleted, in the
// batch that carries the stop.

const hsnapPrefix = "ingest/hsnap/"

func hsnapKey(stream string) string {
	return hsnapPrefix + strconv.Itoa(len(stream)) + ":" + stream + "/"
}

// checkKey names one check state, or (all) a whole stream.
type checkKey struct {
	stream, id string
	all        bool
}

// streamState is a stream's snapshot state during a run, over the
// Applier's committed state, which changes only once the batch commits.
type streamState struct {
	open bool
	base map[string]struct{} // committed ids seen; nil when (re)started in this run
	seen map[string]bool     // this run's changes over base
}

func (s *streamState) isSeen(id string) bool {
	if v, ok := s.seen[id]; ok {
		return v
	}
	_, ok := s.base[id]
	return ok
}

func (r *run) streamState(stream string) *streamState {
	st, ok := r.hstates[stream]
	if !ok {
		base := r.a.hopen[stream]
		st = &streamState{open: base != nil, base: base, seen: map[string]bool{}}
		r.hstates[stream] = st
	}
	return st
}

// streamOpen reports whether a stream's snapshot is open at this point of
// the run.
func (r *run) streamOpen(stream string) bool {
	if st, ok := r.hstates[stream]; ok {
		return st.open
	}
	return r.a.hopen[stream] != nil
}

// healthStart handles a health entry's start_snapshot: a snapshot opens
// (a second start forgets what the first saw).
func (r *run) healthStart(h *HealthEntry) {
	if h == nil || !h.Start {
		return
	}
	st := r.streamState(h.Stream)
	st.open, st.base, st.seen = true, nil, map[string]bool{}
	r.setDeadline(h, streamKey(h.Stream))
}

// healthPut records a check state put for the stream's open snapshot.
func (r *run) healthPut(h *HealthEntry, id string) {
	if h == nil || h.Model != "REPEAT_SNAPSHOTS" {
		return
	}
	if st := r.streamState(h.Stream); st.open {
		st.seen[id] = true
	}
}

// healthStop ends a stream's snapshot at its stop_snapshot: an entry with
// both start and stop replaced the stream already (ReplaceStream); one
// with the stop alone deletes every state the snapshot did not put.
func (r *run) healthStop(h *HealthEntry) error {
	if h == nil || !h.Stop {
		return nil
	}
	st := r.streamState(h.Stream)
	if !h.Start {
		n, err := r.deleteUnseen(h.Stream, st)
		if err != nil {
			return err
		}
		r.streamSummary(h.Stream).Deleted += n
	}
	st.open, st.base, st.seen = false, nil, map[string]bool{}
	return nil
}

// deleteUnseen deletes the check states of a stream its snapshot did not
// put, and returns how many.
func (r *run) deleteUnseen(stream string, st *streamState) (int, error) {
	sn, err := r.snapshot()
	if err != nil {
		return 0, err
	}
	checks, err := graphstore.StreamChecks(sn, stream)
	if err != nil {
		return 0, err
	}
	have := map[string]bool{}
	for _, c := range checks {
		have[c.CheckID] = true
	}
	for k, put := range r.hput {
		if k.stream == stream {
			have[k.id] = put
		}
	}
	n := 0
	for id, present := range have {
		if !present || st.isSeen(id) {
			continue
		}
		r.batch.DeleteCheck(stream, id)
		r.hput[checkKey{stream: stream, id: id}] = false
		r.clearDeadline(checkKey{stream: stream, id: id})
		n++
	}
	return n, nil
}

// expireStream deletes every check state of a REPEAT_SNAPSHOTS stream no
// snapshot of which started in time, and drops its open snapshot.
func (r *run) expireStream(stream string) error {
	st := r.streamState(stream)
	st.open, st.base, st.seen = false, nil, map[string]bool{}
	n, err := r.deleteUnseen(stream, st)
	r.streamSummary(stream).Expired += n
	return err
}

// healthStateOps returns the writer state operations that record the
// run's health snapshot changes.
func (r *run) healthStateOps(b *graphstore.Batch) {
	for stream, st := range r.hstates {
		_, wasOpen := r.a.hopen[stream]
		if wasOpen && (!st.open || st.base == nil) {
			b.DeleteStatePrefix(hsnapKey(stream))
		}
		if !st.open {
			continue
		}
		if st.base == nil {
			b.SetState(hsnapKey(stream)+"o", nil)
		}
		for id, v := range st.seen {
			switch {
			case v:
				b.SetState(hsnapKey(stream)+"s"+id, nil)
			case st.base != nil:
				b.DeleteState(hsnapKey(stream) + "s" + id)
			}
		}
	}
}

// commitHealthState makes the run's health snapshot state the Applier's.
func (r *run) commitHealthState() {
	for stream, st := range r.hstates {
		switch {
		case !st.open:
			delete(r.a.hopen, stream)
		case st.base == nil:
			m := map[string]struct{}{}
			for id, v := range st.seen {
				if v {
					m[id] = struct{}{}
				}
			}
			r.a.hopen[stream] = m
		default:
			for id, v := range st.seen {
				if v {
					st.base[id] = struct{}{}
				} else {
					delete(st.base, id)
				}
			}
		}
	}
}

// loadHealthSnapshots reads the open health snapshots from the writer
// state.
func (a *Applier) loadHealthSnapshots() error {
	return a.durable.ReadState(hsnapPrefix, func(key string, _ []byte) error {
		stream, rest, err := parseLenKey(key, hsnapPrefix)
		if err != nil {
			return err
		}
		seen := a.hopen[stream]
		if seen == nil {
			seen = map[string]struct{}{}
			a.hopen[stream] = seen
		}
		switch {
		case rest == "o":
		case strings.HasPrefix(rest, "s"):
			seen[rest[1:]] = struct{}{}
		default:
			return fmt.Errorf("ingest: health snapshot state key %q: %w", key, graphstore.ErrCorrupt)
		}
		return nil
	})
}
