package tracepebble

import (
	"encoding/binary"
	"time"

	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/traces"
)

// Tables; docs/storage-format.md draws them. Every span table starts with
// the day of the span's start, the unit of retention.
const (
	tagMeta    byte = 0x01 // name → value
	tagSpan    byte = 0x10 // day(8) esc(trace) esc(span) → span record
	tagTime    byte = 0x11 // day(8) start(8) esc(trace) esc(span) → duration(8)
	tagTerm    byte = 0x12 // day(8) esc(term) start(8) esc(trace) esc(span) → duration(8)
	tagSvcDur  byte = 0x13 // day(8) esc(service) duration(8) start(8) esc(trace) esc(span) → ∅
	spanTables      = 4
)

var spanTags = [spanTables]byte{tagSpan, tagTime, tagTerm, tagSvcDur}

const dayNs = int64(24 * time.Hour)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func dayOf(ns int64) int64 { return floorDiv(ns, dayNs) }

func dayPrefix(tag byte, day int64) []byte { return kv.AppendTime([]byte{tag}, day) }

func spanKey(day int64, tid, sid string) []byte {
	return kv.AppendEscaped(kv.AppendEscaped(dayPrefix(tagSpan, day), tid), sid)
}

func tracePrefix(day int64, tid string) []byte {
	return kv.AppendEscaped(dayPrefix(tagSpan, day), tid)
}

func appendRef(b []byte, start int64, tid, sid string) []byte {
	return kv.AppendEscaped(kv.AppendEscaped(kv.AppendTime(b, start), tid), sid)
}

func timeKey(s *traces.Span) []byte {
	return appendRef(dayPrefix(tagTime, dayOf(s.Start)), s.Start, s.TraceID, s.SpanID)
}

func termPrefix(day int64, term string) []byte {
	return kv.AppendEscaped(dayPrefix(tagTerm, day), term)
}

func termKey(term string, s *traces.Span) []byte {
	return appendRef(termPrefix(dayOf(s.Start), term), s.Start, s.TraceID, s.SpanID)
}

func svcPrefix(day int64, service string) []byte {
	return kv.AppendEscaped(dayPrefix(tagSvcDur, day), service)
}

func svcDurKey(s *traces.Span) []byte {
	b := binary.BigEndian.AppendUint64(svcPrefix(dayOf(s.Start), s.Service), uint64(s.Duration))
	return appendRef(b, s.Start, s.TraceID, s.SpanID)
}

func durValue(d int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(d)) }

// ref is a span found in an index.
type ref struct {
	start, dur int64
	tid, sid   string
}

// readRef decodes start, trace and span id from the end of an index key.
func readRef(b []byte) (ref, error) {
	if len(b) < 8 {
		return ref{}, kv.ErrCorrupt
	}
	r := ref{start: kv.Time(b)}
	var err error
	rest := b[8:]
	if r.tid, rest, err = kv.Escaped(rest); err != nil {
		return r, err
	}
	if r.sid, rest, err = kv.Escaped(rest); err != nil || len(rest) != 0 {
		return r, kv.ErrCorrupt
	}
	return r, nil
}

// Terms of a span in the term index.
func spanTerms(s *traces.Span) []string {
	terms := []string{"s" + s.Service, "n" + s.Name, "k" + s.Kind, "t" + s.Status}
	for _, a := range s.Attributes {
		terms = append(terms, "a"+a.Key+"\x00"+a.Value)
	}
	for _, a := range s.Resource {
		terms = append(terms, "r"+a.Key+"\x00"+a.Value)
	}
	for _, id := range s.Identifiers {
		terms = append(terms, "i"+id)
	}
	return terms
}

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

// ---- the span record ----

func encodeSpan(s *traces.Span) []byte {
	b := []byte{1}
	for _, f := range []string{s.TraceID, s.SpanID, s.ParentID, s.Service, s.Name, s.Kind, s.Status, s.StatusMessage} {
		b = kv.AppendString(b, f)
	}
	b = kv.AppendTime(b, s.Start)
	b = kv.AppendUvarint(b, uint64(s.Duration))
	b = appendTags(b, s.Attributes)
	b = appendTags(b, s.Resource)
	return kv.AppendStrings(b, s.Identifiers)
}

func appendTags(b []byte, tags []traces.Tag) []byte {
	b = kv.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = kv.AppendString(kv.AppendString(b, t.Key), t.Value)
	}
	return b
}

func readTags(r *kv.Reader) []traces.Tag {
	n := r.Uvarint()
	if n > 4096 {
		r.Fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]traces.Tag, n)
	for i := range out {
		out[i] = traces.Tag{Key: r.String(), Value: r.String()}
	}
	return out
}

func decodeSpan(v []byte) (traces.Span, error) {
	r := kv.NewReader(v)
	if r.Byte() != 1 {
		return traces.Span{}, kv.ErrCorrupt
	}
	s := traces.Span{TraceID: r.String(), SpanID: r.String(), ParentID: r.String(), Service: r.String(),
		Name: r.String(), Kind: r.String(), Status: r.String(), StatusMessage: r.String()}
	s.Start = r.Time()
	s.Duration = int64(r.Uvarint())
	s.Attributes = readTags(r)
	s.Resource = readTags(r)
	s.Identifiers = r.Strings()
	return s, r.Done()
}
