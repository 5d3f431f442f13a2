package repl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chzyer/readline"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
)

// Options say how a result is rendered.
type Options struct {
	// Width is the terminal's width in columns: tables and lines are
	// fitted to it. Zero prints everything whole, for output that is not a
	// terminal (a pipe, a file).
	Width int
	// Format is the output format (FormatTable when empty). A renderer
	// writes its tables with o.table and its title lines with line, which
	// follow it.
	Format Format
	// NoHeaders leaves out the header rows of tables.
	NoHeaders bool

	printed *printed // set by Render
}

// WriteResult renders a result as text for w: fitted to the terminal when
// w is one, whole otherwise. It is what `tetra query` prints.
func WriteResult(w io.Writer, res *exec.Result) error {
	return Render(w, res, Options{Width: TerminalWidth(w)})
}

// Render renders a result as text with explicit options: what the shell
// prints. A new result kind gets its renderer in a file of its own, called
// from here, and fills a Table.
func Render(w io.Writer, res *exec.Result, o Options) error {
	if o.printed == nil {
		o.printed = &printed{}
	}
	switch {
	case res.Topology != nil:
		return writeTopology(w, res.Topology, o)
	case res.Changes != nil:
		return writeChanges(w, res.Changes, o)
	case res.Metrics != nil:
		return writeMetrics(w, res.Metrics, o)
	case res.Events != nil:
		return writeEvents(w, res.Events, o)
	case res.Traces != nil:
		return writeTraces(w, res.Traces, o)
	}
	if !o.forPeople() {
		return nil
	}
	_, err := fmt.Fprintln(w, "(no result)")
	return err
}

// TerminalWidth returns the width of the terminal w writes to, or 0 when w
// is not a terminal.
func TerminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !readline.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, _, err := readline.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 {
		return 0
	}
	return cols
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// line prints one line of text, escaped and, on a terminal, cut to its
// width: a line is never wrapped. Formats for programs (TSV, names) print
// no such lines.
func line(w io.Writer, o Options, format string, args ...any) {
	if !o.forPeople() {
		return
	}
	s := Escape(fmt.Sprintf(format, args...))
	if o.Width > 0 {
		s = elide(s, o.Width, false)
	}
	fmt.Fprintln(w, s)
}

var (
	componentColumns = []Column{
		{Header: "ID", Fixed: true, Keep: 4},
		{Header: "NAME", Keep: 4, Min: 12, ElideMiddle: true, Name: true},
		{Header: "TYPE", Keep: 2},
		{Header: "LAYER", Keep: 2},
		{Header: "DOMAIN", Keep: 2},
		{Header: "ENVIRONMENTS", Keep: 1},
		{Header: "HEALTH", Fixed: true, Keep: 3},
		{Header: "LABELS", Keep: 0, Min: 12},
		{Header: "IDENTIFIERS", Wide: true},
		{Header: "SOURCES", Wide: true},
		{Header: "UPDATED", Wide: true},
	}
	relationColumns = []Column{
		{Header: "ID", Fixed: true, Keep: 3},
		{Header: "TYPE", Keep: 1},
		{Header: "SOURCE", Keep: 2, Min: 12, ElideMiddle: true},
		{Header: "TARGET", Keep: 2, Min: 12, ElideMiddle: true},
		{Header: "DEPENDENCY", Wide: true},
		{Header: "LABELS", Wide: true},
		{Header: "IDENTIFIERS", Wide: true},
		{Header: "SOURCES", Wide: true},
	}
)

func writeTopology(w io.Writer, r *exec.TopologyResult, o Options) error {
	bw := bufio.NewWriter(w)
	line(bw, o, "%s at %s", plural(r.Components.Len(), "component"), stamp(r.EvaluatedAt))
	names := make(map[uint64]string, r.Components.Len())
	if r.Components.Len() > 0 {
		t := Table{Columns: componentColumns}
		for _, c := range r.Components.All() {
			names[c.ID] = c.Name
			t.Rows = append(t.Rows, []string{strconv.FormatUint(c.ID, 10), c.Name, c.Type, c.Layer,
				c.Domain, strings.Join(c.Environments, ","), c.HealthState, strings.Join(c.Labels, ","),
				strings.Join(c.Identifiers, ","), sourceNames(c.Sources), millis(c.LastUpdateTimestamp)})
		}
		if err := o.table(bw, t); err != nil {
			return err
		}
	}
	if r.Relations.Len() > 0 {
		if o.forPeople() {
			fmt.Fprintln(bw)
		}
		line(bw, o, "%s", plural(r.Relations.Len(), "relation"))
		t := Table{Columns: relationColumns}
		for _, rel := range r.Relations.All() {
			t.Rows = append(t.Rows, []string{strconv.FormatUint(rel.ID, 10), rel.Type,
				endpoint(rel.Source, names), endpoint(rel.Target, names), rel.DependencyDirection,
				strings.Join(rel.Labels, ","), strings.Join(rel.Identifiers, ","), sourceNames(rel.Sources)})
		}
		if err := o.table(bw, t); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// sourceNames lists the sources that report an element.
func sourceNames(refs []graphstore.SourceRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Source
	}
	return strings.Join(names, ",")
}

// millis shows epoch milliseconds as an RFC 3339 time ("" for none).
func millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return stamp(time.UnixMilli(ms))
}

// endpoint shows a relation's end as its id and, when the result holds
// that component, its name.
func endpoint(id uint64, names map[uint64]string) string {
	s := strconv.FormatUint(id, 10)
	if n := names[id]; n != "" {
		s += " " + n
	}
	return s
}

// Terminal returns the terminal a command talks to when both its input and
// its output are one (the file to give Config.Terminal), or nil.
func Terminal(in io.Reader, out io.Writer) *os.File {
	f, ok := in.(*os.File)
	if !ok || !readline.IsTerminal(int(f.Fd())) || TerminalWidth(out) == 0 {
		return nil
	}
	return f
}
