package ptytest

import (
	"strings"
	"testing"
)

func TestScreen(t *testing.T) {
	for _, c := range []struct {
		name, out, want, cursor string
	}{
		{"text and newlines", "ab\r\ncd\r\n", "ab\ncd", ""},
		{"carriage return overwrites", "hello\rJ", "Jello", "Jello"},
		{"wrap at the width", "0123456789abc", "0123456789\nabc", "abc"},
		{"exactly the width does not wrap yet", "0123456789\r\n", "0123456789", ""},
		{"backspace and erase to the end", "abcdef\b\b\b\x1b[K", "abc", "abc"},
		{"erase the line", "abc\x1b[2Kx", "   x", "   x"},
		{"cursor up and over", "one\r\ntwo\x1b[A\rONE", "ONE\ntwo", "ONE"},
		{"forward and back", "abc\x1b[2D\x1b[1CX", "abX", "abX"},
		{"erase below", "a\r\nb\r\nc\x1b[2A\r\x1b[J", "", ""},
		{"colours are ignored", "\x1b[31mred\x1b[0m", "red", "red"},
		{"titles are skipped", "\x1b]2;title\x07x", "x", "x"},
		{"wide characters take two cells", "世界世界世界x", "世界世界世\n界x", "界x"},
		{"utf-8 split across writes", "caf\xc3", "café", "café"},
	} {
		s := NewScreen(10, 5)
		s.Write([]byte(c.out))
		if c.name == "utf-8 split across writes" {
			s.Write([]byte("\xa9"))
		}
		if got := s.Text(); got != c.want {
			t.Errorf("%s: screen %q, want %q", c.name, got, c.want)
		}
		if got := s.CursorLine(); got != c.cursor {
			t.Errorf("%s: cursor line %q, want %q", c.name, got, c.cursor)
		}
	}
	s := NewScreen(10, 5)
	s.Write([]byte("x\r\nxy\r\n"))
	if s.Count("x") != 2 || !strings.Contains(s.Text(), "xy") {
		t.Errorf("Count: %d", s.Count("x"))
	}
}
