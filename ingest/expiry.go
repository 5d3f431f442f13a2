package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// REPEAT_STATES expiry. A check state put by a REPEAT_STATES entry with an
// expiry gets a deadline: the time its record was received (Record.
// Received, set once where it enters the log) plus the expiry. A state put
// again gets a new deadline; a state put otherwise or deleted has none.
//
// Time in a log is the log's, never a replica's clock: every record has a
// clock, its partition ("<topic>/<partition>" in the Kafka mode; "" in the
// embedded mode, whose one writer sees everything in order), and a state's
// deadline is kept with the clock of the record that put it. Before each
// record is applied, the states of its clock whose deadline is at or before
// its received time are deleted, in its batch: a versioned deletion, so
// healthstate at earlier times still sees them. A log whose senders went
// quiet still moves: a tick (NewTickRecord) is appended to a clock when a
// deadline of it has passed (the embedded writer's ticker; each Kafka node
// for each topology partition, addressed to that partition). So every
// replica deletes an expired state at the same place of its partition's
// sequence of records, whatever the batches and the interleaving of
// partitions, and the deletion's version is the commit that applies the
// first record (or tick) of the clock past the deadline: within a tick
// interval of it.
//
// A REPEAT_SNAPSHOTS start_snapshot with an expiry gives its stream a
// deadline alike (streamKey), renewed by the next start: when it passes,
// every state of the stream is deleted and its open snapshot dropped.
//
// Deadlines are kept in memory and durably in the writer state:
//
//	ingest/hexp/<len(stream)>:<stream>/c<id>   → "<deadline, epoch ms> <clock>"
//	ingest/hexp/<len(stream)>:<stream>/s       the stream's (REPEAT_SNAPSHOTS)

const hexpPrefix = "ingest/hexp/"

func hexpKey(k checkKey) string {
	key := hexpPrefix + strconv.Itoa(len(k.stream)) + ":" + k.stream + "/"
	if k.all {
		return key + "s"
	}
	return key + "c" + k.id
}

// streamKey is the key of a REPEAT_SNAPSHOTS stream's deadline, which
// expires all its states.
func streamKey(stream string) checkKey { return checkKey{stream: stream, all: true} }

// deadline is when a check state (or a stream) expires, on which clock.
type deadline struct {
	clock string
	at    int64 // epoch ms
}

// setDeadline gives a check state put by a REPEAT_STATES entry (or the
// stream of a REPEAT_SNAPSHOTS start, streamKey) its deadline, or takes it
// away.
func (r *run) setDeadline(h *HealthEntry, k checkKey) {
	if h == nil || (h.Model != "REPEAT_STATES" && !k.all) || h.Expiry <= 0 {
		r.clearDeadline(k)
		return
	}
	r.exp[k] = &deadline{clock: r.clock, at: r.now.Add(h.Expiry).UnixMilli()}
}

// clearDeadline takes a check state's deadline away, if it has one.
func (r *run) clearDeadline(k checkKey) {
	if _, ok := r.a.exp[k]; ok {
		r.exp[k] = nil
		return
	}
	delete(r.exp, k)
}

// expire deletes the check states (and the streams' states) of the
// current record's clock whose deadline is at or before its time
// (Applier.mu held).
func (r *run) expire() error {
	now := r.now.UnixMilli()
	if !r.a.dueLocked(r.clock, now) && !r.dueInRun(now) {
		return nil
	}
	var due []checkKey
	for k, d := range r.a.exp {
		if _, over := r.exp[k]; !over && d.clock == r.clock && d.at <= now {
			due = append(due, k)
		}
	}
	for k, d := range r.exp {
		if d != nil && d.clock == r.clock && d.at <= now {
			due = append(due, k)
		}
	}
	for _, k := range due {
		r.clearDeadline(k)
		if k.all {
			if err := r.expireStream(k.stream); err != nil {
				return err
			}
			continue
		}
		r.batch.DeleteCheck(k.stream, k.id)
		r.hput[k] = false
		r.streamSummary(k.stream).Expired++
	}
	return nil
}

func (r *run) dueInRun(now int64) bool {
	for _, d := range r.exp {
		if d != nil && d.clock == r.clock && d.at <= now {
			return true
		}
	}
	return false
}

// dueLocked reports whether a committed deadline of clock is at or before
// now (Applier.mu held).
func (a *Applier) dueLocked(clock string, now int64) bool {
	m, ok := a.expMin[clock]
	return ok && m <= now
}

// Due reports whether a check state of clock ("" in the embedded mode)
// has expired by now: then a tick should be appended to the clock.
func (a *Applier) Due(clock string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dueLocked(clock, now.UnixMilli())
}

// expiryStateOps adds the writer state operations of the run's deadline
// changes.
func (r *run) expiryStateOps(b *graphstore.Batch) {
	for k, d := range r.exp {
		if d == nil {
			b.DeleteState(hexpKey(k))
			continue
		}
		b.SetState(hexpKey(k), []byte(strconv.FormatInt(d.at, 10)+" "+d.clock))
	}
}

// commitExpiry makes the run's deadlines the Applier's.
func (r *run) commitExpiry() {
	if len(r.exp) == 0 {
		return
	}
	for k, d := range r.exp {
		if d == nil {
			delete(r.a.exp, k)
		} else {
			r.a.exp[k] = *d
		}
	}
	r.a.indexDeadlines()
}

// indexDeadlines recomputes the earliest deadline of each clock.
func (a *Applier) indexDeadlines() {
	clear(a.expMin)
	for _, d := range a.exp {
		if m, ok := a.expMin[d.clock]; !ok || d.at < m {
			a.expMin[d.clock] = d.at
		}
	}
}

// loadDeadlines reads the deadlines from the writer state.
func (a *Applier) loadDeadlines() error {
	err := a.durable.ReadState(hexpPrefix, func(key string, v []byte) error {
		stream, rest, err := parseLenKey(key, hexpPrefix)
		at, clock, ok := strings.Cut(string(v), " ")
		ms, perr := strconv.ParseInt(at, 10, 64)
		k := checkKey{stream: stream, all: rest == "s"}
		if id, isCheck := strings.CutPrefix(rest, "c"); isCheck {
			k.id = id
		}
		if err != nil || !ok || perr != nil || (!k.all && !strings.HasPrefix(rest, "c")) {
			return fmt.Errorf("ingest: expiry state %q=%q: %w", key, v, graphstore.ErrCorrupt)
		}
		a.exp[k] = deadline{clock: clock, at: ms}
		return nil
	})
	a.indexDeadlines()
	return err
}
