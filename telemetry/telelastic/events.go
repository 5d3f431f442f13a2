package telelastic

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
)

// eventDoc is one event.
type eventDoc struct {
	Timestamp   int64            `json:"@timestamp"`
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Category    string           `json:"category"`
	Type        string           `json:"type"`
	Source      string           `json:"source"`
	Message     string           `json:"message"`
	Tags        map[string]any   `json:"tags"`
	Identifiers []string         `json:"identifiers,omitempty"`
	Data        json.RawMessage  `json:"data,omitempty"`
	Links       []telemetry.Link `json:"links,omitempty"`
}

// AppendEvents writes one document per event, id = event id and time, so
// writing it again replaces it.
func (s *Store) AppendEvents(ctx context.Context, batch []telemetry.Event) error {
	docs := make([]esutil.Doc, 0, len(batch))
	for i := range batch {
		e := &batch[i]
		if err := telemetry.CheckEvent(e); err != nil {
			return fmt.Errorf("telelastic: event %d: %w", i, err)
		}
		tags := telemetry.NewTags(append(telemetry.Tags(nil), e.Tags...))
		d := eventDoc{Timestamp: e.Time, ID: e.ID, Name: e.Name, Category: telemetry.CanonicalCategory(e.Category),
			Type: e.Type, Source: e.Source, Message: e.Message, Tags: esutil.TagObject(tags),
			Identifiers: telemetry.Identifiers(tags, e.Identifiers), Data: e.Data, Links: e.Links}
		docs = append(docs, esutil.Doc{Index: s.c.DayIndex(kindEvents, e.Time), ID: hashID(e.ID) + ":" + strconv.FormatInt(e.Time, 10), Source: d})
	}
	if len(docs) == 0 {
		return nil
	}
	if err := s.c.Bulk(ctx, docs); err != nil {
		return fmt.Errorf("telelastic: append events: %w", err)
	}
	return nil
}

// eventSearch is the search of an events query, newest first (ties by id,
// descending), paged with search_after.
func eventSearch(q *telemetry.EventQuery, size int, after []any) map[string]any {
	body := map[string]any{
		"size":  size,
		"query": esutil.Filter(esutil.Range("@timestamp", q.Start, q.End), esutil.Identifiers(q.Identifiers), esutil.Query(q.Filter, eventField)),
		"sort":  []any{map[string]any{"@timestamp": "desc"}, map[string]any{"id": "desc"}},
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

// SelectEvents reads the events (all pages up to the limit).
func (s *Store) SelectEvents(ctx context.Context, q telemetry.EventQuery) (telemetry.EventIterator, error) {
	if q.End < q.Start {
		return nil, fmt.Errorf("telelastic: %w: the range ends before it starts", telemetry.ErrInvalid)
	}
	var out []telemetry.Event
	var after []any
	for {
		size := pageSize
		if q.Limit > 0 {
			size = min(size, q.Limit-len(out))
		}
		var ans struct {
			Hits struct {
				Hits []struct {
					Source eventDoc `json:"_source"`
					Sort   []any    `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := s.c.Search(ctx, s.c.Indices(kindEvents, q.Start, q.End), eventSearch(&q, size, after), &ans); err != nil {
			return nil, fmt.Errorf("telelastic: %w", err)
		}
		for _, h := range ans.Hits.Hits {
			out = append(out, h.Source.event())
			after = h.Sort
		}
		if len(ans.Hits.Hits) < size || (q.Limit > 0 && len(out) >= q.Limit) {
			return telemetry.SliceEvents(out), nil
		}
	}
}

func (d *eventDoc) event() telemetry.Event {
	e := telemetry.Event{ID: d.ID, Time: d.Timestamp, Name: d.Name, Category: d.Category, Type: d.Type, Source: d.Source,
		Message: d.Message, Identifiers: d.Identifiers, Data: d.Data, Links: d.Links}
	e.Tags = esutil.TagsOf(d.Tags)
	return e
}

// ExplainEvents prints the search the store sends.
func (s *Store) ExplainEvents(q telemetry.EventQuery) string {
	size := pageSize
	if q.Limit > 0 {
		size = min(size, q.Limit)
	}
	b, _ := json.MarshalIndent(eventSearch(&q, size, nil), "", "  ")
	return "elasticsearch search of " + s.c.Indices(kindEvents, q.Start, q.End) + ":\n" + string(b) + "\n"
}
