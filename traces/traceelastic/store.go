// Package traceelastic is the Elasticsearch span store: one document per
// span in daily indices (by start), id trace:span, searched with the query
// DSL. A search collects the matching spans newest first, then reads the
// whole of each matching trace to summarise it. docs/telemetry.md
// describes the layout.
package traceelastic

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// Options configure a store.
type Options struct {
	// Retention is how long spans are kept (traces.DefaultRetention when
	// zero), in whole daily indices.
	Retention time.Duration
}

// Store is the Elasticsearch span store; safe for concurrent use.
type Store struct {
	c *esutil.Client
	o Options
}

var _ traces.Store = (*Store)(nil)

const kind = "spans"

const dayNs = int64(24 * time.Hour)

// Open installs the index template and returns the store.
func Open(ctx context.Context, c *esutil.Client, o Options) (*Store, error) {
	if o.Retention <= 0 {
		o.Retention = traces.DefaultRetention
	}
	if err := c.PutTemplate(ctx, kind, mapping); err != nil {
		return nil, fmt.Errorf("traceelastic: %w", err)
	}
	return &Store{c: c, o: o}, nil
}

var mapping = map[string]any{
	"dynamic_templates": esutil.TagsTemplates("attributes", "resource"),
	"properties": map[string]any{
		"trace_id": esutil.Keyword, "span_id": esutil.Keyword, "parent_id": esutil.Keyword,
		"service": esutil.Keyword, "name": esutil.Keyword, "kind": esutil.Keyword, "status": esutil.Keyword,
		"status_message": map[string]any{"type": "keyword", "index": false},
		"start":          map[string]any{"type": "date", "format": "epoch_millis"},
		"start_ns":       map[string]any{"type": "long"},
		"duration":       map[string]any{"type": "long"},
		"attributes":     esutil.TagsMapping,
		"resource":       esutil.TagsMapping,
		"identifiers":    esutil.Keyword,
	},
}

// spanDoc is one span.
type spanDoc struct {
	TraceID       string         `json:"trace_id"`
	SpanID        string         `json:"span_id"`
	ParentID      string         `json:"parent_id,omitempty"`
	Service       string         `json:"service"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind,omitempty"`
	Status        string         `json:"status"`
	StatusMessage string         `json:"status_message,omitempty"`
	Start         int64          `json:"start"`
	StartNs       int64          `json:"start_ns"`
	Duration      int64          `json:"duration"`
	Attributes    map[string]any `json:"attributes"`
	Resource      map[string]any `json:"resource"`
	Identifiers   []string       `json:"identifiers,omitempty"`
}

// Close does nothing.
func (s *Store) Close() error { return nil }

// Compact deletes the daily indices past retention.
func (s *Store) Compact(ctx context.Context, now time.Time) error {
	_, err := s.c.DropBefore(ctx, kind, now.Add(-s.o.Retention).UnixMilli())
	return err
}

// AppendSpans writes one document per span.
func (s *Store) AppendSpans(ctx context.Context, batch []traces.Span) error {
	docs := make([]esutil.Doc, 0, len(batch))
	for i := range batch {
		sp := batch[i]
		if err := traces.CheckSpan(&sp); err != nil {
			return fmt.Errorf("traceelastic: span %d: %w", i, err)
		}
		sp.Attributes = telemetry.NewTags(slices.Clone(sp.Attributes))
		sp.Resource = telemetry.NewTags(slices.Clone(sp.Resource))
		d := spanDoc{TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Service: sp.Service, Name: sp.Name,
			Kind: sp.Kind, Status: sp.Status, StatusMessage: sp.StatusMessage, Start: sp.Start / int64(time.Millisecond),
			StartNs: sp.Start, Duration: sp.Duration, Attributes: esutil.TagObject(sp.Attributes), Resource: esutil.TagObject(sp.Resource),
			Identifiers: traces.SpanIdentifiers(&sp)}
		docs = append(docs, esutil.Doc{Index: s.c.DayIndex(kind, d.Start), ID: sp.TraceID + ":" + sp.SpanID, Source: d})
	}
	if len(docs) == 0 {
		return nil
	}
	if err := s.c.Bulk(ctx, docs); err != nil {
		return fmt.Errorf("traceelastic: append: %w", err)
	}
	return nil
}

func (d *spanDoc) span() traces.Span {
	return traces.Span{TraceID: d.TraceID, SpanID: d.SpanID, ParentID: d.ParentID, Service: d.Service, Name: d.Name,
		Kind: d.Kind, Status: d.Status, StatusMessage: d.StatusMessage, Start: d.StartNs, Duration: d.Duration,
		Attributes: esutil.TagsOf(d.Attributes), Resource: esutil.TagsOf(d.Resource), Identifiers: d.Identifiers}
}

// spanField maps a filter field to its document field.
func spanField(f string) (string, bool) {
	switch f {
	case "duration":
		return "duration", true
	case "start":
		return "start", true
	}
	return f, false // service, name, …, attributes.k, resource.k are document fields as named
}

// pageSize is the size of a page of spans.
const pageSize = 5000

// matchSearch pages through the matching spans, newest first.
func matchSearch(q *traces.TraceQuery, after []any) map[string]any {
	body := map[string]any{
		"size": pageSize,
		"query": esutil.Filter(esutil.Range("start_ns", q.Start, q.End), esutil.Identifiers(q.Identifiers),
			esutil.Query(q.Filter, spanField)),
		"sort": []any{map[string]any{"start_ns": "desc"}, map[string]any{"trace_id": "asc"}, map[string]any{"span_id": "asc"}},
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

// tracesSearch reads whole traces: the spans of the ids within a window.
func tracesSearch(ids []string, from, to int64, after []any) map[string]any {
	body := map[string]any{
		"size":  pageSize,
		"query": esutil.Filter(map[string]any{"terms": map[string]any{"trace_id": ids}}, esutil.Range("start_ns", from, to)),
		"sort":  []any{map[string]any{"trace_id": "asc"}, map[string]any{"span_id": "asc"}},
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

type spanHits struct {
	Hits struct {
		Hits []struct {
			Source spanDoc `json:"_source"`
			Sort   []any   `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

func (s *Store) spanIndices(from, to int64) string {
	return s.c.Indices(kind, from/int64(time.Millisecond), to/int64(time.Millisecond))
}

// ExplainTraces prints the search of the matching spans.
func (s *Store) ExplainTraces(q traces.TraceQuery) string {
	b, _ := json.MarshalIndent(matchSearch(&q, nil), "", "  ")
	return "elasticsearch search of " + s.spanIndices(q.Start, q.End) + ":\n" + string(b) +
		"\nthen the spans of each matching trace within a day of its matches, to summarise it\n"
}

// Spans reads a trace's spans in [start, end].
func (s *Store) Spans(ctx context.Context, traceID string, start, end int64) ([]traces.Span, error) {
	byTrace, err := s.readTraces(ctx, []string{traceID}, start, end)
	if err != nil {
		return nil, err
	}
	return byTrace[traceID], nil
}

// readTraces reads the spans of traces within [from, to], by trace, each
// sorted by start.
func (s *Store) readTraces(ctx context.Context, ids []string, from, to int64) (map[string][]traces.Span, error) {
	out := map[string][]traces.Span{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		var after []any
		for {
			var ans spanHits
			if err := s.c.Search(ctx, s.spanIndices(from, to), tracesSearch(chunk, from, to, after), &ans); err != nil {
				return nil, fmt.Errorf("traceelastic: %w", err)
			}
			for _, h := range ans.Hits.Hits {
				out[h.Source.TraceID] = append(out[h.Source.TraceID], h.Source.span())
				after = h.Sort
			}
			if len(ans.Hits.Hits) < pageSize {
				break
			}
		}
	}
	for _, spans := range out {
		slices.SortFunc(spans, func(a, b traces.Span) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), strings.Compare(a.SpanID, b.SpanID))
		})
	}
	return out, nil
}
