package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// Payload is everything one document carries, decoded and validated:
// topology to apply, and metrics, events and spans to append.
type Payload struct {
	Topologies []Topology
	// Metrics holds one entry per series, its samples in document order.
	Metrics []telemetry.SeriesSamples
	Events  []telemetry.Event
	Spans   []traces.Span
}

// Empty reports whether the payload carries nothing.
func (p *Payload) Empty() bool {
	return len(p.Topologies) == 0 && len(p.Metrics) == 0 && len(p.Events) == 0 && len(p.Spans) == 0
}

// Samples counts the metric samples.
func (p *Payload) Samples() int {
	n := 0
	for _, s := range p.Metrics {
		n += len(s.Samples)
	}
	return n
}

// DecodePayload reads a payload from r and decodes it; see
// DecodePayloadBytes.
func (dc Decoder) DecodePayload(r io.Reader) (*Payload, error) {
	b, err := io.ReadAll(io.LimitReader(r, dc.maxBytes()+1))
	if err != nil {
		return nil, fmt.Errorf("ingest: reading payload: %w", err)
	}
	return dc.DecodePayloadBytes(b)
}

// DecodePayloadBytes decodes any payload the package knows (see the package
// documentation): topology, metrics, events and spans. As DecodeBytes, it
// returns every input error with its JSON path in one *ErrorList and
// nothing of a payload with an error.
func (dc Decoder) DecodePayloadBytes(b []byte) (*Payload, error) {
	w, err := dc.walk(b)
	if err != nil {
		return nil, err
	}
	return w.payload(), nil
}

func (w *walker) payload() *Payload {
	return &Payload{Topologies: w.out, Metrics: w.tel.series(), Events: w.tel.events, Spans: w.tel.spans}
}

// telemetryOut collects the data of a document.
type telemetryOut struct {
	byKey  map[string]int // series key → index in metrics
	metric []telemetry.SeriesSamples
	events []telemetry.Event
	spans  []traces.Span
}

func (t *telemetryOut) series() []telemetry.SeriesSamples { return t.metric }

// addSample adds a sample to its series, creating the series on first use.
func (t *telemetryOut) addSample(s telemetry.Series, x telemetry.Sample) {
	key := s.Key()
	i, ok := t.byKey[key]
	if !ok {
		if t.byKey == nil {
			t.byKey = map[string]int{}
		}
		i = len(t.metric)
		t.byKey[key] = i
		t.metric = append(t.metric, telemetry.SeriesSamples{Series: s})
	}
	t.metric[i].Samples = append(t.metric[i].Samples, x)
}

// ---- shared value readers ----

// number decodes a JSON number; ok false (error recorded) for any other
// type.
func (d *dec) number(p *path, raw json.RawMessage) (float64, bool) {
	if k := kindOf(raw); k == 0 || k == 'n' {
		d.failf(p, "missing")
		return 0, false
	}
	if k := kindOf(raw); k == '"' || k == '{' || k == '[' || k == 't' || k == 'f' {
		d.wrongType(p, "a number", raw)
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !isRange(err) {
		d.wrongType(p, "a number", raw)
		return 0, false
	}
	return v, true
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// epochSeconds decodes a time in epoch seconds (a fraction allowed) as
// epoch milliseconds, checking it is within the years the stores keep.
func (d *dec) epochSeconds(p *path, raw json.RawMessage) (int64, bool) {
	v, ok := d.number(p, raw)
	if !ok {
		return 0, false
	}
	ms := math.Round(v * 1000)
	if !(ms >= 0 && ms <= telemetry.MaxTime) {
		d.failf(p, "%s is not a time in epoch seconds between 1970 and 9999", raw)
		return 0, false
	}
	return int64(ms), true
}

// tagList decodes a list of "key:value" strings into tags.
func (d *dec) tagList(p *path, raw json.RawMessage) telemetry.Tags {
	l, ok := d.optStrings(p, raw)
	if !ok {
		return nil
	}
	tags := make(telemetry.Tags, 0, len(l))
	for _, s := range l {
		if t := telemetry.ParseTag(s); t.Key != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// checkData reports a value the stores refuse, naming its path.
func (d *dec) checkData(p *path, err error) bool {
	if err == nil {
		return true
	}
	d.failf(p, "%s", trimClass(err))
	return false
}

// trimClass drops the "telemetry: invalid input: " class prefix from a
// store validation error: the path says where, the rest what.
func trimClass(err error) string {
	msg := err.Error()
	prefix := telemetry.ErrInvalid.Error() + ": "
	if i := bytes.Index([]byte(msg), []byte(prefix)); i >= 0 {
		return msg[i+len(prefix):]
	}
	return msg
}

// sortedTags returns tags in canonical order, without empty keys.
func sortedTags(t telemetry.Tags) telemetry.Tags {
	t = slices.DeleteFunc(t, func(x telemetry.Tag) bool { return x.Key == "" })
	return telemetry.NewTags(t)
}

// Shift moves every metric sample, event and span by d (topology has no
// times of its own: its versions are stamped when applied). It is for
// replaying recorded data as if it were recent.
func (p *Payload) Shift(d time.Duration) {
	ms := d.Milliseconds()
	for i := range p.Metrics {
		for j := range p.Metrics[i].Samples {
			p.Metrics[i].Samples[j].T += ms
		}
	}
	for i := range p.Events {
		p.Events[i].Time += ms
	}
	for i := range p.Spans {
		p.Spans[i].Start += d.Nanoseconds()
	}
}
