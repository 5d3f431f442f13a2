package tracepebble

import (
	"cmp"
	"encoding/binary"
	"hash/crc64"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// An append is built in two steps so that concurrent appends build in
// parallel and the group commit (Store.group) does little alone:
//
//   - prepareAppend, on the appending goroutine before it joins a group:
//     the append's spans grouped into chunks (one per trace, day and
//     window) keyed by the append's id, a hash of its chunks, so that an
//     export sent again (a client's retry after a lost answer) rewrites
//     the same chunks; the chunks set in a batch of the append's own; and
//     for every index term of each day and window the append's chunks
//     holding it, newest first.
//   - groupBatch, by the group's leader: the appends' batches
//     concatenated, and per term, day and window one posting list of the
//     group's chunks (the appends' lists merged), keyed by the group's id.
//
// The stored keys and values are those one build of the whole group
// would write.

// prepared is an append built by prepareAppend, owned by the group
// commit until its group is committed.
type prepared struct {
	id    uint64
	batch *pebble.Batch // the chunks
	lists []termList    // ordered by compareLists
	build *appendBuild  // lists' memory: back to builds once committed
}

// termList is one term's chunks in an append (or a group), day and
// window, newest first.
type termList struct {
	dw   dayWin
	term string
	refs []ref
}

// prepareAppend builds an append of sequence seq. Of spans with the same
// day, trace and span id the last counts.
func prepareAppend(db *pebble.DB, in []traces.Span, seq uint64) *prepared {
	a := builds.Get().(*appendBuild)
	a.reset()
	a.buf = slices.Grow(a.buf, len(in)*320) // about what a span takes
	p := &prepared{id: a.addAppend(in, seq), build: a}
	a.index()
	p.batch = db.NewBatchWithSize(len(a.buf) + len(a.chunks)*64)
	for i := range a.chunks {
		c := &a.chunks[i]
		p.batch.Set(binary.BigEndian.AppendUint64(c.key, c.ref.batch), a.buf[c.at:c.end], nil)
	}
	p.lists = a.termLists()
	return p
}

// groupBatch fills b, empty, with a group of prepared appends, and
// closes their batches.
func groupBatch(b *pebble.Batch, group []*prepared) {
	h := crc64.New(crcTable)
	for _, p := range group {
		h.Write(binary.BigEndian.AppendUint64(nil, p.id))
		b.Apply(p.batch, nil) // a well-formed batch of our own: cannot fail
		p.batch.Close()
	}
	var key, val []byte
	mergeLists(group, func(l *termList) {
		listMax := l.refs[0].max
		key = binary.BigEndian.AppendUint64(kv.AppendTime(kv.AppendEscaped(kv.AppendTime(append(key[:0], tagPost), l.dw.day), l.term), listMax), h.Sum64())
		val = appendRefs(val[:0], listMax, l.refs)
		b.Set(key, val, nil)
	})
}

// mergeLists calls f with the group's posting lists: the appends' lists
// of one term, day and window merged, newest first (f's only during the
// call). Each append's lists are ordered, so this is a merge of a few
// sorted runs.
func mergeLists(group []*prepared, f func(*termList)) {
	runs := make([][]termList, len(group))
	for i, p := range group {
		runs[i] = p.lists
	}
	var merged termList
	var free, held []ref // scratch: the lists merged so far are in held
	for {
		least := -1
		for i, r := range runs {
			if len(r) > 0 && (least < 0 || compareLists(&r[0], &runs[least][0]) < 0) {
				least = i
			}
		}
		if least < 0 {
			return
		}
		l := &runs[least][0]
		runs[least] = runs[least][1:]
		merged = termList{dw: l.dw, term: l.term, refs: l.refs}
		for i, r := range runs {
			if len(r) > 0 && compareLists(&r[0], l) == 0 {
				free = mergeRefs(free[:0], merged.refs, r[0].refs)
				merged.refs = free
				free, held = held, free
				runs[i] = r[1:]
			}
		}
		f(&merged)
	}
}

// mergeRefs appends to dst the refs of a and b, both newest first, newest
// first.
func mergeRefs(dst, a, b []ref) []ref {
	for len(a) > 0 && len(b) > 0 {
		if newestFirst(a[0], b[0]) <= 0 {
			dst, a = append(dst, a[0]), a[1:]
		} else {
			dst, b = append(dst, b[0]), b[1:]
		}
	}
	return append(append(dst, a...), b...)
}

// compareLists orders lists by day, term and window.
func compareLists(a, b *termList) int {
	return cmp.Or(cmp.Compare(a.dw.day, b.dw.day), strings.Compare(a.term, b.term), cmp.Compare(a.dw.win, b.dw.win))
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// appendBuild collects an append's chunks and posting lists. Builds are
// reused (builds): their memory stays allocated, and so do the term
// strings of their lists, which the next appends mostly have again.
type appendBuild struct {
	buf      []byte // the chunks' values
	spans    []traces.Span
	chunks   []builtChunk
	lists    map[dayWin]map[string]listSlot // the terms seen, by day and window
	gen      uint32                         // the append: slots of others are stale
	terms    []termList                     // by list number, refs filled last
	last     []int32                        // by list number: the chunk last added + 1
	posts    []posting                      // in the order added
	refs     []ref                          // the lists' refs
	ids      map[tagsKey][]string           // identifiers by resource (canonical)
	resLists map[resourceKey][]int32
	term     []byte // scratch
}

// listSlot is a term's list in the append gen.
type listSlot struct {
	gen  uint32
	list int32
	term string // the key, kept for the next appends
}

// builds are appendBuilds not in use.
var builds = sync.Pool{New: func() any {
	return &appendBuild{lists: map[dayWin]map[string]listSlot{}, ids: map[tagsKey][]string{}, resLists: map[resourceKey][]int32{}}
}}

// maxTerms bounds the terms a build keeps for the next appends: past it
// (terms of many values, windows gone by) it starts afresh.
const maxTerms = 1 << 15

// reset empties a build for the next append, dropping what points into
// the last one's spans.
func (a *appendBuild) reset() {
	a.gen++
	clear(a.spans)
	clear(a.chunks)
	clear(a.refs)
	clear(a.terms)
	a.buf, a.spans, a.chunks, a.refs = a.buf[:0], a.spans[:0], a.chunks[:0], a.refs[:0]
	a.terms, a.last, a.posts = a.terms[:0], a.last[:0], a.posts[:0]
	clear(a.ids)
	clear(a.resLists)
	n := 0
	for _, l := range a.lists {
		n += len(l)
	}
	if n > maxTerms || len(a.lists) > 4 {
		clear(a.lists)
	}
}

// posting is a chunk in a posting list: the chunks are added newest
// first, so each list's postings come out sorted.
type posting struct {
	list, chunk int32
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
	type at struct {
		day int64
		win uint16
		i   int32
	}
	keys := make([]at, len(in))
	for i := range in {
		keys[i] = at{dayOf(in[i].Start), winOf(in[i].Start), int32(i)}
	}
	slices.SortFunc(keys, func(x, y at) int {
		a, b := &in[x.i], &in[y.i]
		return cmp.Or(cmp.Compare(x.day, y.day), strings.Compare(a.TraceID, b.TraceID),
			strings.Compare(a.SpanID, b.SpanID), cmp.Compare(x.i, y.i))
	})
	kept := keys[:0]
	for k, x := range keys {
		if k+1 < len(keys) && sameSpan(&in[x.i], &in[keys[k+1].i]) {
			continue // a later one replaces it
		}
		kept = append(kept, x)
	}
	// By window within a trace and day: a trace's spans are usually in one.
	byWindow := func(x, y at) int {
		return cmp.Or(cmp.Compare(x.day, y.day), strings.Compare(in[x.i].TraceID, in[y.i].TraceID), cmp.Compare(x.win, y.win))
	}
	if !slices.IsSortedFunc(kept, byWindow) {
		slices.SortStableFunc(kept, byWindow)
	}
	a.spans = slices.Grow(a.spans[:0], len(kept))
	for _, x := range kept {
		a.spans = append(a.spans, a.canonical(&in[x.i]))
	}
	return a.spans
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
			lists = map[string]listSlot{}
			a.lists[dw] = lists
		}
		add := func(l int32) {
			if a.last[l] != int32(n+1) {
				a.posts = append(a.posts, posting{list: l, chunk: int32(ci)})
				a.last[l] = int32(n + 1)
			}
		}
		for i := range c.spans {
			sp := &c.spans[i]
			a.spanTerms(sp, func(term []byte) { add(a.list(dw, lists, term)) })
			for _, l := range a.resourceLists(sp, dw, lists) {
				add(l)
			}
		}
	}
}

// list returns the number of a term's posting list, new if need be.
func (a *appendBuild) list(dw dayWin, lists map[string]listSlot, term []byte) int32 {
	sl, ok := lists[string(term)]
	if ok && sl.gen == a.gen {
		return sl.list
	}
	if !ok {
		sl.term = string(term)
	}
	sl.gen, sl.list = a.gen, int32(len(a.terms))
	a.terms = append(a.terms, termList{dw: dw, term: sl.term})
	a.last = append(a.last, 0)
	lists[sl.term] = sl
	return sl.list
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
func (a *appendBuild) resourceLists(sp *traces.Span, dw dayWin, lists map[string]listSlot) []int32 {
	var key resourceKey
	if len(sp.Resource) > 0 && len(sp.Identifiers) > 0 {
		key = resourceKey{dw, &sp.Resource[0], &sp.Identifiers[0], len(sp.Resource), len(sp.Identifiers)}
		if ls, ok := a.resLists[key]; ok {
			return ls
		}
	}
	ls := make([]int32, 0, len(sp.Resource)+len(sp.Identifiers))
	for _, t := range sp.Resource {
		ls = append(ls, a.list(dw, lists, a.makeTerm("r", t.Key, "\x00", t.Value)))
	}
	for _, id := range sp.Identifiers {
		ls = append(ls, a.list(dw, lists, a.makeTerm("i", id)))
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

// termLists returns the append's posting lists ordered by compareLists,
// their refs in one array.
func (a *appendBuild) termLists() []termList {
	at := make([]int, len(a.terms)+1) // where each list's refs start
	for _, p := range a.posts {
		at[p.list+1]++
	}
	for l := range a.terms {
		at[l+1] += at[l]
	}
	a.refs = slices.Grow(a.refs[:0], len(a.posts))[:len(a.posts)]
	refs := a.refs
	for _, p := range a.posts {
		refs[at[p.list]] = a.chunks[p.chunk].ref
		at[p.list]++
	}
	from := 0
	for l := range a.terms {
		a.terms[l].refs = refs[from:at[l]:at[l]]
		from = at[l]
	}
	slices.SortFunc(a.terms, func(a, b termList) int { return compareLists(&a, &b) })
	return a.terms
}

// newestFirst orders refs by newest start, then trace and append, both
// descending.
func newestFirst(a, b ref) int {
	return cmp.Or(cmp.Compare(b.max, a.max), strings.Compare(b.tid, a.tid), cmp.Compare(b.batch, a.batch))
}
