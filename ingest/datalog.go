package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// Metrics, events and spans through a log (the Kafka mode). In the
// embedded mode the receiver appends them straight to their stores; in the
// Kafka mode it appends them to the log through a LogWriter, which produces
// one record per kind (KindMetrics, KindEvents, KindTraces), and the
// log's consumers write the records to the stores with DataStores.Write.
// The stores replace what they hold under the same identity (a sample at
// a series' time, an event's id and time, a span's trace and span id), so
// a record written twice (a consumer that stopped before it committed its
// offset, a sender that retried) is stored once.

// MetricWriter, EventWriter and SpanWriter are the append side of the
// metric, event and span stores (telemetry.MetricStore, EventStore,
// traces.Store have them). Implementations are safe for concurrent use and
// do not keep the batch.
type (
	MetricWriter interface {
		AppendMetrics(ctx context.Context, batch []telemetry.SeriesSamples) error
	}
	EventWriter interface {
		AppendEvents(ctx context.Context, batch []telemetry.Event) error
	}
	SpanWriter interface {
		AppendSpans(ctx context.Context, batch []traces.Span) error
	}
)

// LogWriter appends metrics, events and spans to a Log as records of their
// kind: a MetricWriter, EventWriter and SpanWriter whose appends return
// once the log has the record (in the Kafka mode, once the brokers
// acknowledged it). Safe for concurrent use.
type LogWriter struct{ Log Log }

func (w LogWriter) AppendMetrics(ctx context.Context, batch []telemetry.SeriesSamples) error {
	return w.append(ctx, &Record{Kind: KindMetrics, Key: metricsKey(batch), Metrics: batch})
}

func (w LogWriter) AppendEvents(ctx context.Context, batch []telemetry.Event) error {
	return w.append(ctx, &Record{Kind: KindEvents, Key: eventsKey(batch), Events: batch})
}

func (w LogWriter) AppendSpans(ctx context.Context, batch []traces.Span) error {
	return w.append(ctx, &Record{Kind: KindTraces, Key: spansKey(batch), Spans: batch})
}

func (w LogWriter) append(ctx context.Context, rec *Record) error {
	if rec.Elements() == 0 {
		return nil
	}
	_, err := w.Log.Append(ctx, rec)
	return err
}

// The key of a data record names its source instance, as a topology
// record's does: the host (or, for spans, the service instance) of its
// first item, so that one instance's records stay in order and instances
// spread over partitions. A batch holds one request's data, usually of one
// instance.

func metricsKey(b []telemetry.SeriesSamples) string {
	if len(b) == 0 {
		return ""
	}
	s := &b[0].Series
	if h, ok := s.Tags.First("host"); ok {
		return "host:" + h
	}
	return "metric:" + s.Name
}

func eventsKey(b []telemetry.Event) string {
	if len(b) == 0 {
		return ""
	}
	if h, ok := b[0].Tags.First("host"); ok {
		return "host:" + h
	}
	return "source:" + b[0].Source
}

func spansKey(b []traces.Span) string {
	if len(b) == 0 {
		return ""
	}
	key := "service:" + b[0].Service
	for _, k := range []string{"service.instance.id", "host.name"} {
		if v, ok := b[0].Resource.First(k); ok {
			return key + "/" + v
		}
	}
	return key
}

// DataStores are where a log's consumer writes metrics, events and spans.
// A nil store leaves its kind unconsumed (its records are not read).
type DataStores struct {
	Metrics MetricWriter
	Events  EventWriter
	Spans   SpanWriter
}

// Kinds returns the kinds the stores take, in a fixed order.
func (d DataStores) Kinds() []DataKind {
	var out []DataKind
	if d.Metrics != nil {
		out = append(out, KindMetrics)
	}
	if d.Events != nil {
		out = append(out, KindEvents)
	}
	if d.Spans != nil {
		out = append(out, KindTraces)
	}
	return out
}

// ErrNoStore is a data record of a kind the stores do not take.
var ErrNoStore = errors.New("ingest: no store for this kind of data")

// Write appends the data of records to their stores, one append per kind
// (the group commit of a log consumer's batch), each returning once its
// data is durable. An error leaves some of it written: write the records
// again, which stores them once. An error that wraps telemetry.ErrInvalid
// is a record a store refuses; the others are the stores'.
func (d DataStores) Write(ctx context.Context, recs []*Record) error {
	var m []telemetry.SeriesSamples
	var ev []telemetry.Event
	var sp []traces.Span
	for _, r := range recs {
		switch r.Kind {
		case KindMetrics:
			m = append(m, r.Metrics...)
		case KindEvents:
			ev = append(ev, r.Events...)
		case KindTraces:
			sp = append(sp, r.Spans...)
		default:
			return fmt.Errorf("%w: a %q record", ErrNoStore, r.Kind)
		}
	}
	if err := writeKind(ctx, KindMetrics, d.Metrics, m, MetricWriter.AppendMetrics); err != nil {
		return err
	}
	if err := writeKind(ctx, KindEvents, d.Events, ev, EventWriter.AppendEvents); err != nil {
		return err
	}
	return writeKind(ctx, KindTraces, d.Spans, sp, SpanWriter.AppendSpans)
}

// writeKind appends one kind's data, if any.
func writeKind[W any, T any](ctx context.Context, k DataKind, w W, batch []T, app func(W, context.Context, []T) error) error {
	if len(batch) == 0 {
		return nil
	}
	if any(w) == nil {
		return fmt.Errorf("%w: %s", ErrNoStore, k)
	}
	if err := app(w, ctx, batch); err != nil {
		return fmt.Errorf("ingest: writing %s: %w", k, err)
	}
	return nil
}

// wireSeries is a series as a record carries it: JSON has no NaN or
// infinity, which metric values may be, so values are numbers where they
// can be and the strings "NaN", "+Inf", "-Inf" where not.
type wireSeries struct {
	Series telemetry.Series `json:"series"`
	T      []int64          `json:"t"`
	V      []wireFloat      `json:"v"`
}

type wireFloat float64

func (f wireFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *wireFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN", "+Inf", "-Inf":
			v, _ := strconv.ParseFloat(s, 64)
			*f = wireFloat(v)
			return nil
		}
		return fmt.Errorf("ingest: a sample value %q is not a number", s)
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = wireFloat(v)
	return nil
}

func toWire(ms []telemetry.SeriesSamples) []wireSeries {
	out := make([]wireSeries, len(ms))
	for i := range ms {
		w := &out[i]
		w.Series = ms[i].Series
		w.T, w.V = make([]int64, len(ms[i].Samples)), make([]wireFloat, len(ms[i].Samples))
		for j, x := range ms[i].Samples {
			w.T[j], w.V[j] = x.T, wireFloat(x.V)
		}
	}
	return out
}

func fromWire(ws []wireSeries) ([]telemetry.SeriesSamples, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	out := make([]telemetry.SeriesSamples, len(ws))
	for i := range ws {
		w := &ws[i]
		if len(w.T) != len(w.V) {
			return nil, fmt.Errorf("ingest: decoding a log record: metrics[%d] has %d times and %d values", i, len(w.T), len(w.V))
		}
		out[i].Series = w.Series
		out[i].Samples = make([]telemetry.Sample, len(w.T))
		for j := range w.T {
			out[i].Samples[j] = telemetry.Sample{T: w.T[j], V: float64(w.V[j])}
		}
	}
	return out, nil
}
