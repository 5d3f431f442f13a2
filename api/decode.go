package api

import (
	"unicode/utf16"
	"unicode/utf8"
)

// parseQueryRequest reads a QueryRequest from data without reflection, or
// returns false for the caller to read it with encoding/json. It takes
// only what encoding/json (with unknown fields disallowed) reads to the
// same request: one object of the fields by their exact names, string
// values with JSON's escapes (but UTF-16 surrogates) and valid UTF-8,
// integers without a fraction or an exponent and of at most 18 digits,
// JSON whitespace around the tokens, and nothing after the object.
// Anything else (an unknown or differently cased field, a null, a \u
// escape of a surrogate, a number encoding/json refuses, a syntax error)
// returns false,
// and encoding/json decides, with its errors. A later field of the same
// name wins, as with encoding/json. A test compares the two on random
// bodies.
func parseQueryRequest(data []byte, req *QueryRequest) bool {
	p := reqParser{b: data}
	var q QueryRequest
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		*req = q
		return p.end()
	}
	for {
		key, ok := p.name()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(key) {
		case "query":
			q.Query, ok = p.string()
		case "at":
			q.At, ok = p.string()
		case "timeoutMs":
			q.TimeoutMs, ok = p.int()
		case "maxElements":
			var n int64
			n, ok = p.int()
			q.MaxElements = int(n)
		default:
			return false
		}
		if !ok {
			return false
		}
		if p.byte(',') {
			continue
		}
		if !p.byte('}') || !p.end() {
			return false
		}
		*req = q
		return true
	}
}

// reqParser reads the JSON tokens of parseQueryRequest from b at i.
type reqParser struct {
	b []byte
	i int
}

func (p *reqParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it is the next token.
func (p *reqParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (p *reqParser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// name reads a field name: a string of plain ASCII without escapes, as a
// view of b.
func (p *reqParser) name() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	for start := p.i; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// string reads a string value, copied out of b (the caller keeps it).
func (p *reqParser) string() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	escaped, ascii := false, true
	for start := p.i; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			switch {
			case escaped:
				return unescape(s)
			case !ascii && !utf8.Valid(s):
				return "", false // encoding/json makes invalid bytes U+FFFD
			}
			return string(s), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		case c == '\\':
			escaped = true
			p.i++ // the escaped byte: unescape checks it
		}
	}
	return "", false
}

// unescape decodes a string's escapes (but a \u escape of a UTF-16
// surrogate) and checks its UTF-8.
func unescape(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i == len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok || utf16.IsSurrogate(r) { // a pair, or half of one: encoding/json decides
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return "", false
		}
	}
	if !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

// int reads an integer, -?(0|[1-9][0-9]*), of at most 18 digits, which
// cannot overflow.
func (p *reqParser) int() (int64, bool) {
	p.space()
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	start := p.i
	var n int64
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		n = n*10 + int64(p.b[p.i]-'0')
	}
	digits := p.i - start
	if digits == 0 || digits > 18 || (digits > 1 && p.b[start] == '0') {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
