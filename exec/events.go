package exec

import (
	"context"
	"errors"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/telemetry"
)

// events runs EVENTS: events newest first.
func (e *Engine) events(ctx context.Context, s *lang.EventsStmt, o QueryOptions) (*EventsResult, error) {
	store := e.o.Data.Events
	if store == nil {
		return nil, unsupported(s)
	}
	from, to, err := dataRange(s.Range, o.Now)
	if err != nil {
		return nil, err
	}
	filter, err := translate(s.Where, kindEvents, o.Now)
	if err != nil {
		return nil, err
	}
	j, err := e.joinOf(ctx, s.For, to, o)
	if err != nil {
		return nil, err
	}
	fetch, limit := limitOf(s.Limit, o.MaxElements)
	it, err := store.SelectEvents(ctx, telemetry.EventQuery{Filter: filter, Identifiers: j.identifiers(),
		Start: from.UnixMilli(), End: to.UnixMilli(), Limit: fetch})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	res := &EventsResult{From: from, To: to, Events: []Event{}}
	for it.Next() {
		if len(res.Events)+1 == fetch {
			if limit == 0 {
				return nil, &LimitError{Limit: o.MaxElements, What: "events"}
			}
			res.Truncated = true
			break
		}
		res.Events = append(res.Events, eventOf(it.At()))
	}
	return res, errors.Join(it.Err())
}

func eventOf(e *telemetry.Event) Event {
	out := Event{ID: e.ID, Timestamp: e.Time, Name: e.Name, Category: e.Category, Type: e.Type, Source: e.Source,
		Message: e.Message, Tags: e.Tags, Identifiers: nonNil(e.Identifiers), Data: e.Data, Links: e.Links}
	if out.Tags == nil {
		out.Tags = telemetry.Tags{}
	}
	return out
}
