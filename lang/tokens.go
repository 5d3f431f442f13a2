package lang

import (
	"strings"
)

// TokenKind says what a Token is.
type TokenKind int

const (
	TokenWord   TokenKind = iota + 1 // a bare word: a key, a keyword, a function, a bare value
	TokenBool                        // AND, OR, NOT or IN, in any case
	TokenString                      // a quoted string, quotes included
	TokenOp                          // = != < <= > >=
	TokenPunct                       // ( ) ,
)

// Token is one token of a query as the parser sees it, for tools that work
// on text being typed (the shell's completion).
type Token struct {
	Kind TokenKind
	Text string // the source text, quotes and escapes included
	Span Span
	// Open is set on a string that runs to the end of the text without its
	// closing quote: the one a user is typing.
	Open bool
}

// Value returns a string token's text with the quotes removed and the
// escapes resolved (an open string's up to the end of the text), and any
// other token's text as it is.
func (t Token) Value() string {
	if t.Kind != TokenString {
		return t.Text
	}
	body := t.Text[1:]
	if !t.Open {
		body = body[:len(body)-1]
	}
	if !strings.Contains(body, `\`) {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

var tokenKinds = map[int]TokenKind{
	int(tokWord): TokenWord, int(tokBool): TokenBool, int(tokString): TokenString,
	int(tokOp): TokenOp, int(tokPunct): TokenPunct,
}

// Tokens splits src into tokens with the parser's own lexical rules. It is
// meant for partial text: a string without its closing quote at the end
// becomes an Open token, and scanning stops at the first other lexical
// error, which is returned with the tokens before it. No limits apply: the
// caller bounds the text.
func Tokens(src string) ([]Token, error) {
	s := newScanner(src, DefaultLimits)
	var out []Token
	for {
		s.skipSpace()
		if s.off >= len(src) {
			return out, nil
		}
		start := s.off
		tok, err := s.scan()
		if err != nil {
			// Only an unterminated string leaves the scanner at the end
			// of the text: an invalid escape or byte stops inside it.
			if q := src[start]; (q == '"' || q == '\'') && s.off >= len(src) {
				return append(out, Token{Kind: TokenString, Text: src[start:], Span: Span{start, len(src)}, Open: true}), nil
			}
			return out, err
		}
		out = append(out, Token{Kind: tokenKinds[int(tok.Type)], Text: tok.Value, Span: Span{start, s.off}})
	}
}

// Quote returns s as a TQL string literal that matches s exactly: in double
// quotes, with ", \ and * escaped (an unescaped star is a wildcard).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	writeEscaped(&b, s)
	b.WriteByte('"')
	return b.String()
}

// Escape returns s as it is written inside a double-quoted TQL string
// literal: Quote without the quotes.
func Escape(s string) string {
	var b strings.Builder
	writeEscaped(&b, s)
	return b.String()
}

func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '*':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}
