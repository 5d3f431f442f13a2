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

// buildAppend builds the batch of an append: the spans grouped into
// chunks (one per trace, day and window), and for every index term of
// each day and window one posting list of the chunks holding it. The
// append's id, in every key, is a hash of the chunks, so an export sent
// again (a client's retry after a lost answer) rewrites the same keys.
// Of spans with the same day, trace and span id the last counts.
func buildAppend(db *pebble.DB, in []traces.Span, seq uint64) *pebble.Batch {
	spans := latest(in)
	a := appendBuild{lists: map[dayWin]map[string]*postList{}}
	h := crc64.New(crcTable)
	for lo := 0; lo < len(spans); {
		hi := lo + 1
		for hi < len(spans) && sameChunk(&spans[lo], &spans[hi]) {
			hi++
		}
		a.addChunk(spans[lo:hi])
		c := &a.chunks[len(a.chunks)-1]
		h.Write(c.key)
		h.Write(a.buf[c.at:c.end])
		lo = hi
	}
	batch := h.Sum64()
	b := db.NewBatchWithSize(a.size())
	for i := range a.chunks {
		c := &a.chunks[i]
		v := a.buf[c.at:c.end]
		binary.BigEndian.PutUint64(v[chunkSeqOffset:], seq)
		b.Set(binary.BigEndian.AppendUint64(c.key, batch), v, nil)
	}
	a.writeLists(b, batch)
	return b
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// latest returns the spans as stored (canonical), ordered by day, trace,
// window and span id, keeping the last of spans with the same day,
// trace and span id.
func latest(in []traces.Span) []traces.Span {
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
		out = append(out, canonical(&in[i]))
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
func canonical(in *traces.Span) traces.Span {
	sp := *in
	sp.Attributes = sortedTags(in.Attributes)
	sp.Resource = sortedTags(in.Resource)
	sp.Identifiers = traces.SpanIdentifiers(&sp)
	return sp
}

func sortedTags(t telemetry.Tags) telemetry.Tags {
	for i := 1; i < len(t); i++ {
		if cmp.Or(strings.Compare(t[i-1].Key, t[i].Key), strings.Compare(t[i-1].Value, t[i].Value)) >= 0 {
			return telemetry.NewTags(slices.Clone(t)) // unsorted or with duplicates
		}
	}
	return t
}

// appendBuild collects an append's chunks and posting lists.
type appendBuild struct {
	buf    []byte // the chunks' values
	chunks []builtChunk
	lists  map[dayWin]map[string]*postList
	term   []byte // scratch
}

type builtChunk struct {
	key     []byte // without the append id
	at, end int    // its value in buf
}

type dayWin struct {
	day int64
	win uint16
}

// postList is one term's chunks in an append, day and window.
type postList struct {
	refs []ref
	last int // the chunk last added + 1, to add each chunk once
}

// addChunk encodes spans of one trace, day and window and adds the chunk
// to the posting lists of their terms.
func (a *appendBuild) addChunk(spans []traces.Span) {
	s0 := &spans[0]
	ws := winStart(s0.Start)
	at := len(a.buf)
	a.buf = encodeChunk(a.buf, spans, ws)
	a.chunks = append(a.chunks, builtChunk{key: binary.BigEndian.AppendUint16(tracePrefix(dayOf(s0.Start), s0.TraceID), winOf(s0.Start)), at: at, end: len(a.buf)})
	r := ref{max: s0.Start, min: s0.Start, tid: s0.TraceID}
	for i := range spans {
		r.max, r.min = max(r.max, spans[i].Start), min(r.min, spans[i].Start)
	}
	lists := a.lists[dayWin{dayOf(s0.Start), winOf(s0.Start)}]
	if lists == nil {
		lists = map[string]*postList{}
		a.lists[dayWin{dayOf(s0.Start), winOf(s0.Start)}] = lists
	}
	n := len(a.chunks)
	for i := range spans {
		a.terms(&spans[i], func(term []byte) {
			l := lists[string(term)]
			if l == nil {
				l = &postList{}
				lists[string(term)] = l
			}
			if l.last != n {
				l.refs, l.last = append(l.refs, r), n
			}
		})
	}
}

// terms calls f with each of a span's index terms (the bytes are f's only
// during the call).
func (a *appendBuild) terms(s *traces.Span, f func([]byte)) {
	one := func(parts ...string) {
		a.term = a.term[:0]
		for _, p := range parts {
			a.term = append(a.term, p...)
		}
		f(a.term)
	}
	one(allTerm)
	one("s", s.Service)
	one("n", s.Name)
	one("k", s.Kind)
	one("t", s.Status)
	one(durationTerm(s.Service, durBucket(s.Duration)))
	for _, t := range s.Attributes {
		one("a", t.Key, "\x00", t.Value)
	}
	for _, t := range s.Resource {
		one("r", t.Key, "\x00", t.Value)
	}
	for _, id := range s.Identifiers {
		one("i", id)
	}
}

// size estimates the batch's bytes.
func (a *appendBuild) size() int {
	n := len(a.buf) + len(a.chunks)*64
	for _, lists := range a.lists {
		for term, l := range lists {
			n += len(term) + 40 + len(l.refs)*32
		}
	}
	return n
}

// writeLists writes the posting lists, each newest chunk first, keyed by
// its newest start.
func (a *appendBuild) writeLists(b *pebble.Batch, batch uint64) {
	var key, val []byte
	for dw, lists := range a.lists {
		for term, l := range lists {
			slices.SortFunc(l.refs, newestFirst)
			listMax := l.refs[0].max
			key = binary.BigEndian.AppendUint64(kv.AppendTime(kv.AppendEscaped(kv.AppendTime(append(key[:0], tagPost), dw.day), term), listMax), batch)
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
