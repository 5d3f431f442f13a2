package lang

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types of the TQL lexer. The grammar matches keywords
// case-insensitively by value. The boolean operators are a token type of
// their own, so no key, value or function name can be one; the other
// keywords are words, reserved only where the grammar expects them, so a tag
// may be called "from" or "limit".
const (
	tokWord   lexer.TokenType = -(iota + 2) // bare word: keys, keywords, bare values
	tokBool                                 // AND, OR, NOT, IN in any case: never a key or a bare value
	tokString                               // "…" or '…', Value is the raw source text with quotes
	tokOp                                   // = != < <= > >=
	tokPunct                                // ( ) ,
)

// lexDef is TQL's lexer as a participle lexer.Definition. Parse does not go
// through Lex: it drives a scanner directly so that it can apply Limits and
// keep its errors as *Error.
type lexDef struct{}

// Symbols implements lexer.Definition.
func (lexDef) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":    lexer.EOF,
		"Word":   tokWord,
		"Bool":   tokBool,
		"String": tokString,
		"Op":     tokOp,
		"Punct":  tokPunct,
	}
}

// Lex implements lexer.Definition with the default limits.
func (d lexDef) Lex(_ string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString("", string(b))
}

// LexString implements lexer.StringDefinition with the default limits.
func (lexDef) LexString(_ string, src string) (lexer.Lexer, error) {
	return newScanner(src, DefaultLimits), nil
}

// scanner turns source text into tokens with byte offsets. It enforces
// MaxTokens and MaxDepth while it scans, so the parser never sees input
// that could make it recurse too deep.
type scanner struct {
	src   string
	off   int // next byte to read
	lim   Limits
	count int // tokens produced
	depth int // open parentheses
	nots  int // length of the current run of NOT words
	// curly is the offset of the first typographic quote seen inside a
	// string that did close but swallowed query syntax after the quote
	// ("a” AND type = "): an unterminated string later on is most likely
	// the result of it, so the error points there.
	curly int
}

func newScanner(src string, lim Limits) *scanner {
	return &scanner{src: src, lim: lim, curly: -1}
}

// Next implements lexer.Lexer. Errors are *Error.
func (s *scanner) Next() (lexer.Token, error) {
	s.skipSpace()
	if s.off >= len(s.src) {
		return lexer.Token{Type: lexer.EOF, Pos: s.pos(len(s.src))}, nil
	}
	tok, err := s.scan()
	if err != nil {
		return tok, err
	}
	if err := s.account(tok); err != nil {
		return tok, err
	}
	return tok, nil
}

// pos is a token position for participle. Only the offset is used: *Error
// computes its line and column from the source when there is an error, so
// the scanner does not track them for every token.
func (s *scanner) pos(off int) lexer.Position {
	return lexer.Position{Offset: off, Line: 1, Column: 1}
}

func (s *scanner) token(t lexer.TokenType, start int) lexer.Token {
	return lexer.Token{Type: t, Value: s.src[start:s.off], Pos: s.pos(start)}
}

func (s *scanner) errorf(start, end int, hint, format string, args ...any) *Error {
	return newError(s.src, Span{start, end}, hint, format, args...)
}

func (s *scanner) skipSpace() {
	for s.off < len(s.src) {
		switch s.src[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

// scan reads one token starting at s.off (which is not white space).
func (s *scanner) scan() (lexer.Token, error) {
	start := s.off
	c := s.src[start]
	switch {
	case c == '"' || c == '\'':
		return s.scanString()
	case c == '(' || c == ')' || c == ',':
		s.off++
		return s.token(tokPunct, start), nil
	case c == '=' || c == '!' || c == '<' || c == '>':
		return s.scanOp()
	}
	r, size := utf8.DecodeRuneInString(s.src[start:])
	if r == utf8.RuneError && size == 1 {
		return lexer.Token{}, s.errorf(start, start+1, "the query must be UTF-8 text", "invalid UTF-8 byte 0x%02x", c)
	}
	if isWordRune(r) {
		return s.scanWord(), nil
	}
	return lexer.Token{}, s.badChar(start, r, size)
}

// isWordRune reports whether r may appear in a bare word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return true
		}
		return strings.ContainsRune("_-.:/*+@#%", r)
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (s *scanner) scanWord() lexer.Token {
	start := s.off
	for s.off < len(s.src) {
		r, size := utf8.DecodeRuneInString(s.src[s.off:])
		if (r == utf8.RuneError && size == 1) || !isWordRune(r) {
			break
		}
		s.off += size
	}
	if isBoolWord(s.src[start:s.off]) {
		return s.token(tokBool, start)
	}
	return s.token(tokWord, start)
}

// isBoolWord reports whether w is AND, OR, NOT or IN, in any case.
func isBoolWord(w string) bool {
	switch len(w) {
	case 2:
		return strings.EqualFold(w, "OR") || strings.EqualFold(w, "IN")
	case 3:
		return strings.EqualFold(w, "AND") || strings.EqualFold(w, "NOT")
	}
	return false
}

// scanOp reads a comparison operator, and explains the operators people
// bring from other languages.
func (s *scanner) scanOp() (lexer.Token, error) {
	start := s.off
	two := ""
	if start+2 <= len(s.src) {
		two = s.src[start : start+2]
	}
	switch two {
	case "!=", "<=", ">=":
		s.off += 2
		return s.token(tokOp, start), nil
	case "==":
		return lexer.Token{}, s.errorf(start, start+2, "equality is a single =", "unknown operator ==")
	case "<>":
		return lexer.Token{}, s.errorf(start, start+2, "use != for not equal", "unknown operator <>")
	}
	if s.src[start] == '!' {
		return lexer.Token{}, s.errorf(start, start+1, "use != for not equal, or NOT to negate", "unexpected character '!'")
	}
	s.off++
	return s.token(tokOp, start), nil
}

// account counts a token against MaxTokens and MaxDepth.
func (s *scanner) account(tok lexer.Token) error {
	s.count++
	start, end := tok.Pos.Offset, tok.Pos.Offset+len(tok.Value)
	if s.count > s.lim.MaxTokens {
		return s.errorf(start, end, "split the query, or raise the limit", "query has more than %d tokens (MaxTokens)", s.lim.MaxTokens)
	}
	switch {
	case tok.Type == tokBool && strings.EqualFold(tok.Value, "NOT"):
		s.nots++
	case tok.Value == "(" && tok.Type == tokPunct:
		s.depth++
		s.nots = 0
	case tok.Value == ")" && tok.Type == tokPunct:
		s.depth--
		s.nots = 0
	default:
		s.nots = 0
	}
	if s.depth+s.nots > s.lim.MaxDepth {
		return s.errorf(start, end, "simplify the query, or raise the limit", "query nests deeper than %d levels of parentheses and NOTs (MaxDepth)", s.lim.MaxDepth)
	}
	return nil
}

// scanString reads a quoted string. The token keeps the raw source text;
// lowering resolves the escapes, which this function has validated.
func (s *scanner) scanString() (lexer.Token, error) {
	start := s.off
	quote := s.src[start]
	curly := -1
	s.off++
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == quote:
			s.off++
			if curly >= 0 && s.curly < 0 && swallowed(s.src[curly:s.off-1]) {
				s.curly = curly
			}
			return s.token(tokString, start), nil
		case c == '\\':
			if err := s.scanEscape(); err != nil {
				return lexer.Token{}, err
			}
			continue
		case c < utf8.RuneSelf:
			s.off++
			continue
		}
		r, size := utf8.DecodeRuneInString(s.src[s.off:])
		if r == utf8.RuneError && size == 1 {
			return lexer.Token{}, s.errorf(s.off, s.off+1, "the query must be UTF-8 text", "invalid UTF-8 byte 0x%02x in string", c)
		}
		if curly < 0 && typographicQuote(r) != 0 {
			curly = s.off
		}
		s.off += size
	}
	return lexer.Token{}, s.unterminated(start, curly)
}

// scanEscape validates the escape at s.off (a backslash) and skips it.
func (s *scanner) scanEscape() error {
	if s.off+1 >= len(s.src) {
		s.off++ // a trailing backslash: the string is unterminated
		return nil
	}
	switch s.src[s.off+1] {
	case '"', '\'', '\\', '*':
		s.off += 2
		return nil
	}
	r, size := utf8.DecodeRuneInString(s.src[s.off+1:])
	if r == utf8.RuneError && size == 1 {
		return s.errorf(s.off+1, s.off+2, "the query must be UTF-8 text", "invalid UTF-8 byte 0x%02x in string", s.src[s.off+1])
	}
	return s.errorf(s.off, s.off+1+size, `the escapes are \", \', \\ and \* (a literal star); write \\ for a backslash`, "unknown escape \\%c", r)
}

// unterminated reports a string that does not close. A typographic quote
// inside it (or inside an earlier string, which then swallowed the real
// closing quote) is almost always the cause, so the caret goes there.
func (s *scanner) unterminated(start, curly int) error {
	if curly < 0 {
		curly = s.curly
	}
	if curly >= 0 {
		r, size := utf8.DecodeRuneInString(s.src[curly:])
		return s.errorf(curly, curly+size, curlyHint(r), "unterminated string: typographic quote %c where a straight quote was meant", r)
	}
	q := s.src[start]
	return s.errorf(start, start+1, fmt.Sprintf("close the string with %c", q), "unterminated string")
}

// badChar reports a character that cannot start a token.
func (s *scanner) badChar(start int, r rune, size int) error {
	switch {
	case typographicQuote(r) != 0:
		return s.errorf(start, start+size, curlyHint(r), "unexpected typographic quote %c", r)
	case r == '$' || r == '{' || r == '}':
		end := s.placeholderEnd(start)
		return s.errorf(start, end, "template placeholders (${…}, {{…}}) must sit inside a quoted value: \"${…}\", or be substituted before parsing",
			"template placeholder outside quotes")
	case r == '&' || r == '|':
		return s.errorf(start, start+size, "use AND and OR", "unexpected character %q", r)
	case unicode.IsSpace(r):
		return s.errorf(start, start+size, "replace it with a plain space", "unexpected white space character %U", r)
	case !unicode.IsPrint(r):
		return s.errorf(start, start+size, "", "unexpected character %U", r)
	}
	return s.errorf(start, start+size, "", "unexpected character %q", r)
}

// placeholderEnd returns the end of a ${…} or {{…}} placeholder starting at
// start, if it closes on the same line, so the caret underlines all of it.
func (s *scanner) placeholderEnd(start int) int {
	rest := s.src[start:]
	if !strings.HasPrefix(rest, "${") && !strings.HasPrefix(rest, "{") {
		return start + 1
	}
	line := rest
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	closing := "}"
	if strings.HasPrefix(rest, "{{") {
		closing = "}}"
	}
	if i := strings.Index(line, closing); i >= 0 {
		return start + i + len(closing)
	}
	return start + 1
}

// typographicQuote returns the straight quote a typographic quote stands
// for, or 0 if r is not one.
func typographicQuote(r rune) rune {
	switch r {
	case '\u201c', '\u201d', '\u201e', '\u201f', '\u2033', '\u00ab', '\u00bb', '\uff02':
		return '"'
	case '\u2018', '\u2019', '\u201a', '\u201b', '\u2032', '\uff07':
		return '\''
	}
	return 0
}

// swallowed reports whether the rest of a string after a typographic quote
// looks like query syntax that the string took in by mistake.
func swallowed(rest string) bool {
	if strings.ContainsAny(rest, "=,()") {
		return true
	}
	for _, w := range strings.Fields(rest) {
		if isBoolWord(w) {
			return true
		}
	}
	return false
}

func curlyHint(r rune) string {
	return fmt.Sprintf("this is a typographic quote (%c); use a straight quote (%c)", r, typographicQuote(r))
}
