package traces

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/telemetry"
)

// Span is one span. IDs are lower-case hexadecimal.
type Span struct {
	TraceID       string
	SpanID        string
	ParentID      string // empty for a root span
	Service       string
	Name          string
	Kind          string // server, client, producer, consumer, internal, or empty
	Status        string // ok, error or unset
	StatusMessage string
	Start         int64 // epoch nanoseconds
	Duration      int64 // nanoseconds
	Attributes    telemetry.Tags
	Resource      telemetry.Tags
	// Identifiers are the components the span belongs to (see
	// telemetry.Identifiers), derived when it is written.
	Identifiers []string
}

// End is the span's end time in epoch nanoseconds.
func (s *Span) End() int64 { return s.Start + s.Duration }

// Fields gives a span's fields to telemetry.Eval: service, name, kind,
// status, duration (ns), start (epoch ms), trace_id, span_id, parent_id,
// attributes.<key>, resource.<key>.
func (s *Span) Fields() telemetry.Fields {
	return func(f string) []string {
		switch f {
		case "service":
			return []string{s.Service}
		case "name":
			return []string{s.Name}
		case "kind":
			return []string{s.Kind}
		case "status":
			return []string{s.Status}
		case "duration":
			return []string{strconv.FormatInt(s.Duration, 10)}
		case "start":
			return []string{strconv.FormatInt(s.Start/int64(time.Millisecond), 10)}
		case "trace_id":
			return []string{s.TraceID}
		case "span_id":
			return []string{s.SpanID}
		case "parent_id":
			return []string{s.ParentID}
		}
		if k, ok := strings.CutPrefix(f, "attributes."); ok {
			return s.Attributes.Get(k)
		}
		if k, ok := strings.CutPrefix(f, "resource."); ok {
			return s.Resource.Get(k)
		}
		return nil
	}
}

// Statuses are the span statuses.
var Statuses = []string{"ok", "error", "unset"}

// Trace is one trace as a search returns it: a summary of all its spans
// and the spans that matched.
type Trace struct {
	TraceID     string
	RootService string // the root span's service ("" when no root was seen)
	RootName    string
	Start       int64 // the earliest span start (epoch ns)
	Duration    int64 // the latest span end minus Start (ns)
	SpanCount   int
	Error       bool // a span has status error
	Services    []string
	Matched     []Span // the spans that matched, by start time
	root        *Span
}

// Summarize builds a trace's summary from all its spans. The root is the
// span without a parent (or whose parent is not among the spans), the
// earliest if there are several.
func Summarize(spans []Span) Trace {
	var t Trace
	if len(spans) == 0 {
		return t
	}
	ids := make(map[string]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	t.TraceID, t.Start, t.SpanCount = spans[0].TraceID, spans[0].Start, len(spans)
	end := spans[0].End()
	for i := range spans {
		s := &spans[i]
		t.Start, end = min(t.Start, s.Start), max(end, s.End())
		t.Error = t.Error || s.Status == "error"
		t.Services = append(t.Services, s.Service)
		if s.ParentID == "" || !ids[s.ParentID] {
			if t.root == nil || s.Start < t.root.Start || (s.Start == t.root.Start && s.SpanID < t.root.SpanID) {
				t.root = s
			}
		}
	}
	t.Duration = end - t.Start
	slices.Sort(t.Services)
	t.Services = slices.Compact(t.Services)
	if t.root != nil {
		t.RootService, t.RootName = t.root.Service, t.root.Name
		r := *t.root
		t.root = &r // do not keep the caller's slice
	}
	return t
}

// Order is ORDER BY of a search.
type Order struct {
	// Field is a span field: start and duration order by the trace's start
	// and duration, status by the trace's (error when a span has one),
	// every other field by the root span's value. Empty means start.
	Field string
	Desc  bool
}

// DefaultOrder is newest trace first.
var DefaultOrder = Order{Field: "start", Desc: true}

// Compare orders two traces by o, ties by start (newest first), then
// trace id.
func (o Order) Compare(a, b *Trace) int {
	c := 0
	switch o.Field {
	case "", "start":
		c = cmp.Compare(a.Start, b.Start)
	case "duration":
		c = cmp.Compare(a.Duration, b.Duration)
	case "status":
		c = strings.Compare(a.status(), b.status())
	default:
		c = strings.Compare(a.rootValue(o.Field), b.rootValue(o.Field))
	}
	if o.Desc {
		c = -c
	}
	return cmp.Or(c, cmp.Compare(b.Start, a.Start), strings.Compare(a.TraceID, b.TraceID))
}

func (t *Trace) status() string {
	if t.Error {
		return "error"
	}
	if t.root != nil {
		return t.root.Status
	}
	return "unset"
}

func (t *Trace) rootValue(f string) string {
	if f == "trace_id" {
		return t.TraceID
	}
	if t.root == nil {
		return ""
	}
	if v := t.root.Fields()(f); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Root returns the root span (nil when none was seen).
func (t *Trace) Root() *Span { return t.root }

// TraceQuery is a search.
type TraceQuery struct {
	// Filter is evaluated on spans (see Span.Fields).
	Filter telemetry.Expr
	// Identifiers, when not nil, keeps spans holding one of them.
	Identifiers []string
	// Start and End bound the matching spans' start times, both included,
	// in epoch nanoseconds.
	Start, End int64
	Order      Order
	// Limit is how many traces to return (0: all).
	Limit int
	// MaxTraces bounds the matching traces a search may summarise to
	// order them; past it the search fails with a *TooManyError instead of
	// answering from part of the data (0: no bound).
	MaxTraces int
}

// TooManyError says a search matched more traces than it may summarise.
type TooManyError struct{ Limit int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("traces: the search matches more than %d traces; narrow it", e.Limit)
}

// TraceIterator iterates the traces of a search in its order. At's trace
// belongs to the iterator until the next Next. Used by one goroutine;
// Close is needed even after Next returned false.
type TraceIterator interface {
	Next() bool
	At() *Trace
	Err() error
	Close() error
}

// Searcher is what the query engine needs of a span store.
type Searcher interface {
	// SearchTraces opens a search.
	SearchTraces(ctx context.Context, q TraceQuery) (TraceIterator, error)
	// ExplainTraces describes how the store would answer q.
	ExplainTraces(q TraceQuery) string
}

// Store keeps spans. Implementations are safe for concurrent use, and a
// search sees each append whole or not at all.
type Store interface {
	Searcher
	// AppendSpans writes spans; a span with the trace and span id of a
	// stored one (and in the same day) replaces it. The batch is not kept.
	AppendSpans(ctx context.Context, batch []Span) error
	// Spans returns the spans of a trace that start within [start, end]
	// (epoch ns), by start time.
	Spans(ctx context.Context, traceID string, start, end int64) ([]Span, error)
	// Compact drops spans older than the retention before now.
	Compact(ctx context.Context, now time.Time) error
	Close() error
}

// DefaultRetention is how long spans are kept by default.
const DefaultRetention = 7 * 24 * time.Hour

// ErrInvalid is a span or search the store refuses.
var ErrInvalid = telemetry.ErrInvalid

// ErrClosed is an operation on a closed store.
var ErrClosed = errors.New("traces: store closed")

// CheckSpan checks a span against the stores' limits.
func CheckSpan(s *Span) error {
	if s.TraceID == "" || s.SpanID == "" {
		return fmt.Errorf("%w: a span needs a trace id and a span id", ErrInvalid)
	}
	for _, id := range []string{s.TraceID, s.SpanID, s.ParentID} {
		if len(id) > 64 || !isHex(id) {
			return fmt.Errorf("%w: span id %q is not hexadecimal (at most 64 digits)", ErrInvalid, id)
		}
	}
	if s.Duration < 0 {
		return fmt.Errorf("%w: span %s has a negative duration", ErrInvalid, s.SpanID)
	}
	if err := telemetry.CheckTime("span start", s.Start/int64(time.Millisecond)); err != nil {
		return err
	}
	if !slices.Contains(Statuses, s.Status) {
		return fmt.Errorf("%w: span status %q is not ok, error or unset", ErrInvalid, s.Status)
	}
	for _, f := range []struct{ what, v string }{{"service", s.Service}, {"span name", s.Name}, {"span kind", s.Kind}, {"status message", s.StatusMessage}} {
		if err := telemetry.CheckString(f.what, f.v, telemetry.MaxNameBytes); err != nil {
			return err
		}
	}
	if err := telemetry.CheckTags(s.Attributes); err != nil {
		return err
	}
	if err := telemetry.CheckTags(s.Resource); err != nil {
		return err
	}
	return telemetry.CheckIdentifiers(s.Identifiers)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SpanIdentifiers returns a span's identifiers: its explicit ones plus
// those of its service and its resource and span attributes.
func SpanIdentifiers(s *Span) []string {
	tags := make(telemetry.Tags, 0, len(s.Resource)+len(s.Attributes)+1)
	tags = append(tags, s.Resource...)
	tags = append(tags, s.Attributes...)
	if s.Service != "" {
		tags = append(tags, telemetry.Tag{Key: "service.name", Value: s.Service})
	}
	return telemetry.Identifiers(telemetry.NewTags(tags), s.Identifiers)
}

// Tag is a span attribute.
type Tag = telemetry.Tag
