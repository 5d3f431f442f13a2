package telemetry

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Method is an aggregation method of METRICS.
type Method int

const (
	Mean Method = iota + 1
	Min
	Max
	Sum
	Count
	Last
	Percentile
	SumNoZeros
	CountNoZeros
)

var methodNames = [...]string{"?", "mean", "min", "max", "sum", "count", "last", "percentile", "sum_no_zeros", "count_no_zeros"}

func (m Method) String() string {
	if m > 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "?"
}

// Aggregation asks a metric store for aggregates instead of raw samples.
//
// Buckets are aligned to multiples of Step since the epoch; a bucket's
// point carries its start time and aggregates the samples of the query's
// range within it. Without a Step the whole range is one bucket whose
// point carries the range's start. NaN samples are no value: every method
// skips them, and a group with no value in the range is not in the result. Sum and Count give 0 for a bucket of the range without
// samples, so a group's series is dense from the range's first bucket to
// its last; SumNoZeros and CountNoZeros leave such buckets out, as every
// other method does. Percentile interpolates linearly between the closest
// ranks (rank p/100·(n−1), as numpy's default and Prometheus'
// quantile_over_time).
type Aggregation struct {
	Method     Method
	Percentile float64 // 0 < p ≤ 100, for Percentile
	Step       int64   // bucket width in milliseconds; 0: one bucket for the range
	// GroupBy lists the tag keys (and "name", the metric name) whose values
	// form the groups: all samples of the series of one group are
	// aggregated together. With no GroupBy and no Components each series is
	// its own group.
	GroupBy []string
	// Components, when not nil, groups by component instead: a series
	// belongs to every group holding one of its identifiers, and a series of
	// no group is left out.
	Components []ComponentGroup
}

// ComponentGroup is one component for grouping: its key in results and
// its identifiers.
type ComponentGroup struct {
	Key         string
	Identifiers []string
}

// MetricQuery selects series and their samples in a time range.
type MetricQuery struct {
	// Filter is evaluated on each series: the field "name" is the metric
	// name, any other field a tag key.
	Filter Expr
	// Identifiers, when not nil, keeps only the series holding one of
	// them (a FOR clause, or an API key's scope); an empty non-nil list
	// keeps nothing.
	Identifiers []string
	// Start and End bound the samples, both included, in epoch
	// milliseconds. A series without samples in the range is not selected.
	Start, End int64
	// Agg, when not nil, asks for aggregates instead of raw samples.
	Agg *Aggregation
}

// ResultSeries is one series of a result: a stored series with its raw
// samples, or a group with its aggregates.
type ResultSeries struct {
	// Name is the metric name (empty for a group that is not grouped by
	// name).
	Name string
	// Tags are the series' tags, or a group's grouping tags.
	Tags Tags
	// Component is the group's ComponentGroup.Key when grouping by
	// component.
	Component string
	// Identifiers are a stored series' identifiers (nil for groups).
	Identifiers []string
	Points      []Point
}

// CompareSeries orders result series as a SeriesSet yields them: by
// component, then name, then tags.
func CompareSeries(a, b ResultSeries) int {
	return cmp.Or(strings.Compare(a.Component, b.Component), strings.Compare(a.Name, b.Name),
		slices.CompareFunc(a.Tags, b.Tags, compareTag))
}

// SeriesSet iterates the series of a result. Series come ordered by
// component, then name, then tags. At's value and its slices belong to the
// set and are valid until the next call to Next; copy what must outlive it.
// A SeriesSet is used by one goroutine; Close releases it and is needed
// even after Next returned false.
type SeriesSet interface {
	Next() bool
	At() *ResultSeries
	Err() error
	Close() error
}

// EventQuery selects events in a time range, newest first.
type EventQuery struct {
	// Filter is evaluated on each event: the fields name, category, type,
	// source, message, and any other field is a tag key.
	Filter Expr
	// Identifiers as in MetricQuery.
	Identifiers []string
	// Start and End bound the event times, both included (epoch ms).
	Start, End int64
	// Limit stops the iterator after that many events (0: no limit).
	Limit int
}

// EventIterator iterates events newest first (ties by id). At's event
// belongs to the iterator until the next Next. Used by one goroutine;
// Close is needed even after Next returned false.
type EventIterator interface {
	Next() bool
	At() *Event
	Err() error
	Close() error
}

// MetricStore keeps metric series. Implementations are safe for concurrent
// use; appends and reads may run at once, and a read sees each append
// entirely or not at all.
type MetricStore interface {
	// AppendMetrics writes samples; it returns once they are durable (as
	// the implementation's options define). Appending a sample at a time a
	// series already has a sample for replaces it. The batch is not kept.
	AppendMetrics(ctx context.Context, batch []SeriesSamples) error
	// SelectMetrics opens a result.
	SelectMetrics(ctx context.Context, q MetricQuery) (SeriesSet, error)
	// MetricIdentifiers returns the distinct identifiers of the series q
	// selects (q.Agg is ignored), sorted.
	MetricIdentifiers(ctx context.Context, q MetricQuery) ([]string, error)
	// ExplainMetrics describes how the store would answer q.
	ExplainMetrics(q MetricQuery) string
}

// EventStore keeps events, with the same concurrency guarantees.
type EventStore interface {
	// AppendEvents writes events; an event with the ID and time of a
	// stored one replaces it. The batch is not kept.
	AppendEvents(ctx context.Context, batch []Event) error
	// SelectEvents opens a result.
	SelectEvents(ctx context.Context, q EventQuery) (EventIterator, error)
	// ExplainEvents describes how the store would answer q.
	ExplainEvents(q EventQuery) string
}

// Store is a metric and event store as a whole.
type Store interface {
	MetricStore
	EventStore
	// Compact drops data older than each kind's retention before now.
	Compact(ctx context.Context, now time.Time) error
	Close() error
}

// Errors of the stores. A store wraps them with what it was doing.
var (
	// ErrInvalid is a batch or query the store refuses: a user error.
	ErrInvalid = errors.New("telemetry: invalid input")
	// ErrClosed is an operation on a closed store.
	ErrClosed = errors.New("telemetry: store closed")
)

// Default retention periods.
const (
	DefaultMetricRetention = 30 * 24 * time.Hour
	DefaultEventRetention  = 30 * 24 * time.Hour
)

// SliceSeries returns a SeriesSet over computed series (for stores that
// compute a result before it is read).
func SliceSeries(series []ResultSeries) SeriesSet { return NewSliceIter(series) }

// SliceEvents returns an EventIterator over computed events.
func SliceEvents(events []Event) EventIterator { return NewSliceIter(events) }

// SliceIter iterates a slice with the stores' iterator shape
// (Next/At/Err/Close); At points into the slice.
type SliceIter[T any] struct {
	items []T
	i     int
}

// NewSliceIter returns an iterator over items.
func NewSliceIter[T any](items []T) *SliceIter[T] { return &SliceIter[T]{items: items, i: -1} }

func (s *SliceIter[T]) Next() bool {
	if s.i+1 >= len(s.items) {
		s.i = len(s.items)
		return false
	}
	s.i++
	return true
}
func (s *SliceIter[T]) At() *T       { return &s.items[s.i] }
func (s *SliceIter[T]) Err() error   { return nil }
func (s *SliceIter[T]) Close() error { return nil }
