package repl

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Format is how results are written: the table formats for people, TSV
// and names for other programs. (JSON is the result document that
// exec.AppendJSON writes, which the caller prints itself.)
type Format string

const (
	// FormatTable prints tables fitted to Options.Width (the default).
	FormatTable Format = "table"
	// FormatWide prints every column, detail columns included, never cut.
	FormatWide Format = "wide"
	// FormatTSV prints the rows of every table tab-separated: cells
	// escaped as for a terminal (a tab or newline in a value is written
	// \t, \n), empty cells empty, no titles; the tables of one result are
	// separated by an empty line.
	FormatTSV Format = "tsv"
	// FormatName prints the names of the elements, one a line: the
	// column of each table marked Name.
	FormatName Format = "name"
)

// Formats lists the formats a command line may name, with JSON.
var Formats = []string{string(FormatTable), string(FormatWide), "json", string(FormatTSV), string(FormatName)}

// forPeople reports whether the format is one of the tables with titles.
func (o Options) forPeople() bool {
	return o.Format == "" || o.Format == FormatTable || o.Format == FormatWide
}

// printed counts the tables one Render wrote, so TSV can separate them.
type printed struct{ tables int }

// table writes one table of a result in the options' format.
func (o Options) table(w io.Writer, t Table) error {
	if o.printed != nil {
		defer func() { o.printed.tables++ }()
	}
	t.NoHeader = t.NoHeader || o.NoHeaders
	switch o.Format {
	case FormatTSV:
		if o.printed != nil && o.printed.tables > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		return t.writeTSV(w)
	case FormatName:
		return t.writeNames(w)
	case FormatWide:
		return t.Write(w, 0)
	}
	return t.narrow().Write(w, o.Width)
}

// narrow returns the table without its Wide columns.
func (t Table) narrow() *Table {
	keep := make([]int, 0, len(t.Columns))
	for i, c := range t.Columns {
		if !c.Wide {
			keep = append(keep, i)
		}
	}
	if len(keep) == len(t.Columns) {
		return &t
	}
	out := &Table{Cont: t.Cont, NoHeader: t.NoHeader}
	for _, i := range keep {
		out.Columns = append(out.Columns, t.Columns[i])
	}
	for _, r := range t.Rows {
		row := make([]string, 0, len(keep))
		for _, i := range keep {
			if i < len(r) {
				row = append(row, r[i])
			} else {
				row = append(row, "")
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// writeTSV writes the header (unless NoHeader) and every row, cells
// escaped and tab-separated, none blanked or cut.
func (t *Table) writeTSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	writeLine := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				bw.WriteByte('\t')
			}
			bw.WriteString(Escape(c))
		}
		bw.WriteByte('\n')
	}
	if !t.NoHeader {
		header := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			header[i] = c.Header
		}
		writeLine(header)
	}
	for _, r := range t.Rows {
		cells := make([]string, len(t.Columns))
		copy(cells, r)
		writeLine(cells)
	}
	return bw.Flush()
}

// writeNames writes the Name column's cells, one a line, once each for a
// row and the rows that continue it; a table without one writes nothing.
func (t *Table) writeNames(w io.Writer) error {
	col := -1
	for i, c := range t.Columns {
		if c.Name {
			col = i
		}
	}
	if col < 0 {
		return nil
	}
	bw := bufio.NewWriter(w)
	for i, r := range t.Rows {
		if (i < len(t.Cont) && t.Cont[i]) || col >= len(r) || r[col] == "" {
			continue
		}
		bw.WriteString(Escape(r[col]))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseFormat checks a format a command line names; "json" is the
// caller's, and is accepted.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, f) {
			return Format(f), nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s", s, strings.Join(Formats, ", "))
}

// WriteTable writes one table in the options' format: a listing of a
// command's own (keys, values) printed as results are.
func WriteTable(w io.Writer, t Table, o Options) error { return o.table(w, t) }
