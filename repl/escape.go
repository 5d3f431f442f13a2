package repl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// Escape makes text from the graph (names, labels, values) safe to print
// on a terminal: control characters (ESC, NUL, DEL, the C1 range),
// characters that reorder or break lines (bidirectional overrides, line
// and paragraph separators) and invalid UTF-8 are written as Go-style
// escapes (\x1b, \n, \u202e, \xff), so a component named with an escape
// sequence cannot move the cursor, recolour or clear the screen. Text that
// needs none is returned as it is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeJSON makes a JSON document from exec.AppendJSON safe to print on
// a terminal and still the same JSON: the encoder escapes C0 controls, and
// what a terminal would still act on (DEL, the C1 range, bidirectional
// overrides) becomes a \u escape, which JSON reads as the same character.
// Outside strings a document holds only ASCII punctuation, so the
// replacement is safe anywhere.
func escapeJSON(doc []byte) []byte {
	s := string(doc)
	unsafe := func(r rune) bool { return r != '\n' && unsafeRune(r) } // the newline that ends it
	if strings.IndexFunc(s, unsafe) < 0 {
		return doc
	}
	var b strings.Builder
	for _, r := range s {
		if unsafe(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return []byte(b.String())
}

// escapeLines is Escape for a message of several lines: the newlines stay.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n")
}

// needsEscape reports whether s holds anything Escape changes; plain
// printable ASCII, the common case, is checked byte by byte.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return true
		}
		if c >= utf8.RuneSelf {
			return !utf8.ValidString(s[i:]) || strings.IndexFunc(s[i:], unsafeRune) >= 0
		}
	}
	return false
}

// unsafeRune reports whether a terminal would act on r instead of showing
// it.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // bidirectional marks
		r >= 0x202a && r <= 0x202e, // embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // isolates
		r == 0x2028, r == 0x2029:   // line and paragraph separators
		return true
	}
	return false
}

func escapeRune(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\t':
		return `\t`
	case '\r':
		return `\r`
	}
	if r < 0x80 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// cells measures text as a terminal shows it: East Asian wide characters
// take two columns, combining marks none. The East Asian ambiguous
// characters count as narrow whatever the locale, so output does not
// depend on the environment.
var cells = &runewidth.Condition{EastAsianWidth: false}

// width is the number of terminal columns s takes.
func width(s string) int { return cells.StringWidth(s) }

// ellipsis marks a cut.
const ellipsis = "…"

// elide cuts s to at most w columns, marking the cut with an ellipsis: at
// the end, or in the middle to keep the end that tells similar values apart
// (pod names).
func elide(s string, w int, middle bool) string {
	if width(s) <= w {
		return s
	}
	if w <= 1 {
		return cells.Truncate(ellipsis, w, "")
	}
	if !middle || w < 5 {
		return cells.Truncate(s, w, ellipsis)
	}
	tail := (w - 1) / 2
	head := cells.Truncate(s, w-1-tail, "")
	end := cells.TruncateLeft(s, width(s)-tail, "")
	if !strings.HasSuffix(s, end) { // the cut fell inside a wide character, now a blank
		end = strings.TrimLeft(end, " ")
	}
	return head + ellipsis + end
}
