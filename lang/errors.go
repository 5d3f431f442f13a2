package lang

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is the one error type of the language: lexing, parsing and checking
// all report an Error with the span of the offending source, a message and,
// where one helps, a hint.
//
// The JSON form ({line, col, offset, message, hint}) is what the API returns.
type Error struct {
	Span    Span   `json:"-"`
	Line    int    `json:"line"`   // 1-based line of Span.Start
	Col     int    `json:"col"`    // 1-based column of Span.Start, in characters (runes)
	Offset  int    `json:"offset"` // byte offset of Span.Start
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Error returns "line:col: message", like go/scanner and PromQL.
func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Message)
}

// newError builds an Error for span in src, computing line and column.
func newError(src string, span Span, hint, format string, args ...any) *Error {
	span = clampSpan(src, span)
	line, col := position(src, span.Start)
	return &Error{
		Span:    span,
		Line:    line,
		Col:     col,
		Offset:  span.Start,
		Message: fmt.Sprintf(format, args...),
		Hint:    hint,
	}
}

func clampSpan(src string, s Span) Span {
	if s.Start < 0 {
		s.Start = 0
	}
	if s.Start > len(src) {
		s.Start = len(src)
	}
	if s.End < s.Start {
		s.End = s.Start
	}
	if s.End > len(src) {
		s.End = len(src)
	}
	return s
}

// position returns the 1-based line and rune column of byte offset off.
func position(src string, off int) (line, col int) {
	line = 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndexByte(src[:off], '\n') + 1
	col = 1 + utf8.RuneCountInString(src[lineStart:off])
	return line, col
}

// ErrorList is a list of errors sorted by position. Parse returns at most a
// few; the first is the one to fix first.
type ErrorList []*Error

// Error returns the first error's text and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Unwrap lets errors.As find the individual errors.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Errors returns the language errors inside err (an *Error, an ErrorList, or
// something wrapping them), or nil if err carries none.
func Errors(err error) []*Error {
	var list ErrorList
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return []*Error{one}
	}
	return nil
}

// Spanned is an error of a later stage (the planner, the engine) about a
// part of the query: it knows the span, not the source text.
type Spanned interface {
	error
	SourceSpan() Span
	SourceMessage() string // the message without the stage's prefix
}

// Locate returns the errors inside err positioned in src: language errors
// as they are, a Spanned error turned into an Error at its span. It returns
// nil when err points at no part of the query.
func Locate(src string, err error) []*Error {
	if errs := Errors(err); errs != nil {
		return errs
	}
	var sp Spanned
	if errors.As(err, &sp) {
		return []*Error{newError(src, sp.SourceSpan(), "", "%s", sp.SourceMessage())}
	}
	return nil
}

// Render prints err for a human: for every language error, the message, the
// offending source line with a caret under the span, and the hint. Errors
// that are not language errors print as their Error() text. The REPL and the
// CLI both print this block.
//
//	error: unknown key "enviroment"
//	  1 | enviroment = "prod"
//	    | ^^^^^^^^^^
//	hint: did you mean "environment"?
func Render(src string, err error) string {
	errs := Locate(src, err)
	if errs == nil {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		renderOne(&b, src, e)
	}
	return b.String()
}

func renderOne(b *strings.Builder, src string, e *Error) {
	fmt.Fprintf(b, "error: %s\n", e.Message)
	span := clampSpan(src, e.Span)
	lineStart := strings.LastIndexByte(src[:span.Start], '\n') + 1
	lineEnd := strings.IndexByte(src[span.Start:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += span.Start
	}
	end := span.End
	if end > lineEnd {
		end = lineEnd // a span running past the line is underlined to its end
	}
	line := []rune(src[lineStart:lineEnd]) // an invalid byte becomes one U+FFFD
	caret := utf8.RuneCountInString(src[lineStart:span.Start])
	width := max(utf8.RuneCountInString(src[span.Start:end]), 1)
	text, caret, width := clip(line, caret, width)
	gutter := fmt.Sprintf("%d", e.Line)
	fmt.Fprintf(b, "  %s | %s\n", gutter, text)
	fmt.Fprintf(b, "  %s | %s%s\n", strings.Repeat(" ", len(gutter)), strings.Repeat(" ", caret), strings.Repeat("^", width))
	if e.Hint != "" {
		fmt.Fprintf(b, "hint: %s\n", e.Hint)
	}
}

// maxLineWidth is the widest source line Render prints; a longer line is
// cut to a window around the caret, with … marking the cuts.
const maxLineWidth = 100

// clip prepares a source line for display: tabs and CRs become spaces (so carets
// stay aligned), other control characters U+FFFD, and a long line is cut
// around the caret. It returns the text and the caret's column and width
// within it.
func clip(line []rune, caret, width int) (string, int, int) {
	for i, r := range line {
		switch {
		case r == '\t' || r == '\r':
			line[i] = ' '
		case r < 0x20 || r == 0x7f:
			line[i] = utf8.RuneError
		}
	}
	if len(line) <= maxLineWidth {
		return string(line), caret, width
	}
	from := max(0, caret-maxLineWidth/3)
	to := min(len(line), from+maxLineWidth)
	from = max(0, to-maxLineWidth)
	width = max(1, min(width, to-caret)) // underline no further than the window
	text := string(line[from:to])
	caret -= from
	if from > 0 {
		text = "…" + text
		caret++
	}
	if to < len(line) {
		text += "…"
	}
	return text, caret, width
}
