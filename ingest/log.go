package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// DataKind is what a record carries. The Kafka mode has one topic per kind.
type DataKind string

// The kinds of data a record carries. Topology records carry a payload's
// health check states too (in the same commit as its topology).
const (
	KindTopology DataKind = "topology"
	KindMetrics  DataKind = "metrics"
	KindEvents   DataKind = "events"
	KindTraces   DataKind = "traces" // spans
)

// Record is one validated payload of one kind, as a receiver appends it to
// the log: already decoded and checked, so that applying it can fail only
// for reasons of state (a stop_snapshot with no open snapshot) or of the
// store, never of form. A Record is not modified once appended. Only the
// field of its kind is set.
type Record struct {
	Kind DataKind `json:"kind"`
	// Key names the source instance ("agent:integrations"; the first
	// topology's source): the records of one key stay in order, and the
	// Kafka mode partitions by it.
	Key string `json:"key"`
	// Received is when the record entered the log (set by Append when
	// zero): the time of its health expiry (expiry.go), the same on every
	// replica.
	Received   time.Time  `json:"received,omitzero"`
	Topologies []Topology `json:"topologies,omitempty"`
	// Metrics, Events and Spans are the data of a metrics, events or
	// traces record (datalog.go).
	Metrics []telemetry.SeriesSamples `json:"-"` // as wireSeries: JSON has no NaN
	Events  []telemetry.Event         `json:"events,omitempty"`
	Spans   []traces.Span             `json:"spans,omitempty"`
}

// Elements counts the components, relations and delete_ids of a record, or
// its samples, events or spans: the unit of the queue's and the group
// commit's bounds.
func (r *Record) Elements() int {
	if r == nil {
		return 0
	}
	n := len(r.Events) + len(r.Spans)
	for i := range r.Metrics {
		n += len(r.Metrics[i].Samples)
	}
	for i := range r.Topologies {
		t := &r.Topologies[i]
		n += len(t.Components) + len(t.Relations) + len(t.DeleteIDs)
	}
	return n
}

// wireRecord is a Record as MarshalBinary writes it.
type wireRecord struct {
	*Record
	Metrics []wireSeries `json:"metrics,omitempty"`
}

// MarshalBinary encodes a record for a log that stores bytes (Kafka), as
// JSON (a record can be read with any Kafka tool).
func (r *Record) MarshalBinary() ([]byte, error) {
	return json.Marshal(wireRecord{Record: r, Metrics: toWire(r.Metrics)})
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (r *Record) UnmarshalBinary(b []byte) error {
	w := wireRecord{Record: r}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("ingest: decoding a log record: %w", err)
	}
	var err error
	if r.Metrics, err = fromWire(w.Metrics); err != nil {
		return err
	}
	for i := range r.Events {
		r.Events[i].Data = absentNull(r.Events[i].Data)
	}
	// encoding/json writes absent properties (nil) as null, and reads
	// null back as the bytes "null", which the store refuses: absent
	// again.
	for i := range r.Topologies {
		t := &r.Topologies[i]
		for j := range t.Components {
			t.Components[j].Data.Properties = absentNull(t.Components[j].Data.Properties)
		}
		for j := range t.Relations {
			t.Relations[j].Data.Properties = absentNull(t.Relations[j].Data.Properties)
		}
	}
	return nil
}

func absentNull(m json.RawMessage) json.RawMessage {
	if string(m) == "null" {
		return nil
	}
	return m
}

// NewTickRecord returns a topology record that carries nothing but its
// time: it moves its clock (its partition's, in the Kafka mode), so that
// REPEAT_STATES check states expire while no sender writes (expiry.go).
func NewTickRecord(t time.Time) *Record {
	return &Record{Kind: KindTopology, Received: t}
}

// Stamp sets a record's Received time when it has none.
func (r *Record) Stamp(now time.Time) {
	if r.Received.IsZero() {
		r.Received = now
	}
}

// NewTopologyRecord returns the record of a payload's topologies.
func NewTopologyRecord(topos []Topology) *Record {
	key := ""
	if len(topos) > 0 {
		key = topos[0].Source
	}
	return &Record{Kind: KindTopology, Key: key, Topologies: topos}
}

// Log is where receivers append validated records. Append returns once
// the record is durable, and only then may a receiver acknowledge it (202):
// in the embedded mode (Pipeline) once the processors committed it to the
// store, in the Kafka mode once the broker acknowledged it. Implementations
// are safe for concurrent use; the caller must not modify a record after
// appending it.
type Log interface {
	// Append makes rec durable. The error is a *BusyError when the log is
	// full and the sender should retry later (nothing was taken),
	// ErrClosed when the log is shutting down, an *UnavailableError when
	// it cannot reach its storage (Kafka), a *RefusedError when the
	// record cannot be applied (the embedded mode applies before it
	// answers), or another error of the log or the store.
	Append(ctx context.Context, rec *Record) (*Ack, error)
}

// Ack is what Append says about a durable record.
type Ack struct {
	// Summary is what applying the record did, in the embedded mode; nil
	// in the Kafka mode, where nodes apply it when they consume it.
	Summary *Summary
}

// ErrClosed is returned by a Log that is shutting down.
var ErrClosed = errors.New("ingest: the log is closed")

// ErrBusy is the class of *BusyError; test with errors.Is.
var ErrBusy = errors.New("ingest: busy")

// BusyError says that the log is full: the stores fall behind. Nothing of
// the record was taken; the sender should retry after RetryAfter.
type BusyError struct {
	Queued     int // records waiting
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("ingest: %d payloads are waiting to be written; retry after %s", e.Queued, e.RetryAfter)
}

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// ErrUnavailable is the class of *UnavailableError; test with errors.Is.
var ErrUnavailable = errors.New("ingest: the log is unavailable")

// UnavailableError says that the log cannot make a record durable now (in
// the Kafka mode: the brokers cannot be reached or did not acknowledge).
// The record may or may not have been taken; the sender should retry after
// RetryAfter (a retried topology record is applied idempotently).
type UnavailableError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// RefusedError is a record the processors refused as a whole (a
// stop_snapshot with no open snapshot): a user error; nothing of it was
// applied.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Position is a record's place in a log that has places (a Kafka topic's
// partition and offset). A processor writes it in the same atomic batch as
// the data the record produced, so that after a crash a consumer resumes
// after the last committed record and applies none twice.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
}

// TopologyProcessor applies topology records to the graph store: the one
// writer of the store's topology. It applies a batch of records as one
// group commit (each record whole or not at all), with the records'
// positions in the same atomic batch, and skips records at or before the
// position already committed for their partition, so that replaying a log
// is idempotent. Its open snapshots are durable (OpenApplier). Safe for
// concurrent use; batches are applied one at a time.
type TopologyProcessor struct {
	ap      *Applier
	state   graphstore.StateStore
	mu      sync.Mutex
	offsets map[partitionKey]int64 // committed positions
}

type partitionKey struct {
	topic     string
	partition int
}

// offsetPrefix is where positions live in the store's writer state:
// ingest/offset/<topic>/<partition> → the last committed offset, decimal.
const offsetPrefix = "ingest/offset/"

func offsetKey(k partitionKey) string {
	return offsetPrefix + k.topic + "/" + strconv.Itoa(k.partition)
}

// NewTopologyProcessor returns the processor of st, with the open
// snapshots and committed positions st's writer state holds.
func NewTopologyProcessor(st graphstore.Store) (*TopologyProcessor, error) {
	ap, err := OpenApplier(st)
	if err != nil {
		return nil, err
	}
	p := &TopologyProcessor{ap: ap, state: ap.durable, offsets: map[partitionKey]int64{}}
	err = p.state.ReadState(offsetPrefix, func(key string, v []byte) error {
		rest := strings.TrimPrefix(key, offsetPrefix)
		i := strings.LastIndexByte(rest, '/')
		part, perr := strconv.Atoi(rest[i+1:])
		off, oerr := strconv.ParseInt(string(v), 10, 64)
		if i < 0 || perr != nil || oerr != nil {
			return fmt.Errorf("ingest: log position %q=%q: %w", key, v, graphstore.ErrCorrupt)
		}
		p.offsets[partitionKey{rest[:i], part}] = off
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Clock names the clock of a log partition (expiry.go); the embedded
// mode's is "".
func Clock(topic string, partition int) string { return topic + "/" + strconv.Itoa(partition) }

// Due reports whether a REPEAT_STATES check state of clock has expired by
// now, so that a tick (NewTickRecord) should go to the clock.
func (p *TopologyProcessor) Due(clock string, now time.Time) bool { return p.ap.Due(clock, now) }

// Applier is the processor's applier (its open snapshots).
func (p *TopologyProcessor) Applier() *Applier { return p.ap }

// Committed returns the last committed offset of a partition; ok is false
// when none is.
func (p *TopologyProcessor) Committed(topic string, partition int) (offset int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, ok := p.offsets[partitionKey{topic, partition}]
	return off, ok
}

// Result is what processing one record did: its summary, or why it was
// refused (a *RefusedError), or Skipped for a record at or before its
// partition's committed position.
type Result struct {
	Summary *Summary
	Err     error
	Skipped bool
}

// Process applies records in order as one batch, each whole or not at
// all, stamped at the commit time. positions is nil (the embedded mode) or
// holds each record's position; the highest of each partition is written
// in the same atomic batch. The returned error is one all records share (a
// store error): then nothing was committed, positions included.
func (p *TopologyProcessor) Process(ctx context.Context, recs []*Record, positions []Position) ([]Result, error) {
	if positions != nil && len(positions) != len(recs) {
		return nil, fmt.Errorf("ingest: %d records with %d positions", len(recs), len(positions))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Result, len(recs))
	g := &Group{}
	var idx []int // record of each group item
	high := map[partitionKey]int64{}
	for i, rec := range recs {
		if positions != nil {
			k := partitionKey{positions[i].Topic, positions[i].Partition}
			if off, ok := p.offsets[k]; ok && positions[i].Offset <= off {
				out[i].Skipped = true
				continue
			}
			high[k] = max(high[k], positions[i].Offset)
		}
		it := GroupItem{Topologies: rec.Topologies, Time: rec.Received}
		if positions != nil {
			it.Clock = Clock(positions[i].Topic, positions[i].Partition)
		}
		g.Items = append(g.Items, it)
		idx = append(idx, i)
	}
	for k, off := range high {
		g.State = append(g.State, graphstore.StateOp{Key: offsetKey(k), Value: strconv.AppendInt(nil, off, 10)})
	}
	if len(g.Items) == 0 && len(g.State) == 0 {
		return out, nil
	}
	if err := p.ap.ApplyGroup(ctx, g); err != nil {
		return nil, err
	}
	for j, it := range g.Items {
		r := &out[idx[j]]
		r.Summary = it.Summary
		if it.Err != nil {
			r.Err = &RefusedError{Err: it.Err}
		}
	}
	for k, off := range high {
		p.offsets[k] = off
	}
	return out, nil
}
