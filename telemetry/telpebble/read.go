package telpebble

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/tsagg"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// checkQuery refuses a query no store can answer.
func checkQuery(q *telemetry.MetricQuery) error {
	if q.End < q.Start {
		return fmt.Errorf("telpebble: %w: the range ends before it starts", telemetry.ErrInvalid)
	}
	if a := q.Agg; a != nil {
		if a.Method < telemetry.Mean || a.Method > telemetry.CountNoZeros {
			return fmt.Errorf("telpebble: %w: unknown aggregation %d", telemetry.ErrInvalid, a.Method)
		}
		if a.Step < 0 || (a.Method == telemetry.Percentile && !(a.Percentile > 0 && a.Percentile <= 100)) {
			return fmt.Errorf("telpebble: %w: bad aggregation %+v", telemetry.ErrInvalid, *a)
		}
		if a.Step > 0 && (q.End/a.Step-q.Start/a.Step) > maxBuckets {
			return fmt.Errorf("telpebble: %w: %d buckets of %s; the limit is %d", telemetry.ErrInvalid,
				(q.End-q.Start)/a.Step, time.Duration(a.Step)*time.Millisecond, maxBuckets)
		}
	}
	return nil
}

// maxBuckets bounds the buckets of one aggregation (a year of minutes).
const maxBuckets = 1 << 20

// selected is a series a read will visit, with the newest window it had
// sealed when the read began.
type selected struct {
	*seriesMeta
	lastWindow int64
}

// reader reads the samples of selected series from one Pebble snapshot
// and a copy of the head taken with it.
type reader struct {
	ctx        context.Context
	snap       *pebble.Snapshot
	its        []*pebble.Iterator // one per window of the range (see iter)
	head       view
	start, end int64
	buf        []telemetry.Sample // decoded samples of one window
	out        []telemetry.Sample // samples of one series in range
	runs       [][]telemetry.Sample
	key        []byte
	hdrs       []tsz.Header // chunk headers of one window (summarize)
	spans      []span       // head spans of one window (summarize)
	summarized int64        // chunks answered by their summaries
	stats      *readStats
	readers    *atomic.Int64   // the store's, given back by close
	reads      *sync.WaitGroup // the store's, done by close once the snapshot is closed
}

// readStats counts what reads did, for tests and measurements.
type readStats struct {
	summarized atomic.Int64 // chunks answered by their summaries
}

// open selects the series of q and opens a reader over them.
func (s *Store) open(ctx context.Context, q *telemetry.MetricQuery) (*reader, []selected, error) {
	if err := checkQuery(q); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.hmu.RLock()
	if s.closed {
		s.hmu.RUnlock()
		return nil, nil, telemetry.ErrClosed
	}
	metas := s.idx.selectSeries(q)
	sel := make([]selected, len(metas))
	for i, m := range metas {
		sel[i] = selected{m, m.lastWindow}
	}
	snap := s.db.NewSnapshot()
	hv := s.head.viewOf(metas, windowOf(q.Start), windowOf(q.End))
	s.readers.Add(1)
	s.reads.Add(1)
	s.hmu.RUnlock()
	n := min(windowOf(q.End)-windowOf(q.Start)+1, maxWindowIters)
	return &reader{ctx: ctx, snap: snap, its: make([]*pebble.Iterator, n), head: hv,
		start: q.Start, end: q.End, stats: &s.stats, readers: &s.readers, reads: &s.reads}, sel, nil
}

// maxWindowIters bounds the iterators a read keeps open, one per window:
// a read goes series by series, window by window, and an iterator of its
// own per window keeps each seek in the files and blocks of its window
// (one iterator for all went from file to file at every seek). A range of
// more windows shares the last iterator among the windows past the bound.
const maxWindowIters = 64

// iter returns the chunk iterator of window w (bounded to the window's
// chunks, or to all chunks where windows share one).
func (r *reader) iter(w int64) (*pebble.Iterator, error) {
	i := int(w - windowOf(r.start))
	o := &pebble.IterOptions{LowerBound: windowStart(tagChunk, w), UpperBound: windowStart(tagChunk, w+1)}
	if i >= maxWindowIters-1 && windowOf(r.end)-windowOf(r.start) >= maxWindowIters {
		i = maxWindowIters - 1
		o = &pebble.IterOptions{LowerBound: []byte{tagChunk}, UpperBound: []byte{tagChunk + 1}}
	}
	if r.its[i] != nil {
		return r.its[i], nil
	}
	it, err := r.snap.NewIter(o)
	if err != nil {
		return nil, err
	}
	r.its[i] = it
	return it, nil
}

func (r *reader) close() error {
	r.stats.summarized.Add(r.summarized)
	r.readers.Add(-1)
	var err error
	for _, it := range r.its {
		if it != nil {
			err = cmp.Or(err, it.Close())
		}
	}
	err = cmp.Or(err, r.snap.Close())
	r.reads.Done()
	return err
}

// samples returns a series' samples in the range, sorted by time; the
// slice is reused by the next call.
func (r *reader) samples(m selected) ([]telemetry.Sample, error) {
	r.out = r.out[:0]
	err := r.windows(m, func(win []telemetry.Sample) {
		for _, x := range win {
			if x.T >= r.start && x.T <= r.end {
				r.out = append(r.out, x)
			}
		}
	})
	return r.out, err
}

// windows calls fn with a series' samples of each window of the range, in
// time order (fn must filter to the range, and must not keep the slice).
// Aggregations take the windows as they come, without a copy.
func (r *reader) windows(m selected, fn func([]telemetry.Sample)) error {
	return r.aggregate(m, funcSink(fn))
}

// sink takes a series' samples window by window; an aggregation also takes
// the summaries of whole chunks in place of their samples (Covers says
// when it can). *tsagg.Agg is one.
type sink interface {
	Add([]telemetry.Sample)
	Covers(minT, maxT int64) bool
	AddSummary(minT int64, s tsz.Summary)
}

// funcSink takes samples only.
type funcSink func([]telemetry.Sample)

func (f funcSink) Add(s []telemetry.Sample)    { f(s) }
func (funcSink) Covers(int64, int64) bool      { return false }
func (funcSink) AddSummary(int64, tsz.Summary) {}

// aggSinks feeds several aggregations the same series (a series in several
// groups); they share the aggregation's parameters.
type aggSinks []*tsagg.Agg

func (as aggSinks) Add(s []telemetry.Sample) {
	for _, a := range as {
		a.Add(s)
	}
}

func (as aggSinks) Covers(minT, maxT int64) bool { return len(as) > 0 && as[0].Covers(minT, maxT) }

func (as aggSinks) AddSummary(minT int64, s tsz.Summary) {
	for _, a := range as {
		a.AddSummary(minT, s)
	}
}

// aggregate feeds a series' samples in the range to to, window by window,
// in time order; chunks that to covers whole, and that no other write
// overlaps, go as their summaries without being decoded.
func (r *reader) aggregate(m selected, to sink) error {
	w0, w1 := windowOf(r.start), windowOf(r.end)
	for w := w0; w <= w1; w++ {
		hc, inHead := r.head.get(w, m.id)
		if w > m.lastWindow && !inHead {
			continue // nothing sealed there, nothing in the head
		}
		win, err := r.window(w, m.id, hc, inHead, w <= m.lastWindow, to)
		if err != nil {
			return err
		}
		if len(win) > 0 {
			to.Add(win)
		}
	}
	return nil
}

// window returns one window's samples of a series: its chunks, oldest
// first, then the head's, merged so that later writes win at equal times.
// Chunks that to takes as summaries (see summarize) are left out.
func (r *reader) window(w int64, id uint64, hc headChunk, inHead, sealed bool, to sink) ([]telemetry.Sample, error) {
	r.buf = r.buf[:0]
	r.runs = r.runs[:0]
	if sealed {
		done, all, err := r.summarize(w, id, hc, inHead, to)
		if err != nil {
			return nil, err
		}
		if all && !inHead {
			return nil, nil
		}
		if err := r.decodeChunks(w, id, done); err != nil {
			return nil, err
		}
	}
	if inHead {
		r.runs = append(r.runs, hc.run)
		if len(hc.ooo) > 0 {
			r.runs = append(r.runs, hc.ooo)
		}
	}
	switch {
	case len(r.runs) == 0:
		return nil, nil
	case len(r.runs) == 1 && (!inHead || len(hc.ooo) == 0):
		return r.runs[0], nil
	case disjoint(r.runs, inHead && len(hc.ooo) > 0):
		var out []telemetry.Sample
		for _, run := range r.runs {
			out = append(out, run...)
		}
		return out, nil
	}
	return mergeRuns(r.runs), nil
}

// decodeChunks decodes the chunks of a series in a window that overlap the
// range, except those whose positions are set in skip, into runs.
func (r *reader) decodeChunks(w int64, id uint64, skip uint64) error {
	it, err := r.iter(w)
	if err != nil {
		return err
	}
	r.key = chunkPrefix(r.key[:0], w, id)
	pos := 0
	for ok := it.SeekGE(r.key); ok && bytes.HasPrefix(it.Key(), r.key); ok = it.Next() {
		pos++
		if pos <= 64 && skip&(1<<(pos-1)) != 0 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		h, _, err := tsz.ReadHeader(v)
		if err != nil {
			return fmt.Errorf("telpebble: chunk %x: %w", it.Key(), err)
		}
		if h.MaxT < r.start || h.MinT > r.end {
			continue
		}
		n := len(r.buf)
		if r.buf, err = tsz.Decode(r.buf, v); err != nil {
			return fmt.Errorf("telpebble: chunk %x: %w", it.Key(), err)
		}
		r.runs = append(r.runs, r.buf[n:])
	}
	return it.Error()
}

// maxSummarized is the most chunks of a series in one window that
// summarize considers (a window normally holds one; compaction merges).
const maxSummarized = 64

// summarize hands to the summaries of the series' chunks in window w that
// it covers whole and that nothing else written overlaps in time (another
// chunk, the head): their samples are the series' only ones in their
// span, so the summary is exactly what adding them would add. It returns
// the chunks' positions (bit i: the i-th chunk in key order), and whether
// that is every chunk of the window.
func (r *reader) summarize(w int64, id uint64, hc headChunk, inHead bool, to sink) (done uint64, all bool, err error) {
	// Only when the window's part of the range lies in one bucket (a
	// chunk lies in its window): else the headers would be read for
	// nothing before the chunks are decoded. Raw samples and percentiles
	// are never covered.
	if !to.Covers(max(w*WindowMs, r.start), min((w+1)*WindowMs-1, r.end)) {
		return 0, false, nil
	}
	it, err := r.iter(w)
	if err != nil {
		return 0, false, err
	}
	r.hdrs = r.hdrs[:0]
	r.key = chunkPrefix(r.key[:0], w, id)
	for ok := it.SeekGE(r.key); ok && bytes.HasPrefix(it.Key(), r.key); ok = it.Next() {
		if len(r.hdrs) == maxSummarized {
			return 0, false, nil
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, false, err
		}
		h, _, err := tsz.ReadHeader(v)
		if err != nil {
			return 0, false, fmt.Errorf("telpebble: chunk %x: %w", it.Key(), err)
		}
		r.hdrs = append(r.hdrs, h)
	}
	if err := it.Error(); err != nil {
		return 0, false, err
	}
	others := r.headSpans(hc, inHead)
	for i, h := range r.hdrs {
		if !h.HasSummary || !to.Covers(h.MinT, h.MaxT) || r.overlapsOthers(i, others) {
			continue
		}
		to.AddSummary(h.MinT, h.Summary)
		done |= 1 << i
		r.summarized++
	}
	return done, done == 1<<len(r.hdrs)-1, nil
}

// span is an inclusive interval of sample times.
type span struct{ minT, maxT int64 }

func (a span) overlaps(b span) bool { return a.minT <= b.maxT && b.minT <= a.maxT }

// headSpans returns the spans of a series' head samples in a window.
func (r *reader) headSpans(hc headChunk, inHead bool) []span {
	r.spans = r.spans[:0]
	if !inHead {
		return r.spans
	}
	if n := len(hc.run); n > 0 {
		r.spans = append(r.spans, span{hc.run[0].T, hc.run[n-1].T})
	}
	if len(hc.ooo) > 0 {
		sp := span{hc.ooo[0].T, hc.ooo[0].T}
		for _, x := range hc.ooo[1:] {
			sp.minT, sp.maxT = min(sp.minT, x.T), max(sp.maxT, x.T)
		}
		r.spans = append(r.spans, sp)
	}
	return r.spans
}

// overlapsOthers reports whether chunk i of r.hdrs shares times with
// another chunk of the window or with the head's spans.
func (r *reader) overlapsOthers(i int, head []span) bool {
	sp := span{r.hdrs[i].MinT, r.hdrs[i].MaxT}
	for j, h := range r.hdrs {
		if j != i && sp.overlaps(span{h.MinT, h.MaxT}) {
			return true
		}
	}
	for _, o := range head {
		if sp.overlaps(o) {
			return true
		}
	}
	return false
}

// disjoint reports whether sorted runs follow each other in time without
// overlap (so concatenation is their merge). A run of out-of-order head
// samples is never sorted.
func disjoint(runs [][]telemetry.Sample, lastUnsorted bool) bool {
	if lastUnsorted {
		return false
	}
	for i := 1; i < len(runs); i++ {
		if len(runs[i-1]) > 0 && len(runs[i]) > 0 && runs[i][0].T <= runs[i-1][len(runs[i-1])-1].T {
			return false
		}
	}
	return true
}

// SelectMetrics answers a query: raw samples or per-series aggregates are
// computed series by series as the set is iterated; groups are computed
// when the set is opened.
func (s *Store) SelectMetrics(ctx context.Context, q telemetry.MetricQuery) (telemetry.SeriesSet, error) {
	r, sel, err := s.open(ctx, &q)
	if err != nil {
		return nil, err
	}
	if q.Agg == nil || (len(q.Agg.GroupBy) == 0 && q.Agg.Components == nil) {
		set := &seriesSet{r: r, sel: sel}
		if q.Agg != nil {
			set.agg = tsagg.New(*q.Agg, q.Start, q.End)
		}
		return set, nil
	}
	defer r.close()
	groups, err := aggregateGroups(r, sel, q.Agg)
	if err != nil {
		return nil, err
	}
	return telemetry.SliceSeries(groups), nil
}

// seriesSet iterates selected series one by one.
type seriesSet struct {
	r    *reader
	sel  []selected
	agg  *tsagg.Agg // nil: raw samples
	cur  telemetry.ResultSeries
	err  error
	done bool
}

func (ss *seriesSet) Next() bool {
	for !ss.done && len(ss.sel) > 0 {
		m := ss.sel[0]
		ss.sel = ss.sel[1:]
		if err := ss.r.ctx.Err(); err != nil {
			ss.err = err
			break
		}
		ss.cur = telemetry.ResultSeries{Name: m.series.Name, Tags: m.series.Tags, Identifiers: m.series.Identifiers, Points: ss.cur.Points[:0]}
		if ss.agg == nil {
			samples, err := ss.r.samples(m)
			if err != nil {
				ss.err = err
				break
			}
			if len(samples) == 0 {
				continue
			}
			for _, x := range samples {
				ss.cur.Points = append(ss.cur.Points, telemetry.Point(x))
			}
			return true
		}
		ss.agg.Reset()
		if err := ss.r.aggregate(m, ss.agg); err != nil {
			ss.err = err
			break
		}
		if ss.agg.Empty() {
			continue // only NaN: no value in range
		}
		ss.cur.Points = ss.agg.Points(ss.cur.Points)
		return true
	}
	ss.done = true
	return false
}

func (ss *seriesSet) At() *telemetry.ResultSeries { return &ss.cur }
func (ss *seriesSet) Err() error                  { return ss.err }
func (ss *seriesSet) Close() error {
	ss.done = true
	if ss.r == nil {
		return nil
	}
	err := ss.r.close()
	ss.r = nil
	return err
}

// group is one group of an aggregation.
type group struct {
	res telemetry.ResultSeries
	agg *tsagg.Agg
}

// aggregateGroups aggregates the selected series into groups, ordered by
// component key, then name, then tags.
func aggregateGroups(r *reader, sel []selected, a *telemetry.Aggregation) ([]telemetry.ResultSeries, error) {
	groups := map[string]*group{}
	member := componentIndex(a.Components)
	for _, m := range sel {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		keys := groupsOf(m.seriesMeta, a, member)
		if len(keys) == 0 {
			continue
		}
		aggs := make(aggSinks, len(keys))
		for i, k := range keys {
			g := groups[k.key]
			if g == nil {
				g = &group{res: k.res, agg: tsagg.New(*a, r.start, r.end)}
				groups[k.key] = g
			}
			aggs[i] = g.agg
		}
		if err := r.aggregate(m, aggSinks(aggs)); err != nil {
			return nil, err
		}
	}
	out := make([]telemetry.ResultSeries, 0, len(groups))
	for _, g := range groups {
		if g.agg.Empty() {
			continue // only NaN: no value in range
		}
		g.res.Points = g.agg.Points(nil)
		out = append(out, g.res)
	}
	slices.SortFunc(out, telemetry.CompareSeries)
	return out, nil
}

type groupKey struct {
	key string
	res telemetry.ResultSeries
}

// componentIndex maps each identifier to the component groups holding it.
func componentIndex(cs []telemetry.ComponentGroup) map[string][]string {
	if cs == nil {
		return nil
	}
	m := map[string][]string{}
	for _, c := range cs {
		for _, id := range c.Identifiers {
			m[id] = append(m[id], c.Key)
		}
	}
	return m
}

// groupsOf returns the groups a series belongs to.
func groupsOf(m *seriesMeta, a *telemetry.Aggregation, member map[string][]string) []groupKey {
	if member != nil {
		var keys []string
		for _, id := range m.series.Identifiers {
			keys = append(keys, member[id]...)
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		out := make([]groupKey, len(keys))
		for i, k := range keys {
			out[i] = groupKey{key: k, res: telemetry.ResultSeries{Component: k}}
		}
		return out
	}
	var res telemetry.ResultSeries
	var b strings.Builder
	for _, k := range a.GroupBy {
		v, ok := "", false
		if k == "name" {
			res.Name, v, ok = m.series.Name, m.series.Name, true
		} else if v, ok = m.series.Tags.First(k); ok {
			res.Tags = append(res.Tags, telemetry.Tag{Key: k, Value: v})
		}
		b.WriteString(k)
		b.WriteByte(0)
		if ok {
			b.WriteString(v)
		}
		b.WriteByte(0)
	}
	res.Tags = telemetry.NewTags(res.Tags)
	return []groupKey{{key: b.String(), res: res}}
}

// MetricIdentifiers returns the identifiers of the series with samples in
// the range.
func (s *Store) MetricIdentifiers(ctx context.Context, q telemetry.MetricQuery) ([]string, error) {
	q.Agg = nil
	r, sel, err := s.open(ctx, &q)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var out []string
	for _, m := range sel {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		samples, err := r.samples(m)
		if err != nil {
			return nil, err
		}
		if len(samples) > 0 {
			out = append(out, m.series.Identifiers...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ExplainMetrics says which index lookups select the series, how many
// there are now, and what is read and computed.
func (s *Store) ExplainMetrics(q telemetry.MetricQuery) string {
	s.hmu.RLock()
	ids, how := s.idx.candidates(&q)
	n := len(ids)
	s.hmu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "pebble series index: %s  (%d candidate series)\n", strings.Join(how, " ∩ "), n)
	if q.Filter != nil {
		fmt.Fprintf(&b, "filter series: %s\n", telemetry.String(q.Filter))
	}
	if q.Identifiers != nil {
		fmt.Fprintf(&b, "keep series of %d identifiers\n", len(q.Identifiers))
	}
	w0, w1 := windowOf(q.Start), windowOf(q.End)
	fmt.Fprintf(&b, "read chunks of %d windows of 2h and the head\n", w1-w0+1)
	b.WriteString(describeAgg(q.Agg))
	return b.String()
}

func describeAgg(a *telemetry.Aggregation) string {
	if a == nil {
		return "raw samples, series by series\n"
	}
	m := a.Method.String()
	if a.Method == telemetry.Percentile {
		m = fmt.Sprintf("percentile(%g)", a.Percentile)
	}
	by := "the whole range"
	if a.Step > 0 {
		by = "buckets of " + (time.Duration(a.Step) * time.Millisecond).String()
	}
	switch {
	case a.Components != nil:
		return fmt.Sprintf("aggregate %s in %s, grouped by component\n", m, by)
	case len(a.GroupBy) > 0:
		return fmt.Sprintf("aggregate %s in %s, grouped by %s\n", m, by, strings.Join(a.GroupBy, ", "))
	}
	return fmt.Sprintf("aggregate %s in %s, series by series\n", m, by)
}
