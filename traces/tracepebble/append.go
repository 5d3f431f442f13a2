package tracepebble

import (
	"cmp"
	"encoding/binary"
	"hash/crc64"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// buildAppend builds the batch of a group of appends (concurrent
// AppendSpans calls, committed together): each append's spans grouped
// into chunks (one per trace, day and window) keyed by the append's id, a
// hash of its chunks, so that an export sent again (a client's retry after
// a lost answer) rewrites the same chunks; and for every index term of
// each day and window one posting list of the group's chunks holding it.
// Append i gets sequence seq+i. Of spans of one append with the same day,
// trace and span id the last counts.
func buildAppend(db *pebble.DB, appends [][]traces.Span, seq uint64) *pebble.Batch {
	a := appendBuild{lists: map[dayWin]map[string]*postList{}, ids: map[tagsKey][]string{}, resLists: map[resourceKey][]*postList{}}
	n := 0
	for _, in := range appends {
		n += len(in)
	}
	a.buf = make([]byte, 0, n*320) // about what a span takes
	group := crc64.New(crcTable)
	for i, in := range appends {
		id := a.addAppend(in, seq+uint64(i))
		group.Write(binary.BigEndian.AppendUint64(nil, id))
	}
	a.index()
	b := db.NewBatchWithSize(a.size())
	for i := range a.chunks {
		c := &a.chunks[i]
		b.Set(binary.BigEndian.AppendUint64(c.key, c.ref.batch), a.buf[c.at:c.end], nil)
	}
	a.writeLists(b, group.Sum64())
	return b
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// appendBuild collects a group's chunks and posting lists.
type appendBuild struct {
	buf      []byte // the chunks' values
	chunks   []builtChunk
	lists    map[dayWin]map[string]*postList
	ids      map[tagsKey][]string // identifiers by resource (canonical)
	resLists map[resourceKey][]*postList
	term     []byte // scratch
}

type builtChunk struct {
	key     []byte // without the append id
	at, end int    // its value in buf
	ref     ref
	spans   []traces.Span
}

type dayWin struct {
	day int64
	win uint16
}

// postList is one term's chunks in a group, day and window, newest first.
type postList struct {
	refs []ref
	last int // the chunk last added + 1, to add each chunk once
}

// addAppend adds one append's chunks and returns its id.
func (a *appendBuild) addAppend(in []traces.Span, seq uint64) uint64 {
	spans := a.latest(in)
	h := crc64.New(crcTable)
	first := len(a.chunks)
	for lo := 0; lo < len(spans); {
		hi := lo + 1
		for hi < len(spans) && sameChunk(&spans[lo], &spans[hi]) {
			hi++
		}
		c := a.addChunk(spans[lo:hi])
		h.Write(c.key)
		h.Write(a.buf[c.at:c.end])
		lo = hi
	}
	id := h.Sum64()
	for i := first; i < len(a.chunks); i++ {
		c := &a.chunks[i]
		c.ref.batch = id
		binary.BigEndian.PutUint64(a.buf[c.at+chunkSeqOffset:], seq)
	}
	return id
}

// latest returns the spans as stored (canonical), ordered by day, trace,
// window and span id, keeping the last of spans with the same day,
// trace and span id.
func (a *appendBuild) latest(in []traces.Span) []traces.Span {
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &in[i], &in[j]
		return cmp.Or(cmp.Compare(dayOf(a.Start), dayOf(b.Start)), strings.Compare(a.TraceID, b.TraceID),
			strings.Compare(a.SpanID, b.SpanID), cmp.Compare(i, j))
	})
	out := make([]traces.Span, 0, len(in))
	for k, i := range idx {
		if k+1 < len(idx) && sameSpan(&in[i], &in[idx[k+1]]) {
			continue // a later one replaces it
		}
		out = append(out, a.canonical(&in[i]))
	}
	slices.SortStableFunc(out, func(a, b traces.Span) int {
		return cmp.Or(cmp.Compare(dayOf(a.Start), dayOf(b.Start)), strings.Compare(a.TraceID, b.TraceID),
			cmp.Compare(winOf(a.Start), winOf(b.Start)))
	})
	return out
}

func sameSpan(a, b *traces.Span) bool {
	return a.SpanID == b.SpanID && a.TraceID == b.TraceID && dayOf(a.Start) == dayOf(b.Start)
}

func sameChunk(a, b *traces.Span) bool {
	return a.TraceID == b.TraceID && dayOf(a.Start) == dayOf(b.Start) && winOf(a.Start) == winOf(b.Start)
}

// canonical returns the span as stored: tags sorted (the decoders send
// them sorted: then they are kept as they are), identifiers derived.
// The spans of one resource usually have the same identifiers, those of
// the resource and the service: they are derived once for all of them.
func (a *appendBuild) canonical(in *traces.Span) traces.Span {
	sp := *in
	sp.Attributes = sortedTags(in.Attributes)
	sp.Resource = sortedTags(in.Resource)
	if len(sp.Identifiers) > 0 || len(sp.Resource) == 0 || slices.ContainsFunc(sp.Attributes, func(t telemetry.Tag) bool { return telemetry.IdentifierKey(t.Key) }) {
		sp.Identifiers = traces.SpanIdentifiers(&sp)
		return sp
	}
	key := tagsKey{&sp.Resource[0], len(sp.Resource)}
	ids, ok := a.ids[key]
	if !ok || len(ids) == 0 || ids[0] != sp.Service {
		bare := traces.Span{Service: sp.Service, Resource: sp.Resource}
		ids = append([]string{sp.Service}, traces.SpanIdentifiers(&bare)...)
		a.ids[key] = ids
	}
	sp.Identifiers = ids[1:len(ids):len(ids)]
	return sp
}

// tagsKey names a slice of tags by where it is: the spans of a resource
// share its tags.
type tagsKey struct {
	p *telemetry.Tag
	n int
}

func sortedTags(t telemetry.Tags) telemetry.Tags {
	for i := 1; i < len(t); i++ {
		if cmp.Or(strings.Compare(t[i-1].Key, t[i].Key), strings.Compare(t[i-1].Value, t[i].Value)) >= 0 {
			return telemetry.NewTags(slices.Clone(t)) // unsorted or with duplicates
		}
	}
	return t
}

// addChunk encodes spans of one trace, day and window (seq left zero).
func (a *appendBuild) addChunk(spans []traces.Span) *builtChunk {
	s0 := &spans[0]
	at := len(a.buf)
	a.buf = encodeChunk(a.buf, spans, winStart(s0.Start))
	r := ref{max: s0.Start, min: s0.Start, tid: s0.TraceID}
	for i := range spans {
		r.max, r.min = max(r.max, spans[i].Start), min(r.min, spans[i].Start)
	}
	a.chunks = append(a.chunks, builtChunk{key: binary.BigEndian.AppendUint16(tracePrefix(dayOf(s0.Start), s0.TraceID), winOf(s0.Start)),
		at: at, end: len(a.buf), ref: r, spans: spans})
	return &a.chunks[len(a.chunks)-1]
}

// index adds the chunks, newest first, to the posting lists of their
// spans' terms, which so come out sorted.
func (a *appendBuild) index() {
	order := make([]int, len(a.chunks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return newestFirst(a.chunks[i].ref, a.chunks[j].ref) })
	for n, ci := range order {
		c := &a.chunks[ci]
		dw := dayWin{dayOf(c.ref.max), winOf(c.ref.max)}
		lists := a.lists[dw]
		if lists == nil {
			lists = map[string]*postList{}
			a.lists[dw] = lists
		}
		add := func(l *postList) {
			if l.last != n+1 {
				l.refs, l.last = append(l.refs, c.ref), n+1
			}
		}
		for i := range c.spans {
			sp := &c.spans[i]
			a.spanTerms(sp, func(term []byte) { add(list(lists, term)) })
			for _, l := range a.resourceLists(sp, dw, lists) {
				add(l)
			}
		}
	}
}

// list returns the posting list of a term, new if need be.
func list(lists map[string]*postList, term []byte) *postList {
	l := lists[string(term)]
	if l == nil {
		l = &postList{}
		lists[string(term)] = l
	}
	return l
}

// resourceKey names the resource terms of spans: those of one resource
// and one list of identifiers (shared, see canonical) are the same lists.
type resourceKey struct {
	dw     dayWin
	res    *telemetry.Tag
	ids    *string
	nr, ni int // the lengths: two slices of one array may start alike
}

// resourceLists returns the posting lists of a span's resource and
// identifier terms, looked up once for all the spans of a resource.
func (a *appendBuild) resourceLists(sp *traces.Span, dw dayWin, lists map[string]*postList) []*postList {
	var key resourceKey
	if len(sp.Resource) > 0 && len(sp.Identifiers) > 0 {
		key = resourceKey{dw, &sp.Resource[0], &sp.Identifiers[0], len(sp.Resource), len(sp.Identifiers)}
		if ls, ok := a.resLists[key]; ok {
			return ls
		}
	}
	var ls []*postList
	for _, t := range sp.Resource {
		ls = append(ls, list(lists, a.makeTerm("r", t.Key, "\x00", t.Value)))
	}
	for _, id := range sp.Identifiers {
		ls = append(ls, list(lists, a.makeTerm("i", id)))
	}
	if key.res != nil {
		a.resLists[key] = ls
	}
	return ls
}

func (a *appendBuild) makeTerm(parts ...string) []byte {
	a.term = a.term[:0]
	for _, p := range parts {
		a.term = append(a.term, p...)
	}
	return a.term
}

// spanTerms calls f with each of a span's own index terms (the bytes are
// f's only during the call); resourceLists has the others.
func (a *appendBuild) spanTerms(s *traces.Span, f func([]byte)) {
	f(a.makeTerm(allTerm))
	f(a.makeTerm("s", s.Service))
	f(a.makeTerm("n", s.Name))
	f(a.makeTerm("k", s.Kind))
	f(a.makeTerm("t", s.Status))
	f(a.makeTerm(durationTerm(s.Service, durBucket(s.Duration))))
	for _, t := range s.Attributes {
		f(a.makeTerm("a", t.Key, "\x00", t.Value))
	}
}

// size estimates the batch's bytes.
func (a *appendBuild) size() int {
	n := len(a.buf) + len(a.chunks)*64
	for _, lists := range a.lists {
		for term, l := range lists {
			n += len(term) + 40 + len(l.refs)*40
		}
	}
	return n
}

// writeLists writes the posting lists, keyed by their newest start.
func (a *appendBuild) writeLists(b *pebble.Batch, group uint64) {
	var key, val []byte
	for dw, lists := range a.lists {
		for term, l := range lists {
			listMax := l.refs[0].max
			key = binary.BigEndian.AppendUint64(kv.AppendTime(kv.AppendEscaped(kv.AppendTime(append(key[:0], tagPost), dw.day), term), listMax), group)
			val = appendRefs(val[:0], listMax, l.refs)
			b.Set(key, val, nil)
		}
	}
}

// newestFirst orders refs by newest start, then trace and append, both
// descending.
func newestFirst(a, b ref) int {
	return cmp.Or(cmp.Compare(b.max, a.max), strings.Compare(b.tid, a.tid), cmp.Compare(b.batch, a.batch))
}
