package tracepebble

import (
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"slices"
	"time"

	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// Tables; docs/storage-format.md draws them. Both span tables start with
// the day of the spans' start, the unit of retention.
//
// An append writes, per trace, one chunk per window of time (all the
// trace's spans of the append that start in it), and per index term one
// posting list per window listing the chunks that hold the term. The
// keys are a handful per append rather than a dozen and more per span,
// and every key of an append ends with the append's id, a hash of its
// content: an export sent again writes the same keys over themselves.
const (
	tagMeta  byte = 0x01 // name → value
	tagChunk byte = 0x14 // day(8) esc(trace) win(2) batch(8) → chunk
	tagPost  byte = 0x15 // day(8) esc(term) max(8) batch(8) → posting list
)

var spanTags = [...]byte{tagChunk, tagPost}

const dayNs = int64(24 * time.Hour)

// windowNs is the time span of a chunk and of a posting list: all their
// spans start in one window. It bounds how far past a search's end a
// posting list may reach (its key holds its newest start), so a search
// reads lists ending up to one window after its range.
const windowNs = int64(10 * time.Minute)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func dayOf(ns int64) int64 { return floorDiv(ns, dayNs) }

// winOf is the window of a start within its day.
func winOf(ns int64) uint16 { return uint16((ns - dayOf(ns)*dayNs) / windowNs) }

func dayPrefix(tag byte, day int64) []byte { return kv.AppendTime([]byte{tag}, day) }

func tracePrefix(day int64, tid string) []byte {
	return kv.AppendEscaped(dayPrefix(tagChunk, day), tid)
}

func chunkKey(day int64, tid string, win uint16, batch uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint16(tracePrefix(day, tid), win), batch)
}

func termPrefix(day int64, term string) []byte {
	return kv.AppendEscaped(dayPrefix(tagPost, day), term)
}

// ref is a chunk found in an index: its trace, its append, and the
// newest and oldest start of its spans.
type ref struct {
	max, min int64
	tid      string
	batch    uint64
}

// key is the chunk's key.
func (r *ref) key() []byte { return chunkKey(dayOf(r.max), r.tid, winOf(r.max), r.batch) }

// ---- index terms ----

// allTerm is in every chunk's terms: its lists order all chunks by time.
const allTerm = "*"

// durBucket is a duration's bucket: below 8 ns each its own, then four
// per doubling, 0 … 247.
func durBucket(d int64) int {
	if d < 8 {
		return int(max(d, 0))
	}
	n := bits.Len64(uint64(d)) // 4 … 63
	q := int(uint64(d)>>(n-3)) & 3
	return 4*(n-2) + q
}

// durationTerm is the term of a service's spans of a duration bucket,
// the bucket in three digits: a service's buckets are one range of keys.
func durationTerm(service string, bucket int) string {
	return durationPrefix(service) + string([]byte{byte('0' + bucket/100), byte('0' + bucket/10%10), byte('0' + bucket%10)})
}

func durationPrefix(service string) string { return "d" + service + "\x00" }

// termOf maps a filter field and value to its index term ("" when the
// field is not in the term index).
func termOf(field, value string) string {
	switch field {
	case "service":
		return "s" + value
	case "name":
		return "n" + value
	case "kind":
		return "k" + value
	case "status":
		return "t" + value
	}
	if k, ok := cutPrefix(field, "attributes."); ok {
		return "a" + k + "\x00" + value
	}
	if k, ok := cutPrefix(field, "resource."); ok {
		return "r" + k + "\x00" + value
	}
	return ""
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// ---- posting lists ----

// A posting list is the append ids of its chunks (n:uvarint, each 8
// bytes: a group holds a few appends), then count:uvarint and per chunk,
// newest first: uvarint(list max − chunk max), uvarint(chunk max − chunk
// min), the index of its append id, and the trace id (appendID).
func appendRefs(b []byte, listMax int64, refs []ref) []byte {
	var batches []uint64
	for i := range refs {
		if !slices.Contains(batches, refs[i].batch) {
			batches = append(batches, refs[i].batch)
		}
	}
	b = kv.AppendUvarint(b, uint64(len(batches)))
	for _, id := range batches {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	b = kv.AppendUvarint(b, uint64(len(refs)))
	for i := range refs {
		b = kv.AppendUvarint(b, uint64(listMax-refs[i].max))
		b = kv.AppendUvarint(b, uint64(refs[i].max-refs[i].min))
		b = kv.AppendUvarint(b, uint64(slices.Index(batches, refs[i].batch)))
		b = appendID(b, refs[i].tid)
	}
	return b
}

func readRefs(v []byte, listMax int64, out []ref) ([]ref, error) {
	r := kv.NewReader(v)
	nb := r.Uvarint()
	if nb > uint64(len(v))/8 {
		return out, kv.ErrCorrupt
	}
	batches := make([]uint64, nb)
	for i := range batches {
		if f := r.Fixed(8); f != nil {
			batches[i] = binary.BigEndian.Uint64(f)
		}
	}
	n := r.Uvarint()
	if n > uint64(len(v)) {
		return out, kv.ErrCorrupt
	}
	for range n {
		max := listMax - int64(r.Uvarint())
		min := max - int64(r.Uvarint())
		bi := r.Uvarint()
		if bi >= nb {
			return out, kv.ErrCorrupt
		}
		out = append(out, ref{max: max, min: min, batch: batches[bi], tid: readID(r)})
	}
	return out, r.Done()
}

// appendID writes a hexadecimal id as its bytes when it has an even
// number of digits (a flag in the length's low bit), else as text.
func appendID(b []byte, id string) []byte {
	if len(id)%2 == 0 {
		b = kv.AppendUvarint(b, uint64(len(id)/2)<<1|1)
		b, _ = hex.AppendDecode(b, []byte(id)) // checked hexadecimal
		return b
	}
	b = kv.AppendUvarint(b, uint64(len(id))<<1)
	return append(b, id...)
}

func readID(r *kv.Reader) string {
	n := r.Uvarint()
	if r.Err() != nil || n>>1 > uint64(r.Len()) {
		r.Fail()
		return ""
	}
	raw := r.Fixed(int(n >> 1))
	if n&1 == 1 {
		return hex.EncodeToString(raw)
	}
	return string(raw)
}

// ---- chunks ----

// A chunk is format:1 (2) seq:8, the resources (n:uvarint, each its
// tags), and the spans (n:uvarint, each span id, parent id, service,
// name, kind, status, status message, start − window start:uvarint,
// duration:uvarint, attributes, resource index:uvarint, identifiers).
// seq orders the appends: when a span is stored twice, the chunk with the
// higher seq holds the version that counts.
const chunkFormat = 2

// chunkSeqOffset is where seq is: the appends' hash skips it.
const chunkSeqOffset = 1

type chunk struct {
	seq   uint64
	spans []traces.Span
}

// encodeChunk encodes spans of one trace, day and window (the trace id is
// in the key), seq left zero.
func encodeChunk(b []byte, spans []traces.Span, winStart int64) []byte {
	b = append(b, chunkFormat)
	b = binary.BigEndian.AppendUint64(b, 0)
	res := resourceTable(spans)
	b = kv.AppendUvarint(b, uint64(len(res)))
	for _, r := range res {
		b = appendTags(b, r)
	}
	b = kv.AppendUvarint(b, uint64(len(spans)))
	for i := range spans {
		s := &spans[i]
		for _, f := range [...]string{s.SpanID, s.ParentID, s.Service, s.Name, s.Kind, s.Status, s.StatusMessage} {
			b = kv.AppendString(b, f)
		}
		b = kv.AppendUvarint(b, uint64(s.Start-winStart))
		b = kv.AppendUvarint(b, uint64(s.Duration))
		b = appendTags(b, s.Attributes)
		b = kv.AppendUvarint(b, uint64(resourceIndex(res, s.Resource)))
		b = kv.AppendStrings(b, s.Identifiers)
	}
	return b
}

// resourceTable lists the distinct resources of spans: the spans of one
// resource (one process) are usually many, and share its tags.
func resourceTable(spans []traces.Span) []telemetry.Tags {
	var out []telemetry.Tags
	for i := range spans {
		if resourceIndex(out, spans[i].Resource) == len(out) {
			out = append(out, spans[i].Resource)
		}
	}
	return out
}

func resourceIndex(table []telemetry.Tags, r telemetry.Tags) int {
	for i, t := range table {
		if sameOrEqual(t, r) {
			return i
		}
	}
	return len(table)
}

func sameOrEqual(a, b telemetry.Tags) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func appendTags(b []byte, tags []traces.Tag) []byte {
	b = kv.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = kv.AppendString(kv.AppendString(b, t.Key), t.Value)
	}
	return b
}

// decodeChunk decodes a chunk of trace tid whose spans start in the
// window starting at winStart. Its strings are cut from one copy of v.
func decodeChunk(v []byte, tid string, winStart int64) (chunk, error) {
	if len(v) < 9 || v[0] != chunkFormat {
		return chunk{}, kv.ErrCorrupt
	}
	c := chunk{seq: binary.BigEndian.Uint64(v[1:9])}
	r := &strReader{s: string(v[9:])}
	nres := r.uvarint()
	if nres > uint64(len(v)) {
		return c, kv.ErrCorrupt
	}
	res := make([]telemetry.Tags, nres)
	for i := range res {
		res[i] = r.tags()
	}
	n := r.uvarint()
	if n > uint64(len(v)) {
		return c, kv.ErrCorrupt
	}
	c.spans = make([]traces.Span, n)
	for i := range c.spans {
		s := &c.spans[i]
		s.TraceID, s.SpanID, s.ParentID, s.Service = tid, r.str(), r.str(), r.str()
		s.Name, s.Kind, s.Status, s.StatusMessage = r.str(), r.str(), r.str(), r.str()
		s.Start = winStart + int64(r.uvarint())
		s.Duration = int64(r.uvarint())
		s.Attributes = r.tags()
		if ri := r.uvarint(); ri < uint64(len(res)) {
			s.Resource = res[ri]
		} else {
			r.bad = true
		}
		s.Identifiers = r.strs()
	}
	if r.bad || len(r.s) > 0 {
		return c, kv.ErrCorrupt
	}
	return c, nil
}

// strReader reads kv's encodings from a string, its strings substrings.
type strReader struct {
	s   string
	bad bool
}

func (r *strReader) uvarint() uint64 {
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return v
		}
	}
	r.bad, r.s = true, ""
	return 0
}

func (r *strReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.bad, r.s = true, ""
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

func (r *strReader) tags() telemetry.Tags {
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.s)) {
		r.bad = r.bad || n > 0
		return nil
	}
	out := make(telemetry.Tags, n)
	for i := range out {
		out[i] = telemetry.Tag{Key: r.str(), Value: r.str()}
	}
	return out
}

func (r *strReader) strs() []string {
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.s)) {
		r.bad = r.bad || n > 0
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

// winStart is the start of the window of a time.
func winStart(ns int64) int64 { return dayOf(ns)*dayNs + int64(winOf(ns))*windowNs }
