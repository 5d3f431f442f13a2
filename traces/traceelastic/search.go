package traceelastic

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// SearchTraces collects the matching spans page by page, newest first,
// summarises each new trace from all its spans (within a day of its
// matches), and for the default order with a limit stops as the Pebble
// store does: once it holds LIMIT traces and the next span started before
// the LIMIT-th newest trace.
func (s *Store) SearchTraces(ctx context.Context, q traces.TraceQuery) (traces.TraceIterator, error) {
	if q.End < q.Start {
		return nil, fmt.Errorf("traceelastic: %w: the range ends before it starts", traces.ErrInvalid)
	}
	order := q.Order
	if order.Field == "" && !order.Desc {
		order = traces.DefaultOrder
	}
	stopEarly := q.Limit > 0 && (order.Field == "" || order.Field == "start") && order.Desc
	found := map[string]*traces.Trace{}
	var after []any
	for {
		var ans spanHits
		if err := s.c.Search(ctx, s.spanIndices(q.Start, q.End), matchSearch(&q, after), &ans); err != nil {
			return nil, fmt.Errorf("traceelastic: %w", err)
		}
		var matched []traces.Span
		for _, h := range ans.Hits.Hits {
			matched = append(matched, h.Source.span())
			after = h.Sort
		}
		stop, err := s.addMatches(ctx, &q, found, matched, stopEarly)
		if err != nil {
			return nil, err
		}
		if stop || len(ans.Hits.Hits) < pageSize {
			break
		}
	}
	out := make([]traces.Trace, 0, len(found))
	for _, t := range found {
		slices.SortFunc(t.Matched, func(a, b traces.Span) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), strings.Compare(a.SpanID, b.SpanID))
		})
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b traces.Trace) int { return order.Compare(&a, &b) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return telemetry.NewSliceIter(out), nil
}

// addMatches adds a page of matching spans (newest first) to their
// traces, summarising the traces it meets first; stop says the default
// order's result is complete.
func (s *Store) addMatches(ctx context.Context, q *traces.TraceQuery, found map[string]*traces.Trace, matched []traces.Span, stopEarly bool) (bool, error) {
	var fresh []string
	lo, hi := int64(1<<62), int64(-1<<62)
	for _, sp := range matched {
		if found[sp.TraceID] == nil && !slices.Contains(fresh, sp.TraceID) {
			fresh = append(fresh, sp.TraceID)
			lo, hi = min(lo, sp.Start), max(hi, sp.Start)
		}
	}
	var byTrace map[string][]traces.Span
	if len(fresh) > 0 {
		var err error
		if byTrace, err = s.readTraces(ctx, fresh, lo-dayNs, hi+dayNs); err != nil {
			return false, err
		}
	}
	for _, sp := range matched {
		if stopEarly && len(found) >= q.Limit && sp.Start < kth(found, q.Limit) {
			return true, nil
		}
		t := found[sp.TraceID]
		if t == nil {
			if q.MaxTraces > 0 && len(found) >= q.MaxTraces {
				return false, &traces.TooManyError{Limit: q.MaxTraces}
			}
			sum := traces.Summarize(byTrace[sp.TraceID])
			sum.TraceID = sp.TraceID
			t = &sum
			found[sp.TraceID] = t
		}
		t.Matched = append(t.Matched, sp)
	}
	return false, nil
}

// kth is the k-th newest trace start.
func kth(found map[string]*traces.Trace, k int) int64 {
	starts := make([]int64, 0, len(found))
	for _, t := range found {
		starts = append(starts, t.Start)
	}
	slices.SortFunc(starts, func(a, b int64) int { return cmp.Compare(b, a) })
	return starts[k-1]
}
