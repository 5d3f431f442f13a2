package tracepebble

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// plan is how a search finds its candidate spans, day by day.
type plan struct {
	kind     planKind
	terms    []string // planTerms: index terms, any of which
	services []string // planService
	minDur   int64    // planService: duration bounds, both included
	maxDur   int64
	traceIDs []string // planTrace
	how      string
}

type planKind int

const (
	planScan planKind = iota
	planTerms
	planService
	planTrace
)

// choose picks the most selective access path the filter allows: the
// trace ids it names; a service with a duration bound (the service and
// duration index); the FOR clause's identifiers; an equality on an indexed
// field (coarse ones — status, kind — last); else a scan by time.
func choose(q *traces.TraceQuery) plan {
	ms := telemetry.Terms(q.Filter)
	for _, m := range ms {
		if m.Field == "trace_id" {
			return plan{kind: planTrace, traceIDs: m.Values, how: "trace ids " + telemetry.String(m)}
		}
	}
	lo, hi := durationBounds(q.Filter)
	for _, m := range ms {
		if m.Field == "service" && (lo > 0 || hi < math.MaxInt64) {
			return plan{kind: planService, services: m.Values, minDur: lo, maxDur: hi,
				how: fmt.Sprintf("service and duration: %s, duration in [%d, %d] ns", telemetry.String(m), lo, hi)}
		}
	}
	if q.Identifiers != nil {
		terms := make([]string, len(q.Identifiers))
		for i, id := range q.Identifiers {
			terms[i] = "i" + id
		}
		return plan{kind: planTerms, terms: terms, how: fmt.Sprintf("identifiers (%d)", len(q.Identifiers))}
	}
	slices.SortStableFunc(ms, func(a, b *telemetry.Match) int { return cmp.Compare(coarse(a.Field), coarse(b.Field)) })
	for _, m := range ms {
		var terms []string
		for _, v := range m.Values {
			if t := termOf(m.Field, v); t != "" {
				terms = append(terms, t)
			}
		}
		if len(terms) == len(m.Values) && len(terms) > 0 {
			return plan{kind: planTerms, terms: terms, how: "term " + telemetry.String(m)}
		}
	}
	return plan{kind: planScan, how: "scan by start time"}
}

func coarse(field string) int {
	if field == "status" || field == "kind" {
		return 1
	}
	return 0
}

// durationBounds returns the duration range the filter's top-level
// conjunction requires (0 and MaxInt64 when it says nothing).
func durationBounds(e telemetry.Expr) (int64, int64) {
	lo, hi := int64(0), int64(math.MaxInt64)
	var visit func(telemetry.Expr)
	visit = func(e telemetry.Expr) {
		switch e := e.(type) {
		case *telemetry.And:
			for _, x := range e.Xs {
				visit(x)
			}
		case *telemetry.Compare:
			if e.Field != "duration" {
				return
			}
			switch e.Op {
			case telemetry.Gt:
				lo = max(lo, int64(math.Floor(e.Value))+1)
			case telemetry.Ge:
				lo = max(lo, int64(math.Ceil(e.Value)))
			case telemetry.Lt:
				hi = min(hi, int64(math.Ceil(e.Value))-1)
			case telemetry.Le:
				hi = min(hi, int64(math.Floor(e.Value)))
			}
		}
	}
	visit(e)
	return lo, hi
}

// ExplainTraces describes the access path and the ordering.
func (s *Store) ExplainTraces(q traces.TraceQuery) string {
	p := choose(&q)
	var b strings.Builder
	fmt.Fprintf(&b, "pebble span index: %s, day by day, newest first\n", p.how)
	if q.Filter != nil {
		fmt.Fprintf(&b, "filter spans: %s\n", telemetry.String(q.Filter))
	}
	o := orderOf(q)
	dir := "ASC"
	if o.Desc {
		dir = "DESC"
	}
	fmt.Fprintf(&b, "summarise matching traces (spans within a day of the match), order by %s %s", cmp.Or(o.Field, "start"), dir)
	if q.Limit > 0 {
		fmt.Fprintf(&b, ", first %d", q.Limit)
		if isDefault(o) {
			b.WriteString(" (stops once no older span can start a newer trace)")
		}
	}
	b.WriteByte('\n')
	return b.String()
}

func orderOf(q traces.TraceQuery) traces.Order {
	if q.Order.Field == "" && !q.Order.Desc {
		return traces.DefaultOrder
	}
	return q.Order
}

func isDefault(o traces.Order) bool { return (o.Field == "" || o.Field == "start") && o.Desc }

// SearchTraces runs a search; the traces are computed when it is opened.
func (s *Store) SearchTraces(ctx context.Context, q traces.TraceQuery) (traces.TraceIterator, error) {
	if q.End < q.Start {
		return nil, fmt.Errorf("tracepebble: %w: the range ends before it starts", traces.ErrInvalid)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	sr := &search{ctx: ctx, snap: snap, q: q, order: orderOf(q), plan: choose(&q), found: map[string]*traces.Trace{}}
	if q.Identifiers != nil {
		sr.allowed = map[string]bool{}
		for _, id := range q.Identifiers {
			sr.allowed[id] = true
		}
	}
	var err error
	if sr.records, err = snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagSpan}, UpperBound: []byte{tagSpan + 1}}); err != nil {
		return nil, err
	}
	defer sr.records.Close()
	if err := sr.run(); err != nil {
		return nil, err
	}
	return telemetry.NewSliceIter(sr.result()), nil
}

// search is the state of one search.
type search struct {
	ctx     context.Context
	snap    *pebble.Snapshot
	q       traces.TraceQuery
	order   traces.Order
	plan    plan
	allowed map[string]bool
	records *pebble.Iterator
	found   map[string]*traces.Trace
	starts  []int64 // the start of every found trace, for the stop rule
	steps   int
}

// run visits the candidates day by day, newest first.
func (sr *search) run() error {
	for day := dayOf(sr.q.End); day >= dayOf(sr.q.Start); day-- {
		src, err := sr.source(day)
		if err != nil {
			return err
		}
		stop, err := sr.visit(src)
		if cerr := src.close(); err == nil {
			err = cerr
		}
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// visit processes one day's candidates; stop is true once the default
// order has its traces: with Limit traces found and the cursor older than
// the Limit-th newest trace start, no later candidate can belong to a trace
// that would be in the result (a trace starts no later than its spans).
func (sr *search) visit(src refSource) (bool, error) {
	for {
		r, ok, err := src.next()
		if err != nil || !ok {
			return false, err
		}
		if sr.steps++; sr.steps&255 == 0 {
			if err := sr.ctx.Err(); err != nil {
				return false, err
			}
		}
		if sr.q.Limit > 0 && isDefault(sr.order) && len(sr.starts) >= sr.q.Limit && r.start < sr.kth() {
			return true, nil
		}
		if err := sr.consider(r); err != nil {
			return false, err
		}
	}
}

// kth is the Limit-th newest start among the found traces.
func (sr *search) kth() int64 {
	slices.SortFunc(sr.starts, func(a, b int64) int { return cmp.Compare(b, a) })
	sr.starts = sr.starts[:sr.q.Limit]
	return sr.starts[sr.q.Limit-1]
}

// consider loads a candidate span and, when it matches, adds it to its
// trace, summarising the trace the first time.
func (sr *search) consider(r ref) error {
	if r.start < sr.q.Start || r.start > sr.q.End {
		return nil
	}
	key := spanKey(dayOf(r.start), r.tid, r.sid)
	if !sr.records.SeekGE(key) || !bytes.Equal(sr.records.Key(), key) {
		return cmp.Or(sr.records.Error(), fmt.Errorf("tracepebble: span %s/%s is indexed but not stored", r.tid, r.sid))
	}
	v, err := sr.records.ValueAndErr()
	if err != nil {
		return err
	}
	sp, err := decodeSpan(v)
	if err != nil {
		return fmt.Errorf("tracepebble: span record %x: %w", key, err)
	}
	if sr.allowed != nil && !slices.ContainsFunc(sp.Identifiers, func(s string) bool { return sr.allowed[s] }) {
		return nil
	}
	if !telemetry.Eval(sr.q.Filter, sp.Fields()) {
		return nil
	}
	t := sr.found[sp.TraceID]
	if t == nil {
		if sr.q.MaxTraces > 0 && len(sr.found) >= sr.q.MaxTraces {
			return &traces.TooManyError{Limit: sr.q.MaxTraces}
		}
		spans, err := traceSpans(sr.records, sp.TraceID, sp.Start-dayNs, sp.Start+dayNs)
		if err != nil {
			return err
		}
		sum := traces.Summarize(spans)
		t = &sum
		sr.found[sp.TraceID] = t
		sr.starts = append(sr.starts, t.Start)
	}
	t.Matched = append(t.Matched, sp)
	return nil
}

// result orders the found traces and applies the limit.
func (sr *search) result() []traces.Trace {
	out := make([]traces.Trace, 0, len(sr.found))
	for _, t := range sr.found {
		slices.SortFunc(t.Matched, func(a, b traces.Span) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), strings.Compare(a.SpanID, b.SpanID))
		})
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b traces.Trace) int { return sr.order.Compare(&a, &b) })
	if sr.q.Limit > 0 && len(out) > sr.q.Limit {
		out = out[:sr.q.Limit]
	}
	return out
}

// refSource yields one day's candidate spans, newest first.
type refSource interface {
	next() (ref, bool, error)
	close() error
}

// source opens the day's candidates for the plan: a backwards walk of
// one index range when it is already in start order, else the gathered
// and sorted entries of several ranges.
func (sr *search) source(day int64) (refSource, error) {
	lo, hi := sr.q.Start, sr.q.End
	switch sr.plan.kind {
	case planScan:
		return sr.backwards(dayPrefix(tagTime, day), lo, hi)
	case planTerms:
		if len(sr.plan.terms) == 1 {
			return sr.backwards(termPrefix(day, sr.plan.terms[0]), lo, hi)
		}
		var all []ref
		for _, t := range sr.plan.terms {
			refs, err := sr.collect(termPrefix(day, t), lo, hi)
			if err != nil {
				return nil, err
			}
			all = append(all, refs...)
		}
		return sorted(all), nil
	case planService:
		return sr.services(day)
	default:
		var all []ref
		for _, tid := range sr.plan.traceIDs {
			refs, err := sr.traceRefs(day, tid)
			if err != nil {
				return nil, err
			}
			all = append(all, refs...)
		}
		return sorted(all), nil
	}
}

// backwards walks entries prefix+start(8)+ids with start in [lo, hi]
// from the newest.
func (sr *search) backwards(prefix []byte, lo, hi int64) (refSource, error) {
	it, err := sr.snap.NewIter(&pebble.IterOptions{
		LowerBound: kv.AppendTime(bytes.Clone(prefix), lo),
		UpperBound: kv.AppendTime(bytes.Clone(prefix), hi+1),
	})
	if err != nil {
		return nil, err
	}
	return &revSource{it: it, skip: len(prefix)}, nil
}

type revSource struct {
	it      *pebble.Iterator
	skip    int
	started bool
}

func (s *revSource) next() (ref, bool, error) {
	var ok bool
	if !s.started {
		s.started, ok = true, s.it.Last()
	} else {
		ok = s.it.Prev()
	}
	if !ok {
		return ref{}, false, s.it.Error()
	}
	r, err := readRef(s.it.Key()[s.skip:])
	if err != nil {
		return r, false, fmt.Errorf("tracepebble: index key %x: %w", s.it.Key(), err)
	}
	return r, true, nil
}

func (s *revSource) close() error { return s.it.Close() }

// collect reads every entry of one index range.
func (sr *search) collect(prefix []byte, lo, hi int64) ([]ref, error) {
	src, err := sr.backwards(prefix, lo, hi)
	if err != nil {
		return nil, err
	}
	defer src.close()
	var out []ref
	for {
		r, ok, err := src.next()
		if err != nil || !ok {
			return out, err
		}
		out = append(out, r)
	}
}

// services reads the service and duration index within the bounds.
func (sr *search) services(day int64) (refSource, error) {
	var all []ref
	for _, svc := range sr.plan.services {
		p := svcPrefix(day, svc)
		lower := binary.BigEndian.AppendUint64(bytes.Clone(p), uint64(sr.plan.minDur))
		upper := kv.PrefixEnd(p)
		if sr.plan.maxDur < math.MaxInt64 {
			upper = binary.BigEndian.AppendUint64(bytes.Clone(p), uint64(sr.plan.maxDur+1))
		}
		it, err := sr.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()[len(p):]
			r, err := readRef(k[8:])
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("tracepebble: index key %x: %w", it.Key(), err)
			}
			r.dur = int64(binary.BigEndian.Uint64(k))
			if r.start >= sr.q.Start && r.start <= sr.q.End {
				all = append(all, r)
			}
		}
		err = it.Error()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	return sorted(all), nil
}

// traceRefs lists a trace's spans in a day.
func (sr *search) traceRefs(day int64, tid string) ([]ref, error) {
	spans, err := traceSpans(sr.records, tid, max(sr.q.Start, day*dayNs), min(sr.q.End, (day+1)*dayNs-1))
	if err != nil {
		return nil, err
	}
	out := make([]ref, len(spans))
	for i, sp := range spans {
		out[i] = ref{start: sp.Start, dur: sp.Duration, tid: sp.TraceID, sid: sp.SpanID}
	}
	return out, nil
}

// sorted yields refs newest first.
func sorted(refs []ref) refSource {
	slices.SortFunc(refs, func(a, b ref) int {
		return cmp.Or(cmp.Compare(b.start, a.start), strings.Compare(b.tid, a.tid), strings.Compare(b.sid, a.sid))
	})
	return &sliceSource{refs: slices.CompactFunc(refs, func(a, b ref) bool { return a.tid == b.tid && a.sid == b.sid && a.start == b.start })}
}

type sliceSource struct{ refs []ref }

func (s *sliceSource) next() (ref, bool, error) {
	if len(s.refs) == 0 {
		return ref{}, false, nil
	}
	r := s.refs[0]
	s.refs = s.refs[1:]
	return r, true, nil
}

func (s *sliceSource) close() error { return nil }
