package exec

import (
	"encoding/json"
	"time"

	"github.com/tetrahq/tetra/telemetry"
)

// MetricsResult is the answer to METRICS: one series per stored series
// (raw samples, or aggregates per series) or per group.
type MetricsResult struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Aggregation is the method (e.g. "mean", "percentile(99)"), empty
	// for raw samples; StepMs the bucket width, 0 for one bucket.
	Aggregation string `json:"aggregation,omitempty"`
	StepMs      int64  `json:"stepMs,omitempty"`
	// Truncated says LIMIT cut the result (more series matched).
	Truncated bool           `json:"truncated"`
	Series    []MetricSeries `json:"series"`
}

// MetricSeries is one series of a result: its labels (the metric name as
// "name" and the tags, or a group's grouping fields) and points
// [[epochMs, value], …].
type MetricSeries struct {
	Labels    telemetry.Tags    `json:"labels"`
	Component *ComponentRef     `json:"component,omitempty"`
	Points    []telemetry.Point `json:"points"`
}

// ComponentRef names a component in a data result.
type ComponentRef struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// EventsResult is the answer to EVENTS: events newest first.
type EventsResult struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Truncated bool      `json:"truncated"`
	Events    []Event   `json:"events"`
}

// Event is an event as results show it.
type Event struct {
	ID          string           `json:"id"`
	Timestamp   int64            `json:"timestamp"` // epoch milliseconds
	Name        string           `json:"name"`
	Category    string           `json:"category"`
	Type        string           `json:"type"`
	Source      string           `json:"source"`
	Message     string           `json:"message"`
	Tags        telemetry.Tags   `json:"tags"`
	Identifiers []string         `json:"identifiers"`
	Data        json.RawMessage  `json:"data,omitempty"`
	Links       []telemetry.Link `json:"links,omitempty"`
}

// TracesResult is the answer to TRACES: matching traces in the requested
// order, each with its summary and matching spans.
type TracesResult struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Truncated bool      `json:"truncated"`
	Traces    []Trace   `json:"traces"`
}

// Trace is a trace's summary and the spans that matched.
type Trace struct {
	TraceID           string   `json:"traceId"`
	RootService       string   `json:"rootService"`
	RootName          string   `json:"rootName"`
	StartTimeUnixNano int64    `json:"startTimeUnixNano"`
	DurationNano      int64    `json:"durationNano"`
	SpanCount         int      `json:"spanCount"`
	Error             bool     `json:"error"`
	Services          []string `json:"services"`
	Spans             []Span   `json:"spans"`
}

// Span is a span as results show it.
type Span struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	ParentID          string         `json:"parentId,omitempty"`
	Service           string         `json:"service"`
	Name              string         `json:"name"`
	Kind              string         `json:"kind,omitempty"`
	Status            string         `json:"status"`
	StatusMessage     string         `json:"statusMessage,omitempty"`
	StartTimeUnixNano int64          `json:"startTimeUnixNano"`
	DurationNano      int64          `json:"durationNano"`
	Attributes        telemetry.Tags `json:"attributes"`
	Resource          telemetry.Tags `json:"resource"`
}

// DefaultMaxPoints bounds the points of a METRICS result (about 256 MiB):
// past it the query fails with a LimitError instead of exhausting memory.
const DefaultMaxPoints = 16 << 20
