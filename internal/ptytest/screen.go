package ptytest

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// Screen is a small terminal emulator: enough of VT100 and xterm to follow
// a line editor. It takes printable text with automatic wrapping at the
// width, CR, LF, BS and TAB, and the CSI sequences that move the cursor
// (A B C D G H f) and erase (J K); colours and modes are ignored, and OSC
// strings (window titles) are skipped. It keeps every line ever written
// (scrollback included), so a test sees the whole session as a user would
// have: what was overwritten is gone, what wrapped is two lines.
//
// A Screen is safe for concurrent use: a reader goroutine writes to it
// while a test reads it.
type Screen struct {
	mu    sync.Mutex
	cols  int
	rows  int
	lines [][]rune // cells; a wide character is followed by a 0 cell
	row   int
	col   int
	wrap  bool   // the cursor is past the last column: the next character wraps
	esc   []byte // an escape sequence being read
	utf   []byte // an incomplete UTF-8 sequence
}

// NewScreen returns an empty screen of cols by rows.
func NewScreen(cols, rows int) *Screen {
	return &Screen{cols: cols, rows: rows, lines: [][]rune{nil}}
}

var cellWidth = &runewidth.Condition{EastAsianWidth: false}

// Write feeds output to the screen.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := append(s.utf, p...)
	s.utf = nil
	for len(data) > 0 {
		if s.esc != nil {
			s.escape(data[0])
			data = data[1:]
			continue
		}
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(data) {
			s.utf = append([]byte(nil), data...)
			break
		}
		data = data[size:]
		s.put(r)
	}
	return len(p), nil
}

func (s *Screen) put(r rune) {
	switch r {
	case 0x1b:
		s.esc = []byte{}
	case '\r':
		s.col, s.wrap = 0, false
	case '\n':
		s.down(1)
	case '\b':
		if s.wrap {
			s.wrap = false
		} else if s.col > 0 {
			s.col--
		}
	case '\t':
		s.col = min((s.col/8+1)*8, s.cols-1)
	case 0x07, 0:
	default:
		if r < 0x20 || r == 0x7f {
			return
		}
		s.print(r)
	}
}

func (s *Screen) print(r rune) {
	w := cellWidth.RuneWidth(r)
	if w == 0 {
		return // combining marks: not needed by these tests
	}
	if s.wrap || s.col+w > s.cols {
		s.col, s.wrap = 0, false
		s.down(1)
	}
	line := s.line()
	for len(line) < s.col+w {
		line = append(line, ' ')
	}
	line[s.col] = r
	if w == 2 {
		line[s.col+1] = 0
	}
	s.lines[s.row] = line
	s.col += w
	if s.col >= s.cols {
		s.col, s.wrap = s.cols-1, true
	}
}

func (s *Screen) line() []rune { return s.lines[s.row] }

func (s *Screen) down(n int) {
	s.row += n
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
	s.wrap = false
}

// escape takes one byte of an escape sequence.
func (s *Screen) escape(b byte) {
	s.esc = append(s.esc, b)
	seq := s.esc
	switch {
	case len(seq) == 1 && seq[0] != '[' && seq[0] != ']':
		s.esc = nil // a two-byte sequence (ESC 7, ESC =): ignored
	case seq[0] == ']': // OSC, up to BEL or ESC \
		if b == 0x07 || (b == '\\' && len(seq) > 1 && seq[len(seq)-2] == 0x1b) {
			s.esc = nil
		}
	case len(seq) > 1 && b >= 0x40 && b <= 0x7e:
		s.csi(string(seq[1:len(seq)-1]), b)
		s.esc = nil
	}
}

func (s *Screen) csi(params string, final byte) {
	private := strings.HasPrefix(params, "?")
	var args []int
	for _, p := range strings.Split(strings.TrimPrefix(params, "?"), ";") {
		n, _ := strconv.Atoi(p)
		args = append(args, n)
	}
	arg := func(i, def int) int {
		if i < len(args) && args[i] > 0 {
			return args[i]
		}
		return def
	}
	if private {
		return
	}
	s.wrap = false
	switch final {
	case 'A':
		s.row = max(s.row-arg(0, 1), 0)
	case 'B':
		s.down(arg(0, 1))
	case 'C':
		s.col = min(s.col+arg(0, 1), s.cols-1)
	case 'D':
		s.col = max(s.col-arg(0, 1), 0)
	case 'G':
		s.col = min(arg(0, 1)-1, s.cols-1)
	case 'H', 'f':
		top := max(len(s.lines)-s.rows, 0)
		s.row = top + arg(0, 1) - 1
		s.down(0)
		s.col = min(arg(1, 1)-1, s.cols-1)
	case 'J':
		s.eraseDisplay(arg(0, 0))
	case 'K':
		s.eraseLine(arg(0, 0))
	}
}

func (s *Screen) eraseLine(mode int) {
	line := s.line()
	switch mode {
	case 0:
		if s.col < len(line) {
			s.lines[s.row] = line[:s.col]
		}
	case 1:
		for i := 0; i <= s.col && i < len(line); i++ {
			line[i] = ' '
		}
	case 2:
		s.lines[s.row] = nil
	}
}

func (s *Screen) eraseDisplay(mode int) {
	switch mode {
	case 0:
		s.eraseLine(0)
		s.lines = s.lines[:s.row+1]
	case 2, 3:
		for i := max(len(s.lines)-s.rows, 0); i < len(s.lines); i++ {
			s.lines[i] = nil
		}
	}
}

// Lines returns the screen's lines, scrollback included, without trailing
// blanks, and without the empty lines at the end.
func (s *Screen) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.lines))
	for i, l := range s.lines {
		out[i] = cellsText(l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// CursorLine returns the text of the line the cursor is on.
func (s *Screen) CursorLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cellsText(s.lines[s.row])
}

// Text returns the lines joined with newlines.
func (s *Screen) Text() string { return strings.Join(s.Lines(), "\n") }

func cellsText(l []rune) string {
	var b strings.Builder
	for _, r := range l {
		if r != 0 {
			b.WriteRune(r)
		}
	}
	return strings.TrimRight(b.String(), " ")
}
