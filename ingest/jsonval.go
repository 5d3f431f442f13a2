package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// object is a decoded JSON object whose members are still raw.
type object map[string]json.RawMessage

// has reports whether the object has a member, whatever its value.
func (o object) has(k string) bool {
	_, ok := o[k]
	return ok
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
		return nil, false
	}
	o := splitObjectFunc(raw, func(key string) {
		d.warnf(p.field(key), "duplicate key: the last value is used, the earlier ones are ignored")
	})
	return o, true
}

// optObject decodes an object that may be missing or null (nil, true).
func (d *dec) optObject(p *path, raw json.RawMessage) (object, bool) {
	if k := kindOf(raw); k == 0 || k == 'n' {
		return nil, true
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
func splitObject(raw []byte) object { return splitObjectFunc(raw, nil) }

// splitObjectFunc is splitObject calling dup (when not nil) for each key
// given again.
func splitObjectFunc(raw []byte, dup func(key string)) object {
	o := object{}
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != '}' {
		n := skipString(raw[i:])
		key := unquote(raw[i : i+n])
		i = skipSpace(raw, i+n)
		i = skipSpace(raw, i+1) // the colon
		n = skipValue(raw[i:])
		if _, ok := o[key]; ok && dup != nil {
			dup(key)
		}
		o[key] = raw[i : i+n : i+n]
		i = skipSpace(raw, i+n)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return o
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
