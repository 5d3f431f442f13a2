package mcpserver

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetrahq/tetra/exec"
)

// The data results (METRICS, EVENTS, TRACES) as compact text: a count
// line that says whether LIMIT cut the answer, then one line per series,
// event or trace, with what an assistant needs to follow up (component
// ids, trace ids) and not every point or attribute.

// maxMessage bounds an event's message or a span's status message in an
// answer.
const maxMessage = 200

// spansShown is how many matching spans are listed under a trace.
const spansShown = 3

func rangeText(from, to time.Time) string {
	return fmt.Sprintf("from %s to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}

// cutNote says plainly that LIMIT cut a data result.
func cutNote(truncated bool) string {
	if truncated {
		return ", cut by LIMIT (more matched; raise the limit or narrow the filter)"
	}
	return ""
}

func (w *writer) metrics(r *exec.MetricsResult, limit int) {
	agg := "raw samples"
	if r.Aggregation != "" {
		agg = r.Aggregation
		if r.StepMs > 0 {
			agg += " per " + (time.Duration(r.StepMs) * time.Millisecond).String()
		}
	}
	w.line("%s %s (%s)%s", count(len(r.Series), "series", "series"), rangeText(r.From, r.To), agg, cutNote(r.Truncated))
	w.list("series", len(r.Series), limit, func(i int) { w.line("%s", seriesLine(r.Series[i])) })
}

// seriesLine is a series' labels, its component, and a summary of its
// points: how many, the last, the lowest and the highest.
func seriesLine(s exec.MetricSeries) string {
	var b strings.Builder
	b.WriteString("{" + s.Labels.String() + "}")
	if c := s.Component; c != nil {
		fmt.Fprintf(&b, " of #%d %s [%s]", c.ID, c.Name, c.Type)
	}
	if len(s.Points) == 0 {
		b.WriteString(": no points")
		return b.String()
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		lo, hi = min(lo, p.V), max(hi, p.V)
	}
	last := s.Points[len(s.Points)-1]
	fmt.Fprintf(&b, ": %s, last %s at %s, min %s, max %s", count(len(s.Points), "point", "points"), num(last.V),
		time.UnixMilli(last.T).UTC().Format(time.RFC3339), num(lo), num(hi))
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func (w *writer) events(r *exec.EventsResult, limit int) {
	w.line("%s %s, newest first%s", count(len(r.Events), "event", "events"), rangeText(r.From, r.To), cutNote(r.Truncated))
	w.list("events", len(r.Events), limit, func(i int) {
		e := r.Events[i]
		s := fmt.Sprintf("%s [%s] %s", time.UnixMilli(e.Timestamp).UTC().Format(time.RFC3339), e.Category, e.Name)
		if e.Source != "" {
			s += " (" + e.Source + ")"
		}
		if len(e.Identifiers) > 0 {
			s += " on " + strings.Join(e.Identifiers, " ")
		}
		if e.Message != "" {
			s += ": " + clip(e.Message)
		}
		w.line("%s", s)
	})
}

func (w *writer) traces(r *exec.TracesResult, limit int) {
	w.line("%s %s%s", count(len(r.Traces), "trace", "traces"), rangeText(r.From, r.To), cutNote(r.Truncated))
	w.list("traces", len(r.Traces), limit, func(i int) {
		tr := r.Traces[i]
		status := "ok"
		if tr.Error {
			status = "error"
		}
		w.line("trace %s %s %q %s %s, %s, services %s, started %s", tr.TraceID, tr.RootService, tr.RootName,
			dur(tr.DurationNano), status, count(tr.SpanCount, "span", "spans"), strings.Join(tr.Services, " "),
			time.Unix(0, tr.StartTimeUnixNano).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		for j, sp := range tr.Spans {
			if j == spansShown {
				w.line("  … %d more matching spans", len(tr.Spans)-spansShown)
				break
			}
			s := fmt.Sprintf("  span %s %s %q %s %s", sp.SpanID, sp.Service, sp.Name, dur(sp.DurationNano), sp.Status)
			if sp.StatusMessage != "" {
				s += ": " + clip(sp.StatusMessage)
			}
			w.line("%s", s)
		}
	})
}

// count is "1 event", "2 events".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func dur(ns int64) string { return time.Duration(ns).Round(time.Microsecond).String() }

// clip shortens a message to maxMessage bytes on a rune boundary, on one
// line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
