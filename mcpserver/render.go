package mcpserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
)

// writer builds a tool's text answer within a byte budget: once the
// budget is spent it stops, and the answer says so plainly (an assistant
// must never mistake a cut list for a whole one).
type writer struct {
	b    strings.Builder
	max  int
	full bool
}

func newWriter(max int) *writer { return &writer{max: max} }

// line appends a line unless the budget is spent.
func (w *writer) line(format string, args ...any) {
	if w.full {
		return
	}
	s := fmt.Sprintf(format, args...)
	if w.b.Len()+len(s)+1 > w.max-200 { // room for the notice
		w.full = true
		w.b.WriteString("… (the answer stops here: it reached its size limit; ask for less with a narrower statement or a smaller limit)\n")
		return
	}
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

// raw appends JSON, cut at the budget with a notice.
func (w *writer) raw(b []byte) {
	room := w.max - 200 - w.b.Len()
	if len(b) <= room {
		w.b.Write(b)
		w.b.WriteByte('\n')
		return
	}
	if room > 0 {
		w.b.Write(b[:room])
	}
	fmt.Fprintf(&w.b, "\n… (cut: %d more bytes of %d; return less, or summarise in the script)\n", len(b)-max(room, 0), len(b))
	w.full = true
}

func (w *writer) String() string { return w.b.String() }

// result renders any statement's result compactly.
func (w *writer) result(res *exec.Result, limit int) {
	switch {
	case res.Topology != nil:
		w.topology(res.Topology, limit)
	case res.Changes != nil:
		w.changes(res.Changes, limit)
	case res.Metrics != nil:
		w.metrics(res.Metrics, limit)
	case res.Events != nil:
		w.events(res.Events, limit)
	case res.Traces != nil:
		w.traces(res.Traces, limit)
	default:
		w.line("the statement returned nothing to show")
	}
}

func (w *writer) topology(t *exec.TopologyResult, limit int) {
	names := map[uint64]string{}
	for _, c := range t.Components.All() {
		names[c.ID] = c.Name
	}
	w.line("%d components, %d relations at %s", t.Components.Len(), t.Relations.Len(), t.EvaluatedAt.UTC().Format(time.RFC3339))
	w.list("components", t.Components.Len(), limit, func(i int) { w.line("%s", componentLine(t.Components.At(i))) })
	w.list("relations", t.Relations.Len(), limit, func(i int) { w.line("%s", relationLine(t.Relations.At(i), names)) })
}

// list writes a heading and at most limit entries, saying how many were
// left out.
func (w *writer) list(what string, n, limit int, entry func(int)) {
	if n == 0 {
		return
	}
	if n > limit {
		w.line("%s (%d; showing the first %d, raise limit up to 500 or narrow the statement for the rest):", what, n, limit)
	} else {
		w.line("%s:", what)
	}
	for i := range min(n, limit) {
		entry(i)
	}
}

// componentLine is `#id name [type, layer] health identifiers`.
func componentLine(c exec.Component) string {
	s := fmt.Sprintf("#%d %s [%s, %s] %s", c.ID, c.Name, c.Type, c.Layer, c.HealthState)
	if ids := urns(c.Identifiers); len(ids) > 0 {
		s += " " + strings.Join(ids, " ")
	}
	return s
}

// urns keeps the identifiers that name a component across sources (urn:…),
// at most three: the others are per-source external ids.
func urns(ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, "urn:") && len(out) < 3 {
			out = append(out, id)
		}
	}
	return out
}

// relationLine is `#id source(#s) -type-> target(#t)`.
func relationLine(r exec.Relation, names map[uint64]string) string {
	return fmt.Sprintf("#%d %s -%s-> %s", r.ID, ref(r.Source, names), r.Type, ref(r.Target, names))
}

func ref(id uint64, names map[uint64]string) string {
	if n, ok := names[id]; ok {
		return fmt.Sprintf("%s(#%d)", n, id)
	}
	return fmt.Sprintf("#%d", id)
}

func (w *writer) changes(c *exec.ChangesResult, limit int) {
	w.line("from %s to %s: components %d added, %d removed, %d changed; relations %d added, %d removed, %d changed",
		c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339),
		len(c.Added.Components), len(c.Removed.Components), len(c.Changed.Components),
		len(c.Added.Relations), len(c.Removed.Relations), len(c.Changed.Relations))
	if c.Truncated {
		w.line("(the engine cut this answer at its element limit: narrow the filter for the whole of it)")
	}
	names := map[uint64]string{}
	for _, l := range [][]exec.Component{c.Added.Components, c.Removed.Components} {
		for _, x := range l {
			names[x.ID] = x.Name
		}
	}
	for _, x := range c.Changed.Components {
		names[x.After.ID] = x.After.Name
	}
	w.list("added components", len(c.Added.Components), limit, func(i int) { w.line("+ %s", componentLine(c.Added.Components[i])) })
	w.list("removed components", len(c.Removed.Components), limit, func(i int) { w.line("- %s", componentLine(c.Removed.Components[i])) })
	w.list("changed components", len(c.Changed.Components), limit, func(i int) {
		x := c.Changed.Components[i]
		w.line("~ %s: %s", componentLine(x.After), fieldChanges(x))
	})
	w.list("added relations", len(c.Added.Relations), limit, func(i int) { w.line("+ %s", relationLine(c.Added.Relations[i], names)) })
	w.list("removed relations", len(c.Removed.Relations), limit, func(i int) { w.line("- %s", relationLine(c.Removed.Relations[i], names)) })
	w.list("changed relations", len(c.Changed.Relations), limit, func(i int) {
		x := c.Changed.Relations[i]
		w.line("~ %s: %s changed", relationLine(x.After, names), strings.Join(x.Fields, ", "))
	})
}

// fieldChanges says which fields of a component changed, with the before
// and after of short ones.
func fieldChanges(x exec.ComponentChange) string {
	var out []string
	for _, f := range x.Fields {
		switch f {
		case "healthState":
			out = append(out, fmt.Sprintf("healthState %s → %s", x.Before.HealthState, x.After.HealthState))
		case "propagatedHealthState":
			out = append(out, fmt.Sprintf("propagatedHealthState %s → %s", x.Before.PropagatedHealthState, x.After.PropagatedHealthState))
		case "name":
			out = append(out, fmt.Sprintf("name %s → %s", x.Before.Name, x.After.Name))
		default:
			out = append(out, f+" changed")
		}
	}
	return strings.Join(out, "; ")
}

// compactJSON returns JSON within n bytes, cut with a notice.
func compactJSON(v json.RawMessage, n int) string {
	if len(v) <= n {
		return string(v)
	}
	return string(v[:n]) + fmt.Sprintf("… (%d more bytes)", len(v)-n)
}
