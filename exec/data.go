package exec

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/planner"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// DataStores are the stores the data statements read. A statement whose
// store is nil is unsupported (ErrUnsupported).
type DataStores struct {
	Metrics telemetry.MetricStore
	Events  telemetry.EventStore
	Traces  traces.Searcher
}

// isData reports whether a statement reads the data stores.
func isData(stmt lang.Statement) bool {
	switch stmt.(type) {
	case *lang.MetricsStmt, *lang.EventsStmt, *lang.TracesStmt:
		return true
	}
	return false
}

// runData runs METRICS, EVENTS or TRACES with options o (filled).
func (e *Engine) runData(parent context.Context, stmt lang.Statement, o QueryOptions) (*Result, error) {
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	var res *Result
	var err error
	switch s := stmt.(type) {
	case *lang.MetricsStmt:
		var m *MetricsResult
		m, err = e.metrics(ctx, s, o)
		res = &Result{Metrics: m}
	case *lang.EventsStmt:
		var ev *EventsResult
		ev, err = e.events(ctx, s, o)
		res = &Result{Events: ev}
	case *lang.TracesStmt:
		var t *TracesResult
		t, err = e.traces(ctx, s, o)
		res = &Result{Traces: t}
	}
	if err != nil {
		return nil, timeout(parent, ctx, o.Timeout, err)
	}
	return res, nil
}

// dataRange resolves a statement's range: FROM … TO …, the last hour by
// default.
func dataRange(r *lang.Range, now time.Time) (time.Time, time.Time, error) {
	if r == nil {
		return now.Add(-time.Hour), now, nil
	}
	from, to := r.From.Resolve(now), now
	if r.To != nil {
		to = r.To.Resolve(now)
	}
	if to.Before(from) {
		return from, to, &planner.PlanError{Span: r.Src, Msg: fmt.Sprintf("the range ends (%s) before it starts (%s)",
			to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))}
	}
	if from.UnixMilli() < 0 || to.UnixMilli() > telemetry.MaxTime {
		return from, to, &planner.PlanError{Span: r.Src, Msg: "the range must lie within the years 1970 to 9999"}
	}
	return from, to, nil
}

// join is the components a data statement is confined to: those of its
// FOR clause (within the caller's scope), or, without FOR, the scope's.
// A nil join means no confinement.
type join struct {
	at    time.Time
	comps []*graphstore.Component
	// counted says the components are the query's own (FOR) and count
	// against the element limit; a scope's only confine.
	counted bool
}

// identifiers returns the identifiers of the joined components (nil for
// no join), sorted.
func (j *join) identifiers() []string {
	if j == nil {
		return nil
	}
	out := []string{}
	for _, c := range j.comps {
		out = append(out, c.Identifiers...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// joinOf evaluates a FOR clause at the range's end (or its own AT), or the
// scope when there is no FOR.
func (e *Engine) joinOf(ctx context.Context, f *lang.TopologyStmt, end time.Time, o QueryOptions) (*join, error) {
	switch {
	case f != nil:
		now := end
		if f.At != nil {
			now = o.Now // relative times in AT count from the query's start
		}
		return e.components(ctx, f, planner.Options{Now: now, Disabled: e.o.Disabled, Scope: o.Scope}, o.MaxElements, true)
	case o.Scope != nil:
		return e.components(ctx, &lang.TopologyStmt{Query: o.Scope, Src: o.Scope.Span()},
			planner.Options{Now: end, Disabled: e.o.Disabled}, math.MaxInt, false)
	}
	return nil, nil
}

// components evaluates a topology statement and loads its components.
func (e *Engine) components(ctx context.Context, ts *lang.TopologyStmt, po planner.Options, limit int, counted bool) (*join, error) {
	cat := &catalog{g: e.g}
	defer cat.close()
	q, err := planner.Build(ts, cat, po)
	if err != nil {
		return nil, err
	}
	snap, err := e.g.Snapshot(q.At)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	r := newRun(ctx, snap, limit)
	ids, err := evaluate(r, q.Root)
	if err != nil {
		return nil, err
	}
	j := &join{at: q.At, counted: counted}
	for _, id := range ids {
		c, err := r.component(id)
		if err != nil {
			return nil, err
		}
		if c != nil {
			j.comps = append(j.comps, c)
		}
	}
	return j, nil
}

func refOf(c *graphstore.Component) *ComponentRef {
	return &ComponentRef{ID: uint64(c.ID), Name: c.Name, Type: c.Type}
}

// limitOf returns how many results to fetch: LIMIT n plus one (to know
// whether it cut), else the element limit plus one (to know whether it was
// exceeded).
func limitOf(l *lang.Limit, max int) (fetch int, limit int) {
	if l != nil && l.N <= max {
		return l.N + 1, l.N
	}
	return max + 1, 0
}

// ExplainData draws the data plan of a statement: the store's access path,
// the join with the topology and what is computed.
func (e *Engine) explainData(stmt lang.Statement, o QueryOptions) (string, error) {
	var b strings.Builder
	var f *lang.TopologyStmt
	var r *lang.Range
	switch s := stmt.(type) {
	case *lang.MetricsStmt:
		f, r = s.For, s.Range
	case *lang.EventsStmt:
		f, r = s.For, s.Range
	case *lang.TracesStmt:
		f, r = s.For, s.Range
	}
	from, to, err := dataRange(r, o.Now)
	if err != nil {
		return "", err
	}
	store, err := e.explainStore(stmt, from, to, o)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "%s from %s to %s\n", kindName(stmt), stamp(from), stamp(to))
	b.WriteString(store)
	if f != nil || o.Scope != nil {
		if err := e.explainJoin(&b, f, to, o); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func kindName(stmt lang.Statement) string {
	switch stmt.(type) {
	case *lang.MetricsStmt:
		return "metrics"
	case *lang.EventsStmt:
		return "events"
	}
	return "traces"
}

// explainJoin draws the topology plan whose components' identifiers
// confine the data.
func (e *Engine) explainJoin(b *strings.Builder, f *lang.TopologyStmt, end time.Time, o QueryOptions) error {
	ts, po := f, planner.Options{Now: end, Disabled: e.o.Disabled, Scope: o.Scope}
	what := "FOR"
	if f == nil {
		ts, po.Scope, what = &lang.TopologyStmt{Query: o.Scope}, nil, "the scope"
	} else if f.At != nil {
		po.Now = o.Now
	}
	cat := &catalog{g: e.g}
	defer cat.close()
	q, err := planner.Build(ts, cat, po)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "join on identifiers with the components of %s:\n", what)
	for _, line := range strings.Split(strings.TrimRight(planner.Explain(q, cat), "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return nil
}

// explainStore asks the statement's store how it would read.
func (e *Engine) explainStore(stmt lang.Statement, from, to time.Time, o QueryOptions) (string, error) {
	switch s := stmt.(type) {
	case *lang.MetricsStmt:
		if e.o.Data.Metrics == nil {
			return "", unsupported(stmt)
		}
		q, err := metricQuery(s, from, to, o.Now)
		if err != nil {
			return "", err
		}
		return e.o.Data.Metrics.ExplainMetrics(q), nil
	case *lang.EventsStmt:
		if e.o.Data.Events == nil {
			return "", unsupported(stmt)
		}
		filter, err := translate(s.Where, kindEvents, o.Now)
		if err != nil {
			return "", err
		}
		fetch, _ := limitOf(s.Limit, o.MaxElements)
		return e.o.Data.Events.ExplainEvents(telemetry.EventQuery{Filter: filter, Start: from.UnixMilli(), End: to.UnixMilli(), Limit: fetch}), nil
	case *lang.TracesStmt:
		if e.o.Data.Traces == nil {
			return "", unsupported(stmt)
		}
		q, err := traceQuery(s, from, to, o)
		if err != nil {
			return "", err
		}
		return e.o.Data.Traces.ExplainTraces(q), nil
	}
	return "", unsupported(stmt)
}
