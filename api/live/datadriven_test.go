package live

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/lang"
)

// TestLive runs the files under testdata/ against every store, through the
// in-process subscription API. Commands:
//
//	apply time=S                       (as in graphstore/graphtest)
//	subscribe name=N [resume=S]        the input is the query, after an optional
//	                                    "scope: EXPR" line; prints what the
//	                                    subscription got once the hub is idle
//	sync                               waits for the hub, prints every message
//	                                    delivered since, and the evaluations commits caused
//	unsubscribe name=N
func TestLive(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
				st := open(t)
				r := &ddRunner{h: newHub(t, st, Limits{}), st: st, subs: map[string]*Subscription{}}
				datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
					return r.run(t, d)
				})
			})
		})
	}
}

type ddRunner struct {
	h     *Hub
	st    graphstore.Store
	subs  map[string]*Subscription
	evals int
}

func (r *ddRunner) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "apply":
		out, err := graphtest.Exec(r.st, d)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		syncHub(t, r.h) // later commands see the hub at this commit
		return out
	case "subscribe":
		return r.subscribe(t, d)
	case "sync":
		return r.sync(t)
	case "unsubscribe":
		name := argOf(d, "name")
		r.subs[name].Close()
		delete(r.subs, name)
		return "ok\n"
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func argOf(d *datadriven.TestData, key string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return strings.Join(a.Vals, ",")
		}
	}
	return ""
}

func (r *ddRunner) subscribe(t *testing.T, d *datadriven.TestData) string {
	name := argOf(d, "name")
	var sess Session
	src := strings.TrimSpace(d.Input)
	if rest, ok := strings.CutPrefix(src, "scope:"); ok {
		scope, query, _ := strings.Cut(rest, "\n")
		expr, err := lang.ParseFilter(strings.TrimSpace(scope))
		if err != nil {
			t.Fatal(err)
		}
		sess.Scope, src = expr, strings.TrimSpace(query)
	}
	req := Request{Query: src}
	if s := argOf(d, "resume"); s != "" {
		var sec int64
		fmt.Sscan(s, &sec)
		seq := Seq(graphtest.At(sec).UnixNano())
		req.Resume = &seq
	}
	s, err := r.h.Subscribe(context.Background(), req, sess)
	if err != nil {
		return renderError(errorOf(req.Query, err))
	}
	r.subs[name] = s
	return r.sync(t)
}

// sync prints what every subscription got since the last sync.
func (r *ddRunner) sync(t *testing.T) string {
	syncHub(t, r.h)
	var b strings.Builder
	names := make([]string, 0, len(r.subs))
	for n := range r.subs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := r.subs[n]
		for m := s.Take(); m != nil; m = s.Take() {
			renderMessage(&b, n, m)
		}
	}
	if n := r.h.changeEvaluations(); n != r.evals {
		fmt.Fprintf(&b, "(%d evaluations for commits)\n", n-r.evals)
		r.evals = n
	}
	if b.Len() == 0 {
		return "nothing\n"
	}
	return b.String()
}

func renderMessage(b *strings.Builder, name string, m *Message) {
	switch m.Type {
	case TypeResult:
		fmt.Fprintf(b, "%s: result at %s", name, graphtest.SecNs(int64(m.Seq)))
		if m.Final {
			b.WriteString(" (final)")
		}
		if m.Resync != "" {
			fmt.Fprintf(b, " (resync: %s)", m.Resync)
		}
		fmt.Fprintf(b, ": %d components, %d relations\n", m.Result.Components.Len(), m.Result.Relations.Len())
		for _, c := range m.Result.Components.All() {
			fmt.Fprintf(b, "  %s\n", componentLine(&c))
		}
		for _, rel := range m.Result.Relations.All() {
			fmt.Fprintf(b, "  %s\n", relationLine(&rel))
		}
	case TypeDiff:
		fmt.Fprintf(b, "%s: diff %s -> %s\n", name, graphtest.SecNs(int64(m.From)), graphtest.SecNs(int64(m.Seq)))
		renderDiff(b, m.Diff)
	case TypeError:
		fmt.Fprintf(b, "%s: %s", name, renderError(m.Error))
	default:
		fmt.Fprintf(b, "%s: %s\n", name, m.Type)
	}
}

func componentLine(c *exec.Component) string {
	return fmt.Sprintf("component %d %q type=%q labels=%v health=%s", c.ID, c.Name, c.Type, c.Labels, c.HealthState)
}

func relationLine(r *exec.Relation) string {
	return fmt.Sprintf("relation %d %s %d->%d", r.ID, r.Type, r.Source, r.Target)
}

func renderDiff(b *strings.Builder, d *Diff) {
	for _, c := range d.Added.Components {
		fmt.Fprintf(b, "  added %s\n", componentLine(&c))
	}
	for _, r := range d.Added.Relations {
		fmt.Fprintf(b, "  added %s\n", relationLine(&r))
	}
	for _, id := range d.Removed.Components {
		fmt.Fprintf(b, "  removed component %d\n", id)
	}
	for _, id := range d.Removed.Relations {
		fmt.Fprintf(b, "  removed relation %d\n", id)
	}
	for _, c := range d.Changed.Components {
		fmt.Fprintf(b, "  changed component %d:%s\n", c.ID, changedValues(c))
	}
	for _, c := range d.Changed.Relations {
		fmt.Fprintf(b, "  changed relation %d:%s\n", c.ID, changedValues(c))
	}
}

// changedValues prints the new values of a change's fields, but the
// timestamp, which every change has.
func changedValues(c Change) string {
	var b strings.Builder
	for _, f := range c.Fields {
		if f == "lastUpdateTimestamp" {
			continue
		}
		v, _ := json.Marshal(c.value(f))
		fmt.Fprintf(&b, " %s=%s", f, v)
	}
	return b.String()
}

func renderError(e *api.Error) string {
	s := fmt.Sprintf("error %s: %s", e.Class, e.Message)
	if e.Line > 0 {
		s += fmt.Sprintf(" (at %d:%d, offset %d, length %d)", e.Line, e.Col, e.Offset, e.Length)
	}
	if e.Hint != "" {
		s += " hint: " + e.Hint
	}
	return s + "\n"
}
