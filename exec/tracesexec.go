package exec

import (
	"context"
	"errors"
	"time"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// traceQuery builds the store search of a TRACES statement, without the
// join.
func traceQuery(s *lang.TracesStmt, from, to time.Time, o QueryOptions) (traces.TraceQuery, error) {
	filter, err := translate(s.Where, kindTraces, o.Now)
	if err != nil {
		return traces.TraceQuery{}, err
	}
	fetch, _ := limitOf(s.Limit, o.MaxElements)
	q := traces.TraceQuery{Filter: filter, Start: from.UnixNano(), End: to.UnixNano(), Order: traces.DefaultOrder,
		Limit: fetch, MaxTraces: o.MaxElements}
	if s.OrderBy != nil {
		q.Order = traces.Order{Field: s.OrderBy.Key.Name, Desc: s.OrderBy.Desc}
	}
	return q, nil
}

// traces runs TRACES: matching traces with their summaries and matching
// spans.
func (e *Engine) traces(ctx context.Context, s *lang.TracesStmt, o QueryOptions) (*TracesResult, error) {
	store := e.o.Data.Traces
	if store == nil {
		return nil, unsupported(s)
	}
	from, to, err := dataRange(s.Range, o.Now)
	if err != nil {
		return nil, err
	}
	q, err := traceQuery(s, from, to, o)
	if err != nil {
		return nil, err
	}
	j, err := e.joinOf(ctx, s.For, to, o)
	if err != nil {
		return nil, err
	}
	q.Identifiers = j.identifiers()
	it, err := store.SearchTraces(ctx, q)
	var tm *traces.TooManyError
	if errors.As(err, &tm) {
		return nil, &LimitError{Limit: o.MaxElements, What: "traces"}
	}
	if err != nil {
		return nil, err
	}
	defer it.Close()
	_, limit := limitOf(s.Limit, o.MaxElements)
	res := &TracesResult{From: from, To: to, Traces: []Trace{}}
	for it.Next() {
		if len(res.Traces)+1 == q.Limit {
			if limit == 0 {
				return nil, &LimitError{Limit: o.MaxElements, What: "traces"}
			}
			res.Truncated = true
			break
		}
		res.Traces = append(res.Traces, traceOf(it.At()))
	}
	return res, it.Err()
}

func traceOf(t *traces.Trace) Trace {
	out := Trace{TraceID: t.TraceID, RootService: t.RootService, RootName: t.RootName, StartTimeUnixNano: t.Start,
		DurationNano: t.Duration, SpanCount: t.SpanCount, Error: t.Error, Services: nonNil(t.Services), Spans: make([]Span, len(t.Matched))}
	for i, s := range t.Matched {
		out.Spans[i] = Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Service: s.Service, Name: s.Name,
			Kind: s.Kind, Status: s.Status, StatusMessage: s.StatusMessage, StartTimeUnixNano: s.Start, DurationNano: s.Duration,
			Attributes: tagsOrEmpty(s.Attributes), Resource: tagsOrEmpty(s.Resource)}
	}
	return out
}

func tagsOrEmpty(t telemetry.Tags) telemetry.Tags {
	if t == nil {
		return telemetry.Tags{}
	}
	return t
}
