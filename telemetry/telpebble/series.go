package telpebble

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
)

// seriesMeta is a series the store knows. Immutable once in the index,
// except lastWindow (guarded by Store.hmu).
type seriesMeta struct {
	id         uint64
	key        string
	series     telemetry.Series
	lastWindow int64
	// The series' head chunk in the window appended to last, so that an
	// append finds it without a map lookup (see head.addTo).
	// REQUIRES: Store.wmu.
	headWin   *headWindow
	headChunk *headChunk
	headHint  int // samples in its last head chunk that was sealed
}

// is reports whether ser names this series: the same name and tags (the
// series' are canonical, so equal tags are too).
func (m *seriesMeta) is(ser *telemetry.Series) bool {
	return m.series.Name == ser.Name && slices.Equal(m.series.Tags, ser.Tags)
}

// seriesIndex finds series by key, name, tag and identifier. Postings hold
// ids in increasing order (ids are allocated increasing and appended).
type seriesIndex struct {
	byKey   map[string]*seriesMeta
	byID    map[uint64]*seriesMeta
	byName  map[string][]uint64
	byTag   map[string]map[string][]uint64
	byIdent map[string][]uint64
	all     []uint64
}

func newSeriesIndex() *seriesIndex {
	return &seriesIndex{
		byKey: map[string]*seriesMeta{}, byID: map[uint64]*seriesMeta{},
		byName: map[string][]uint64{}, byTag: map[string]map[string][]uint64{}, byIdent: map[string][]uint64{},
	}
}

func (x *seriesIndex) add(m *seriesMeta) {
	x.byKey[m.key] = m
	x.byID[m.id] = m
	x.all = append(x.all, m.id)
	x.byName[m.series.Name] = append(x.byName[m.series.Name], m.id)
	for _, t := range m.series.Tags {
		vals := x.byTag[t.Key]
		if vals == nil {
			vals = map[string][]uint64{}
			x.byTag[t.Key] = vals
		}
		vals[t.Value] = append(vals[t.Value], m.id)
	}
	for _, id := range m.series.Identifiers {
		x.byIdent[id] = append(x.byIdent[id], m.id)
	}
}

// postings returns the sorted ids of series whose field has one of values.
func (x *seriesIndex) postings(field string, values []string) []uint64 {
	lists := make([][]uint64, 0, len(values))
	for _, v := range values {
		if field == "name" {
			lists = append(lists, x.byName[v])
		} else {
			lists = append(lists, x.byTag[field][v])
		}
	}
	return union(lists)
}

func (x *seriesIndex) identPostings(ids []string) []uint64 {
	lists := make([][]uint64, 0, len(ids))
	for _, id := range ids {
		lists = append(lists, x.byIdent[id])
	}
	return union(lists)
}

func union(lists [][]uint64) []uint64 {
	if len(lists) == 1 {
		return lists[0]
	}
	var out []uint64
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func intersect(a, b []uint64) []uint64 {
	var out []uint64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// candidates returns the series a query may select, by the index alone
// (its Terms and Identifiers), and how it chose them for EXPLAIN.
func (x *seriesIndex) candidates(q *telemetry.MetricQuery) ([]uint64, []string) {
	var ids []uint64
	var how []string
	first := true
	and := func(l []uint64, what string) {
		if first {
			ids, first = l, false
		} else {
			ids = intersect(ids, l)
		}
		how = append(how, what)
	}
	if q.Identifiers != nil {
		and(x.identPostings(q.Identifiers), "identifiers")
	}
	for _, m := range telemetry.Terms(q.Filter) {
		and(x.postings(m.Field, m.Values), telemetry.String(m))
	}
	if first {
		return x.all, []string{"all series"}
	}
	return ids, how
}

// seriesFields gives a series' fields to telemetry.Eval.
func seriesFields(s *telemetry.Series) telemetry.Fields {
	return func(f string) []string {
		if f == "name" {
			return []string{s.Name}
		}
		return s.Tags.Get(f)
	}
}

// selectSeries returns the series q selects by name, tags and identifiers,
// ordered by key.
func (x *seriesIndex) selectSeries(q *telemetry.MetricQuery) []*seriesMeta {
	ids, _ := x.candidates(q)
	var allowed map[string]bool
	if q.Identifiers != nil {
		allowed = make(map[string]bool, len(q.Identifiers))
		for _, id := range q.Identifiers {
			allowed[id] = true
		}
	}
	out := make([]*seriesMeta, 0, len(ids))
	for _, id := range ids {
		m := x.byID[id]
		if m == nil || !telemetry.Eval(q.Filter, seriesFields(&m.series)) {
			continue
		}
		if allowed != nil && !slices.ContainsFunc(m.series.Identifiers, func(s string) bool { return allowed[s] }) {
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *seriesMeta) int { return strings.Compare(a.key, b.key) })
	return out
}

// ---- the series record ----

func encodeSeries(s *telemetry.Series) []byte {
	b := []byte{1} // format
	b = kv.AppendString(b, s.Name)
	b = appendTags(b, s.Tags)
	return kv.AppendStrings(b, s.Identifiers)
}

func decodeSeries(v []byte) (telemetry.Series, error) {
	r := kv.NewReader(v)
	if r.Byte() != 1 {
		return telemetry.Series{}, kv.ErrCorrupt
	}
	s := telemetry.Series{Name: r.String(), Tags: readTags(r), Identifiers: r.Strings()}
	return s, r.Done()
}

func appendTags(b []byte, tags telemetry.Tags) []byte {
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = kv.AppendString(b, t.Key)
		b = kv.AppendString(b, t.Value)
	}
	return b
}

func readTags(r *kv.Reader) telemetry.Tags {
	n := r.Uvarint()
	if n > telemetry.MaxTags {
		r.Fail() // no record the store writes has that many
		return nil
	}
	if n == 0 {
		return nil
	}
	tags := make(telemetry.Tags, n)
	for i := range tags {
		tags[i] = telemetry.Tag{Key: r.String(), Value: r.String()}
	}
	return tags
}
