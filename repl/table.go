package repl

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Table is rows of text cells under a header, printed as aligned columns
// two spaces apart. Every renderer of a result kind fills one; Write
// escapes every cell (see Escape) and fits the table to a terminal's width.
//
// A Table is a value its writer owns; Write does not modify it.
type Table struct {
	Columns []Column
	Rows    [][]string // each row has one cell per column
	// Cont marks rows that continue the row above (more fields of one
	// changed element): printed as a table, their leading cells that
	// repeat the row above are left blank. Nil means none; formats for
	// machines (TSV) print every cell.
	Cont []bool
	// NoHeader leaves the header row out.
	NoHeader bool
}

// Column describes one column and how it gives up width.
type Column struct {
	Header string
	// Fixed columns are never cut (ids, states): they are short, and a cut
	// one would be wrong rather than abbreviated.
	Fixed bool
	// Keep orders what a table gives up to fit: the columns with the
	// lowest Keep are cut first, down to their Min, then left out,
	// rightmost first, before any column with a higher Keep is cut. Among
	// equals, the widest are cut first. Fixed columns are only left out.
	Keep int
	// Min is the narrowest a cut leaves the column (DefaultMin when 0, or
	// the column's natural width if that is less): narrower than that, the
	// column is not worth showing and is left out instead.
	Min int
	// ElideMiddle cuts values in the middle instead of at the end, for
	// values whose ends tell them apart (pod names).
	ElideMiddle bool
	// Wide columns are shown only by the wide and TSV formats (-o wide):
	// detail a terminal table leaves out.
	Wide bool
	// Name marks the column -o name prints.
	Name bool
	// Blank columns show an empty cell as nothing rather than "-" (a field
	// that an added element's row does not have).
	Blank bool
}

// DefaultMin is the narrowest a column is cut to unless it says otherwise.
const DefaultMin = 6

// gap is the space between two columns.
const gap = 2

// Write prints the table. With width > 0 (a terminal's), no line is wider
// than width: columns are cut and, where that is not enough, left out, in
// the order their Keep says (see fit), with a note that names the columns
// left out. With width <= 0 (output that is not a terminal) nothing is cut.
func (t *Table) Write(w io.Writer, width int) error {
	header, rows := t.escaped()
	natural := make([]int, len(t.Columns))
	for i, h := range header {
		natural[i] = cellWidth(h)
		for _, r := range rows {
			natural[i] = max(natural[i], cellWidth(r[i]))
		}
	}
	widths, shown := natural, allShown(len(natural))
	if width > 0 {
		widths, shown = t.fit(natural, width)
	}
	bw := bufio.NewWriter(w)
	if !t.NoHeader {
		t.writeRow(bw, header, widths, shown)
	}
	for _, r := range rows {
		t.writeRow(bw, r, widths, shown)
	}
	if hidden := t.hidden(shown); hidden != "" {
		note := "(not shown, too narrow: " + hidden + ")"
		fmt.Fprintln(bw, elide(note, width, false))
	}
	return bw.Flush()
}

// blank is the cell a continuation row leaves blank: Escape writes a NUL
// as text, so no escaped cell is ever this.
const blank = "\x00"

// escaped returns the header and the rows with every cell escaped; a row
// shorter than the header is padded with empty cells. The leading cells
// of a continuation row that repeat the row above are blank.
func (t *Table) escaped() ([]string, [][]string) {
	header := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		header[i] = Escape(c.Header)
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = make([]string, len(t.Columns))
		for j := range rows[i] {
			if j < len(r) {
				rows[i][j] = Escape(r[j])
			}
			if rows[i][j] == "" && t.Columns[j].Blank {
				rows[i][j] = blank
			}
		}
	}
	for i := len(rows) - 1; i > 0; i-- {
		if i >= len(t.Cont) || !t.Cont[i] {
			continue
		}
		for j := 0; j < len(rows[i]) && rows[i][j] == rows[i-1][j]; j++ {
			rows[i][j] = blank
		}
	}
	return header, rows
}

// cellWidth is a cell's width; an empty cell shows as "-".
func cellWidth(s string) int {
	switch s {
	case "":
		return 1
	case blank:
		return 0
	}
	return width(s)
}

func allShown(n int) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = true
	}
	return s
}

func (t *Table) writeRow(w *bufio.Writer, cells []string, widths []int, shown []bool) {
	var b strings.Builder
	first := true
	for i, s := range cells {
		if !shown[i] {
			continue
		}
		switch s {
		case "":
			s = "-"
		case blank:
			s = ""
		}
		s = elide(s, widths[i], t.Columns[i].ElideMiddle)
		if !first {
			b.WriteString(strings.Repeat(" ", gap))
		}
		first = false
		b.WriteString(s)
		b.WriteString(strings.Repeat(" ", widths[i]-width(s)))
	}
	// No trailing blanks: after the last column, or blank cells at the end.
	w.WriteString(strings.TrimRight(b.String(), " "))
	w.WriteByte('\n')
}

// hidden names the columns not shown.
func (t *Table) hidden(shown []bool) string {
	var names []string
	for i, s := range shown {
		if !s {
			names = append(names, Escape(t.Columns[i].Header))
		}
	}
	return strings.Join(names, ", ")
}

// fit returns the width of every column and which are shown, so that a
// row takes at most width columns. It gives things up in the order of
// Keep, lowest first: each level's columns are cut down to their minimum,
// and if the row still does not fit, that level's columns are left out,
// rightmost first, before any column of a higher level is cut. (A label
// list cut to a few letters is worth less than the names it would cut.)
// After each column left out, the cutting starts over from the natural
// widths. The first column is never left out; alone, it is cut to the
// width.
func (t *Table) fit(natural []int, width int) ([]int, []bool) {
	shown := allShown(len(natural))
	for {
		widths := slices.Clone(natural)
		drop := -1
		for _, level := range t.keepLevels() {
			over := total(widths, shown) - width
			if over <= 0 {
				return widths, shown
			}
			t.capColumns(widths, t.columnsAt(level, shown, true), over)
			if total(widths, shown) <= width {
				return widths, shown
			}
			if drop = t.rightmost(t.columnsAt(level, shown, false)); drop >= 0 {
				break
			}
		}
		if drop < 0 { // only the first column is left
			first := slices.Index(shown, true)
			widths[first] = min(widths[first], width)
			return widths, shown
		}
		shown[drop] = false
	}
}

// columnsAt returns the shown columns of one Keep level: those that may be
// cut, or those that may be left out (any but the first shown column).
func (t *Table) columnsAt(level int, shown []bool, cut bool) []int {
	first := slices.Index(shown, true)
	var out []int
	for i, c := range t.Columns {
		if !shown[i] || c.Keep != level || (cut && c.Fixed) || (!cut && i == first) {
			continue
		}
		out = append(out, i)
	}
	return out
}

func (t *Table) rightmost(cols []int) int {
	if len(cols) == 0 {
		return -1
	}
	return cols[len(cols)-1]
}

// total is the width of a row of the shown columns.
func total(widths []int, shown []bool) int {
	sum, n := 0, 0
	for i, w := range widths {
		if shown[i] {
			sum += w
			n++
		}
	}
	return sum + gap*max(n-1, 0)
}

// minWidth is the narrowest column i may be cut to.
func (t *Table) minWidth(i, natural int) int {
	m := t.Columns[i].Min
	if m <= 0 {
		m = DefaultMin
	}
	return min(m, natural)
}

// capColumns lowers the widths of cols to the highest common cap that
// saves at least over columns (or to their minimums if none does), then
// hands back what the cap saved beyond over, one column at a time from the
// left, so the row uses the whole width.
func (t *Table) capColumns(widths []int, cols []int, over int) {
	saved := func(c int) int {
		s := 0
		for _, i := range cols {
			s += widths[i] - max(t.minWidth(i, widths[i]), min(widths[i], c))
		}
		return s
	}
	hi := 0
	for _, i := range cols {
		hi = max(hi, widths[i])
	}
	lo := 0 // saved(lo) is the most that can be saved
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if saved(mid) >= over {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	extra := max(saved(lo)-over, 0)
	for _, i := range cols {
		capped := max(t.minWidth(i, widths[i]), min(widths[i], lo))
		if extra > 0 && capped < widths[i] {
			capped++
			extra--
		}
		widths[i] = capped
	}
}

// keepLevels returns the distinct Keep values, lowest first.
func (t *Table) keepLevels() []int {
	var levels []int
	for _, c := range t.Columns {
		if !slices.Contains(levels, c.Keep) {
			levels = append(levels, c.Keep)
		}
	}
	slices.Sort(levels)
	return levels
}
