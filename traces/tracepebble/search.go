package tracepebble

import (
	"bytes"
	"cmp"
	"context"
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
// trace ids it names; a service with a duration bound (the terms of the
// service's duration buckets); the FOR clause's identifiers; an equality on an indexed
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
		if m.Field == "service" && (lo > 0 || hi < math.MaxInt64) && lo <= hi {
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
	release, err := s.hold()
	if err != nil {
		return nil, err
	}
	defer release()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	sr := &search{ctx: ctx, snap: snap, q: q, order: orderOf(q), plan: choose(&q), found: map[string]*found{}}
	sr.prefetch = newPrefetcher(snap)
	defer sr.prefetch.close()
	if q.Identifiers != nil {
		sr.allowed = map[string]bool{}
		for _, id := range q.Identifiers {
			sr.allowed[id] = true
		}
	}
	if sr.records, err = snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagChunk}, UpperBound: []byte{tagChunk + 1}}); err != nil {
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
	ctx      context.Context
	snap     *pebble.Snapshot
	q        traces.TraceQuery
	order    traces.Order
	plan     plan
	allowed  map[string]bool
	records  *pebble.Iterator
	found    map[string]*found
	prefetch *prefetcher
	cold     bool    // a chunk read missed the block cache
	starts   []int64 // the start of every found trace, for the stop rule
	steps    int
}

// run visits the candidates day by day, newest first.
func (sr *search) run() error {
	for day := dayOf(sr.q.End); day >= dayOf(sr.q.Start); day-- {
		src, err := sr.source(day)
		if err != nil {
			return err
		}
		src = &aheadSource{src: src, p: sr.prefetch, cold: sr.missed, lo: sr.q.Start, hi: sr.q.End}
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

// missed says whether the search's chunk reads have missed Pebble's block
// cache: from then on it prefetches.
func (sr *search) missed() bool {
	if !sr.cold && prefetchAlways.Load() {
		sr.cold = true
	}
	if !sr.cold {
		st := sr.records.Stats().InternalStats
		sr.cold = st.BlockBytes > st.BlockBytesInCache
	}
	return sr.cold
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
		if sr.q.Limit > 0 && isDefault(sr.order) && len(sr.starts) >= sr.q.Limit && r.max < sr.kth() {
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

// found is a trace a search found: its summary, and the spans of its
// chunks that a later append replaced.
type found struct {
	traces.Trace
	gone map[chunkSpan]bool
}

// consider loads a candidate chunk and adds its matching spans to their
// trace, summarising the trace the first time.
func (sr *search) consider(r ref) error {
	if r.max < sr.q.Start || r.min > sr.q.End {
		return nil
	}
	key := r.key()
	if !sr.records.SeekGE(key) || !bytes.Equal(sr.records.Key(), key) {
		return cmp.Or(sr.records.Error(), fmt.Errorf("tracepebble: chunk %s/%x is indexed but not stored", r.tid, r.batch))
	}
	v, err := sr.records.ValueAndErr()
	if err != nil {
		return err
	}
	c, err := decodeChunk(v, r.tid, winStart(r.max))
	if err != nil {
		return fmt.Errorf("tracepebble: chunk %x: %w", key, err)
	}
	id := chunkID{day: dayOf(r.max), win: winOf(r.max), batch: r.batch}
	for i := range c.spans {
		if err := sr.match(&c.spans[i], id); err != nil {
			return err
		}
	}
	return nil
}

// match adds a span of chunk id to its trace when it matches.
func (sr *search) match(sp *traces.Span, id chunkID) error {
	if sp.Start < sr.q.Start || sp.Start > sr.q.End {
		return nil
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
		spans, gone, err := traceSpans(sr.records, sp.TraceID, sp.Start-dayNs, sp.Start+dayNs)
		if err != nil {
			return err
		}
		t = &found{Trace: traces.Summarize(spans), gone: gone}
		sr.found[sp.TraceID] = t
	}
	if t.gone[chunkSpan{chunkID: id, sid: sp.SpanID}] {
		return nil
	}
	if len(t.Matched) == 0 {
		sr.starts = append(sr.starts, t.Start)
	}
	t.Matched = append(t.Matched, *sp)
	return nil
}

// result orders the found traces and applies the limit.
func (sr *search) result() []traces.Trace {
	out := make([]traces.Trace, 0, len(sr.found))
	for _, t := range sr.found {
		slices.SortFunc(t.Matched, func(a, b traces.Span) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), strings.Compare(a.SpanID, b.SpanID))
		})
		if len(t.Matched) > 0 { // else its only matches were replaced
			out = append(out, t.Trace)
		}
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

// source opens the day's candidates for the plan: a walk of one term's
// posting lists, newest first, or the gathered and sorted lists of
// several terms.
func (sr *search) source(day int64) (refSource, error) {
	switch sr.plan.kind {
	case planScan:
		return sr.postings(day, allTerm)
	case planTerms:
		if len(sr.plan.terms) == 1 {
			return sr.postings(day, sr.plan.terms[0])
		}
		var all []ref
		for _, t := range sr.plan.terms {
			src, err := sr.postings(day, t)
			if err != nil {
				return nil, err
			}
			if all, err = drain(src, all); err != nil {
				return nil, err
			}
		}
		return sorted(all), nil
	case planService:
		return sr.durations(day)
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

// postings walks a term's posting lists of a day whose newest start is
// in [Start, End + window) from the newest.
func (sr *search) postings(day int64, term string) (refSource, error) {
	p := termPrefix(day, term)
	lower := kv.AppendTime(bytes.Clone(p), max(sr.q.Start, day*dayNs))
	upper := kv.PrefixEnd(p)
	if sr.q.End < (day+1)*dayNs-windowNs {
		upper = kv.AppendTime(bytes.Clone(p), sr.q.End+windowNs)
	}
	it, err := sr.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	src := &postSource{it: it, skip: len(p), lo: sr.q.Start, hi: sr.q.End}
	src.valid = it.Last()
	return src, nil
}

// postSource merges posting lists read newest list first into chunks
// newest first: a list's chunks start no later than its key's start, so
// a chunk waiting in the heap is next once no unread list can start later.
type postSource struct {
	it     *pebble.Iterator
	skip   int
	lo, hi int64
	heap   refHeap
	valid  bool // it is on an unread list
	last   ref  // the last chunk returned: lists of two groups may name one chunk (a retried append)
}

func (s *postSource) next() (ref, bool, error) {
	for {
		if len(s.heap) > 0 && (!s.valid || s.heap[0].max >= kv.Time(s.it.Key()[s.skip:])) {
			r := s.heap.pop()
			if r.max < s.lo || r.min > s.hi || r == s.last {
				continue
			}
			s.last = r
			return r, true, nil
		}
		if !s.valid {
			return ref{}, false, s.it.Error()
		}
		if err := s.read(); err != nil {
			return ref{}, false, err
		}
		s.valid = s.it.Prev()
	}
}

// read adds the list the iterator is on to the heap.
func (s *postSource) read() error {
	k := s.it.Key()[s.skip:]
	if len(k) != 16 {
		return fmt.Errorf("tracepebble: posting key %x: %w", s.it.Key(), kv.ErrCorrupt)
	}
	v, err := s.it.ValueAndErr()
	if err != nil {
		return err
	}
	n := len(s.heap)
	if s.heap, err = readRefs(v, kv.Time(k), s.heap); err != nil {
		return fmt.Errorf("tracepebble: posting list %x: %w", s.it.Key(), err)
	}
	for i := n; i < len(s.heap); i++ {
		s.heap.up(i)
	}
	return nil
}

func (s *postSource) close() error { return s.it.Close() }

// refHeap is a heap of refs, the newest on top.
type refHeap []ref

func (h refHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if newestFirst(h[p], h[i]) <= 0 {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (h *refHeap) pop() ref {
	old := *h
	top := old[0]
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && newestFirst(old[l], old[m]) < 0 {
			m = l
		}
		if l+1 < n && newestFirst(old[l+1], old[m]) < 0 {
			m = l + 1
		}
		if m == i {
			return top
		}
		old[i], old[m] = old[m], old[i]
		i = m
	}
}

// drain appends what a source yields to out and closes it.
func drain(src refSource, out []ref) ([]ref, error) {
	defer src.close()
	for {
		r, ok, err := src.next()
		if err != nil || !ok {
			return out, err
		}
		out = append(out, r)
	}
}

// durations reads the posting lists of the plan's services' duration
// buckets that its bounds reach: for each service one range of keys.
func (sr *search) durations(day int64) (refSource, error) {
	var all []ref
	for _, svc := range sr.plan.services {
		p := termPrefix(day, durationPrefix(svc))
		p = p[:len(p)-2] // the term unterminated: its buckets follow
		lower := append(bytes.Clone(p), durationTerm("", durBucket(sr.plan.minDur))[2:]...)
		upper := append(bytes.Clone(p), durationTerm("", durBucket(sr.plan.maxDur)+1)[2:]...)
		it, err := sr.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		all, err = sr.readBuckets(it, len(p), all)
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	return sorted(all), nil
}

// readBuckets reads the lists of duration buckets of one service (after
// prefix bytes of their keys: three digits, the term's end, the list's
// newest start and group) whose chunks are in the search's range.
func (sr *search) readBuckets(it *pebble.Iterator, prefix int, out []ref) ([]ref, error) {
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[prefix:]
		if len(k) != 3+2+16 || k[3] != 0 || k[4] != 1 {
			continue // another service's name continues with these bytes
		}
		listMax := kv.Time(k[5:])
		if listMax < sr.q.Start || listMax >= sr.q.End+windowNs && sr.q.End < math.MaxInt64-windowNs {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		n := len(out)
		if out, err = readRefs(v, listMax, out); err != nil {
			return nil, fmt.Errorf("tracepebble: posting list %x: %w", it.Key(), err)
		}
		kept := out[:n]
		for _, r := range out[n:] {
			if r.max >= sr.q.Start && r.min <= sr.q.End {
				kept = append(kept, r)
			}
		}
		out = kept
	}
	return out, it.Error()
}

// traceRefs lists a trace's chunks in a day.
func (sr *search) traceRefs(day int64, tid string) ([]ref, error) {
	var out []ref
	err := eachChunk(sr.records, day, tid, func(id chunkID, c chunk) {
		r := ref{max: math.MinInt64, min: math.MaxInt64, tid: tid, batch: id.batch}
		for _, sp := range c.spans {
			r.max, r.min = max(r.max, sp.Start), min(r.min, sp.Start)
		}
		if len(c.spans) > 0 && r.max >= sr.q.Start && r.min <= sr.q.End {
			out = append(out, r)
		}
	})
	return out, err
}

// sorted yields refs newest first, each chunk once.
func sorted(refs []ref) refSource {
	slices.SortFunc(refs, newestFirst)
	return &sliceSource{refs: slices.CompactFunc(refs, func(a, b ref) bool { return a.tid == b.tid && a.batch == b.batch && a.max == b.max })}
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
