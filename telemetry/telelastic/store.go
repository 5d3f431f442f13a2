// Package telelastic is the Elasticsearch metric and event store: one
// document per sample and per event, in daily indices with index
// templates, written with bulk requests under idempotent ids, read with the
// query DSL and its aggregations. docs/telemetry.md describes the layout.
package telelastic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/internal/esutil"
	"github.com/tetrahq/tetra/telemetry"
)

// Options configure a store. The zero value is usable.
type Options struct {
	// MetricRetention and EventRetention are how long each kind is kept
	// (the telemetry defaults when zero), in whole daily indices.
	MetricRetention time.Duration
	EventRetention  time.Duration
}

// Store is the Elasticsearch telemetry store; safe for concurrent use.
type Store struct {
	c *esutil.Client
	o Options
}

var _ telemetry.Store = (*Store)(nil)

// Index kinds.
const (
	kindMetrics = "metrics"
	kindEvents  = "events"
)

// Open installs the index templates and returns the store.
func Open(ctx context.Context, c *esutil.Client, o Options) (*Store, error) {
	if o.MetricRetention <= 0 {
		o.MetricRetention = telemetry.DefaultMetricRetention
	}
	if o.EventRetention <= 0 {
		o.EventRetention = telemetry.DefaultEventRetention
	}
	s := &Store{c: c, o: o}
	if err := c.PutTemplate(ctx, kindMetrics, metricsMapping); err != nil {
		return nil, fmt.Errorf("telelastic: %w", err)
	}
	if err := c.PutTemplate(ctx, kindEvents, eventsMapping); err != nil {
		return nil, fmt.Errorf("telelastic: %w", err)
	}
	return s, nil
}

var metricsMapping = map[string]any{
	"dynamic_templates": esutil.TagsTemplates("tags"),
	"properties": map[string]any{
		"@timestamp":  map[string]any{"type": "date", "format": "epoch_millis"},
		"name":        esutil.Keyword,
		"series":      esutil.Keyword,
		"tags":        esutil.TagsMapping,
		"identifiers": esutil.Keyword,
		"value":       map[string]any{"type": "double"},
		"special":     esutil.Keyword,
	},
}

var eventsMapping = map[string]any{
	"dynamic_templates": esutil.TagsTemplates("tags"),
	"properties": map[string]any{
		"@timestamp":  map[string]any{"type": "date", "format": "epoch_millis"},
		"id":          esutil.Keyword,
		"name":        esutil.Keyword,
		"category":    esutil.Keyword,
		"type":        esutil.Keyword,
		"source":      esutil.Keyword,
		"message":     map[string]any{"type": "wildcard"},
		"tags":        esutil.TagsMapping,
		"identifiers": esutil.Keyword,
		"data":        map[string]any{"type": "object", "enabled": false},
		"links":       map[string]any{"type": "object", "enabled": false},
	},
}

// Close does nothing: the client holds no resources beyond idle
// connections.
func (s *Store) Close() error { return nil }

// Compact deletes the daily indices past each kind's retention.
func (s *Store) Compact(ctx context.Context, now time.Time) error {
	_, err1 := s.c.DropBefore(ctx, kindMetrics, now.Add(-s.o.MetricRetention).UnixMilli())
	_, err2 := s.c.DropBefore(ctx, kindEvents, now.Add(-s.o.EventRetention).UnixMilli())
	return errors.Join(err1, err2)
}

// ---- documents ----

// sampleDoc is one sample. A value JSON cannot hold (NaN, ±Inf) is left
// out and named in special: aggregations skip it, raw reads give it back.
type sampleDoc struct {
	Timestamp   int64          `json:"@timestamp"`
	Name        string         `json:"name"`
	Series      string         `json:"series"`
	Tags        map[string]any `json:"tags"`
	Identifiers []string       `json:"identifiers,omitempty"`
	Value       *float64       `json:"value,omitempty"`
	Special     string         `json:"special,omitempty"`
}

// seriesKey is a series' identity in documents: [name, k, v, k, v, …] as
// JSON, which reads back unambiguously.
func seriesKey(s *telemetry.Series) string {
	parts := []string{s.Name}
	for _, t := range s.Tags {
		parts = append(parts, t.Key, t.Value)
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

func parseSeriesKey(k string) (string, telemetry.Tags, error) {
	var parts []string
	if err := json.Unmarshal([]byte(k), &parts); err != nil || len(parts)%2 != 1 {
		return "", nil, fmt.Errorf("telelastic: bad series key %q", k)
	}
	var tags telemetry.Tags
	for i := 1; i < len(parts); i += 2 {
		tags = append(tags, telemetry.Tag{Key: parts[i], Value: parts[i+1]})
	}
	return parts[0], tags, nil
}

func hashID(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

func special(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return ""
}

func fromSpecial(s string) float64 {
	switch s {
	case "+Inf":
		return math.Inf(1)
	case "-Inf":
		return math.Inf(-1)
	}
	return math.NaN()
}

// AppendMetrics writes one document per sample, id = series hash and
// time, so a rewrite replaces the sample.
func (s *Store) AppendMetrics(ctx context.Context, batch []telemetry.SeriesSamples) error {
	var docs []esutil.Doc
	for i := range batch {
		if err := telemetry.CheckSeries(&batch[i]); err != nil {
			return fmt.Errorf("telelastic: series %d (%s): %w", i, batch[i].Series.Name, err)
		}
		ser := batch[i].Series
		ser.Tags = telemetry.NewTags(append(telemetry.Tags(nil), ser.Tags...))
		key := seriesKey(&ser)
		sid := hashID(key)
		ids := telemetry.Identifiers(ser.Tags, ser.Identifiers)
		tags := esutil.TagObject(ser.Tags)
		for _, x := range batch[i].Samples {
			d := sampleDoc{Timestamp: x.T, Name: ser.Name, Series: key, Tags: tags, Identifiers: ids}
			if sp := special(x.V); sp != "" {
				d.Special = sp
			} else {
				v := x.V
				d.Value = &v
			}
			docs = append(docs, esutil.Doc{Index: s.c.DayIndex(kindMetrics, x.T), ID: sid + ":" + strconv.FormatInt(x.T, 10), Source: d})
		}
	}
	if len(docs) == 0 {
		return nil
	}
	if err := s.c.Bulk(ctx, docs); err != nil {
		return fmt.Errorf("telelastic: append metrics: %w", err)
	}
	return nil
}

// metricField maps a filter field to its document field.
func metricField(f string) (string, bool) {
	if f == "name" {
		return "name", false
	}
	return "tags." + f, false
}

// eventField maps a filter field to its document field.
func eventField(f string) (string, bool) {
	switch f {
	case "name", "category", "type", "source", "message":
		return f, false
	}
	return "tags." + f, false
}
