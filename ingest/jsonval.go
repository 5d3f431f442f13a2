package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/tetrahq/tetra/graphstore"
)

// The payload is validated as a whole once (json.Valid), then walked level
// by level with these helpers, which check each value's JSON type before
// decoding it so that a wrong type is reported with its path instead of as
// a Go type error.
//
// Objects and lists are split into their members by a small scanner that
// relies on the input being valid JSON: encoding/json would validate and
// scan every level again, and the payload's leaves are several levels deep.
// The raw values it returns are slices of the payload; nothing decoded keeps
// them (strings are copied, properties compacted into a new buffer).

// dec collects the errors and warnings of one payload.
type dec struct {
	errs  ErrorList
	warns Warnings
	// members holds the members of the objects split so far, each object
	// a slice of it (see splitObject).
	members []member
}

// warnf records something accepted but odd.
func (d *dec) warnf(p *path, format string, args ...any) {
	d.warns.add(&Error{Path: p.String(), Msg: fmt.Sprintf(format, args...)})
}

func (d *dec) failf(p *path, format string, args ...any) {
	d.errs.add(&Error{Path: p.String(), Msg: fmt.Sprintf(format, args...)})
}

// wrongType reports a value of the wrong JSON type.
func (d *dec) wrongType(p *path, want string, raw json.RawMessage) {
	d.failf(p, "want %s, got %s", want, jsonType(raw))
}

// object is a decoded JSON object whose members are still raw, in document
// order, each key once (a key given twice keeps its first place and its last
// value). It is a slice of members, not a map: an agent's objects have a
// handful of keys, and a map per object was a third of the decoder's time.
// The zero object is empty.
type object struct{ ms []member }

// member is one member of an object: its key as decoded (a slice of the
// payload when the literal has no escapes) and its raw value.
type member struct {
	key []byte
	val json.RawMessage
}

// arenas keeps member arenas between payloads. The members of an object
// live only while its payload is walked (what a walk keeps is copied out of
// them), so a walk's arena is put back when it ends.
var arenas = sync.Pool{New: func() any { return new([]member) }}

// maxPooledArena bounds the arenas kept: a huge payload's goes to the GC.
const maxPooledArena = 1 << 16

func getArena() []member { return (*arenas.Get().(*[]member))[:0] }

// putArena returns d's arena to the pool, emptied so that it holds no
// payload alive.
func putArena(d *dec) {
	m := d.members
	d.members = nil
	if cap(m) > maxPooledArena {
		return
	}
	clear(m)
	m = m[:0]
	arenas.Put(&m)
}

// get returns the raw value of member k, or nil when there is none.
func (o object) get(k string) json.RawMessage {
	for i := range o.ms {
		if string(o.ms[i].key) == k {
			return o.ms[i].val
		}
	}
	return nil
}

// has reports whether the object has a member, whatever its value.
func (o object) has(k string) bool {
	for i := range o.ms {
		if string(o.ms[i].key) == k {
			return true
		}
	}
	return false
}

// len returns the number of distinct keys.
func (o object) len() int { return len(o.ms) }

// keys returns the object's keys in document order (new strings).
func (o object) keys() []string {
	ks := make([]string, len(o.ms))
	for i := range o.ms {
		ks[i] = string(o.ms[i].key)
	}
	return ks
}

// jsonType names the JSON type of a raw value for error messages.
func jsonType(raw json.RawMessage) string {
	switch kindOf(raw) {
	case 0:
		return "nothing"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// kindOf returns the first byte of a raw value (which has no surrounding
// white space), or 0 for a missing value.
func kindOf(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// absent reports whether an interpreted member says nothing: missing, null,
// or an empty object. The empty object is what the Python agent sends for a
// value it does not have (the recorded Agent 2.9 request carries
// "domain": {} and "environment": {} on every SAP component).
func absent(raw json.RawMessage) bool {
	switch kindOf(raw) {
	case 0:
		return true
	case 'n':
		return true
	case '{':
		return len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
	}
	return false
}

// object decodes a JSON object; ok is false (and an error recorded) for any
// other type.
func (d *dec) object(p *path, raw json.RawMessage) (object, bool) {
	if kindOf(raw) != '{' {
		d.wrongType(p, "an object", raw)
		return object{}, false
	}
	o := d.splitObject(raw, func(key string) {
		d.warnf(p.field(key), "duplicate key: the last value is used, the earlier ones are ignored")
	})
	return o, true
}

// optObject decodes an object that may be missing or null (nil, true).
func (d *dec) optObject(p *path, raw json.RawMessage) (object, bool) {
	if k := kindOf(raw); k == 0 || k == 'n' {
		return object{}, true
	}
	return d.object(p, raw)
}

// optList decodes a list that may be missing or null.
func (d *dec) optList(p *path, raw json.RawMessage) ([]json.RawMessage, bool) {
	switch kindOf(raw) {
	case 0, 'n':
		return nil, true
	case '[':
		return splitList(raw), true
	}
	d.wrongType(p, "a list", raw)
	return nil, false
}

// optBool decodes a boolean that may be missing or null (false).
func (d *dec) optBool(p *path, raw json.RawMessage) bool {
	switch string(raw) {
	case "", "null", "false":
		return false
	case "true":
		return true
	}
	d.wrongType(p, "a boolean", raw)
	return false
}

// optString decodes a string that may be absent (see absent) and checks it
// against the store's string limit.
func (d *dec) optString(p *path, raw json.RawMessage) (string, bool) {
	if absent(raw) {
		return "", true
	}
	return d.str(p, raw)
}

// reqString decodes a string that must be present and non-empty.
func (d *dec) reqString(p *path, raw json.RawMessage) (string, bool) {
	if k := kindOf(raw); k == 0 || k == 'n' {
		d.failf(p, "missing")
		return "", false
	}
	s, ok := d.str(p, raw)
	if ok && s == "" {
		d.failf(p, "must not be empty")
		return "", false
	}
	return s, ok
}

// str decodes a string.
func (d *dec) str(p *path, raw json.RawMessage) (string, bool) {
	if kindOf(raw) != '"' {
		d.wrongType(p, "a string", raw)
		return "", false
	}
	if !utf8.Valid(raw) {
		d.warnf(p, "invalid UTF-8: each invalid byte was replaced by U+FFFD")
	}
	s := unquote(raw)
	return s, d.checkString(p, s)
}

// optStrings decodes a list of strings that may be absent. Null elements
// are dropped, as are empty strings.
func (d *dec) optStrings(p *path, raw json.RawMessage) ([]string, bool) {
	if absent(raw) {
		return nil, true
	}
	if kindOf(raw) != '[' {
		d.wrongType(p, "a list of strings", raw)
		return nil, false
	}
	l := splitList(raw)
	out := make([]string, 0, len(l))
	ok := true
	for i, e := range l {
		switch kindOf(e) {
		case 'n':
		case '"':
			s, good := d.str(p.at(i), e)
			ok = ok && good
			if s != "" {
				out = append(out, s)
			}
		default:
			d.wrongType(p.at(i), "a string", e)
			return nil, false
		}
	}
	return out, ok
}

// checkString enforces the store's limits on one string so that the error
// carries the JSON path (the store would refuse the whole batch naming only
// an operation index).
func (d *dec) checkString(p *path, s string) bool {
	if len(s) > graphstore.MaxStringBytes {
		d.failf(p, "string is %d bytes long; the limit is %d", len(s), graphstore.MaxStringBytes)
		return false
	}
	return true
}

// splitObject returns the members of a valid JSON object. A key given twice
// keeps its last value, as encoding/json does.
func splitObject(raw []byte) object { return object{ms: appendMembers(nil, raw, nil)} }

// splitObject is splitObject appending the members to the decoder's arena
// (one growing slice for the whole payload instead of a map per object)
// and calling dup (when not nil) for each key given again. An object is
// split whole before the next one, so its members are contiguous.
func (d *dec) splitObject(raw []byte, dup func(key string)) object {
	start := len(d.members)
	d.members = appendMembers(d.members, raw, dup)
	return object{ms: d.members[start:len(d.members):len(d.members)]}
}

// mark returns where the arena ends now; release(mark) gives back what
// was split after it. A walk of a list of elements releases each element's
// members once the element is decoded (what it keeps is copied out of
// them): a file of 400,000 components and relations kept every member of
// every element in one arena, about 0.6 GiB at its largest, alive beside
// everything the file decoded to.
func (d *dec) mark() int { return len(d.members) }

func (d *dec) release(mark int) { d.members = d.members[:mark] }

// indexAbove is the number of members above which an object finds its
// duplicate keys through a map instead of comparing with every key: a
// hostile object with many keys stays linear.
const indexAbove = 16

// appendMembers appends the members of the valid JSON object raw to arena.
func appendMembers(arena []member, raw []byte, dup func(key string)) []member {
	start := len(arena)
	var index map[string]int // key → position after start, once the object is large
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != '}' {
		n := skipString(raw[i:])
		key := unquoteBytes(raw[i : i+n])
		i = skipSpace(raw, i+n)
		i = skipSpace(raw, i+1) // the colon
		n = skipValue(raw[i:])
		val := raw[i : i+n : i+n]
		if j := findKey(arena[start:], index, key); j >= 0 {
			if dup != nil {
				dup(string(key))
			}
			arena[start+j].val = val
		} else {
			arena = append(arena, member{key: key, val: val})
			if cnt := len(arena) - start; index != nil {
				index[string(key)] = cnt - 1
			} else if cnt > indexAbove {
				index = make(map[string]int, 2*cnt)
				for j, m := range arena[start:] {
					index[string(m.key)] = j
				}
			}
		}
		i = skipSpace(raw, i+n)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return arena
}

// findKey returns the position of key among ms, or -1.
func findKey(ms []member, index map[string]int, key []byte) int {
	if index != nil {
		if j, ok := index[string(key)]; ok {
			return j
		}
		return -1
	}
	for j := range ms {
		if bytes.Equal(ms[j].key, key) {
			return j
		}
	}
	return -1
}

// compact returns the valid JSON value raw without white space between its
// tokens, in a new slice.
func compact(raw []byte) []byte { return appendCompact(make([]byte, 0, len(raw)), raw) }

// appendCompact appends the valid JSON value raw to dst without the white space
// between its tokens, as json.Compact does, without checking raw again.
func appendCompact(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			n := skipString(raw[i:])
			dst = append(dst, raw[i:i+n]...)
			i += n
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '"' && raw[j] != ' ' && raw[j] != '\t' && raw[j] != '\n' && raw[j] != '\r' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		}
	}
	return dst
}

// splitList returns the elements of a valid JSON list.
func splitList(raw []byte) []json.RawMessage {
	var out []json.RawMessage
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != ']' {
		n := skipValue(raw[i:])
		out = append(out, raw[i:i+n:i+n])
		i = skipSpace(raw, i+n)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return out
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the length of the string literal b starts with.
func skipString(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the length of the valid JSON value b starts with.
func skipValue(b []byte) int {
	switch b[0] {
	case '"':
		return skipString(b)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				i += skipString(b[i:]) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	i := 0 // a number, true, false or null
	for i < len(b) && !endsLiteral(b[i]) {
		i++
	}
	return i
}

func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// unquoteBytes is unquote returning the bytes between the quotes (a slice
// of lit, no copy) when the literal has no escapes and is valid UTF-8.
func unquoteBytes(lit []byte) []byte {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return body
	}
	return []byte(unquote(lit))
}

// unquote decodes a valid JSON string literal. Without escapes and with
// valid UTF-8 it is the bytes between the quotes; otherwise encoding/json
// decodes it (and replaces invalid UTF-8, as it does everywhere).
func unquote(lit []byte) string {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return string(body) // cannot happen for a literal of a valid document
	}
	return s
}
