// Package tracetest is the conformance suite of traces.Store
// implementations: datadriven files under testdata/ run unchanged against
// every store.
//
// Commands:
//
//	append-spans   one span per line: TRACE SPAN [parent=P] [service=S] [name=N]
//	               [kind=K] [status=S] start=SEC dur=MS [a.KEY=V] [r.KEY=V] [@ID]
//	search from=SEC to=SEC [order=FIELD[,desc]] [limit=N] [max=N] [ids=a|b]
//	               the input is a filter in teltest's notation, durations in ns
//	spans trace=T from=SEC to=SEC
package tracetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/teltest"
	"github.com/tetrahq/tetra/traces"
)

// Run runs every file against fresh stores made by open.
func Run(t *testing.T, open func(t *testing.T) traces.Store) {
	_, file, _, _ := runtime.Caller(0)
	datadriven.Walk(t, filepath.Join(filepath.Dir(file), "testdata"), func(t *testing.T, path string) {
		st := open(t)
		defer st.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := run(st, d)
			if err != nil {
				var tm *traces.TooManyError
				switch {
				case errors.Is(err, traces.ErrInvalid):
					return "error: invalid\n"
				case errors.As(err, &tm):
					return fmt.Sprintf("error: more than %d traces\n", tm.Limit)
				}
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func sec(s string) int64 {
	f, _ := strconv.ParseFloat(s, 64)
	return int64(math.Round(f * 1e9))
}

func run(st traces.Store, d *datadriven.TestData) (string, error) {
	ctx := context.Background()
	a := map[string]string{}
	for _, arg := range d.CmdArgs {
		a[arg.Key] = strings.Join(arg.Vals, ",")
	}
	switch d.Cmd {
	case "append-spans":
		spans, err := parseSpans(d.Input)
		if err != nil {
			return "", err
		}
		if err := st.AppendSpans(ctx, spans); err != nil {
			return "", err
		}
		return "ok\n", nil
	case "search":
		q := traces.TraceQuery{Start: sec(a["from"]), End: sec(a["to"])}
		var err error
		if q.Filter, err = teltest.ParseFilter(d.Input); err != nil {
			return "", err
		}
		if o, ok := a["order"]; ok {
			f, dir, _ := strings.Cut(o, ",")
			q.Order = traces.Order{Field: f, Desc: dir == "desc"}
		}
		q.Limit, _ = strconv.Atoi(a["limit"])
		q.MaxTraces, _ = strconv.Atoi(a["max"])
		if ids, ok := a["ids"]; ok {
			q.Identifiers = strings.Split(ids, "|")
		}
		it, err := st.SearchTraces(ctx, q)
		if err != nil {
			return "", err
		}
		return formatTraces(it)
	case "spans":
		spans, err := st.Spans(ctx, a["trace"], sec(a["from"]), sec(a["to"]))
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, s := range spans {
			b.WriteString(FormatSpan(&s) + "\n")
		}
		if len(spans) == 0 {
			return "no spans\n", nil
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func parseSpans(input string) ([]traces.Span, error) {
	var out []traces.Span
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("want TRACE SPAN …, got %q", line)
		}
		s := traces.Span{TraceID: f[0], SpanID: f[1], Status: "unset"}
		for _, kv := range f[2:] {
			if id, ok := strings.CutPrefix(kv, "@"); ok {
				s.Identifiers = append(s.Identifiers, id)
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case k == "parent":
				s.ParentID = v
			case k == "service":
				s.Service = v
			case k == "name":
				s.Name = v
			case k == "kind":
				s.Kind = v
			case k == "status":
				s.Status = v
			case k == "start":
				s.Start = sec(v)
			case k == "dur":
				ms, _ := strconv.ParseFloat(v, 64)
				s.Duration = int64(ms * 1e6)
			case strings.HasPrefix(k, "a."):
				s.Attributes = append(s.Attributes, telemetry.Tag{Key: k[2:], Value: v})
			case strings.HasPrefix(k, "r."):
				s.Resource = append(s.Resource, telemetry.Tag{Key: k[2:], Value: v})
			default:
				return nil, fmt.Errorf("unknown span field %q", k)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func ms(ns int64) string { return strconv.FormatFloat(float64(ns)/1e6, 'f', -1, 64) + "ms" }

func fmtSec(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64) }

// FormatSpan prints a span on one line.
func FormatSpan(s *traces.Span) string {
	out := fmt.Sprintf("  %s/%s %s %q", s.TraceID, s.SpanID, s.Service, s.Name)
	if s.ParentID != "" {
		out += " parent=" + s.ParentID
	}
	out += fmt.Sprintf(" start=%s dur=%s status=%s", fmtSec(s.Start), ms(s.Duration), s.Status)
	if s.Kind != "" {
		out += " kind=" + s.Kind
	}
	if len(s.Attributes) > 0 {
		out += " attrs={" + s.Attributes.String() + "}"
	}
	if len(s.Identifiers) > 0 {
		out += " ids=" + strings.Join(s.Identifiers, ",")
	}
	return out
}

func formatTraces(it traces.TraceIterator) (string, error) {
	defer it.Close()
	var b strings.Builder
	n := 0
	for it.Next() {
		t := it.At()
		n++
		fmt.Fprintf(&b, "trace %s root=%s/%q start=%s dur=%s spans=%d error=%t services=%s\n", t.TraceID, t.RootService, t.RootName,
			fmtSec(t.Start), ms(t.Duration), t.SpanCount, t.Error, strings.Join(t.Services, ","))
		for i := range t.Matched {
			b.WriteString(FormatSpan(&t.Matched[i]) + "\n")
		}
	}
	if err := it.Err(); err != nil {
		return "", err
	}
	if n == 0 {
		return "no traces\n", nil
	}
	return b.String(), nil
}
