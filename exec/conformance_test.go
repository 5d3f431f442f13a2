package exec_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/lang"
)

// stores are the implementations the query suite runs on, unchanged.
var stores = map[string]func(t *testing.T) graphstore.Store{
	"memstore": func(t *testing.T) graphstore.Store {
		return memstore.New(memstore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour})
	},
	"pebble": func(t *testing.T) graphstore.Store {
		s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: 1000 * time.Hour, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

// TestQueries runs the files under testdata/ against every store. Commands:
//
//	apply time=S           (as in graphstore/graphtest)
//	query [now=S] [max=N] [disable=rule,…]   the input is a TQL statement,
//	                                          after an optional "scope: EXPR" line
//	explain [now=S] [disable=rule,…]
//	values key=K [prefix=P] [limit=N] [now=S]   the values of a key; the
//	                                          input is empty or "scope: EXPR"
//	health id=N [now=S]    Engine.Health; the input is empty or a "scope: EXPR" line
//	load-sample            the bundled web shop (see sampleLoads)
func TestQueries(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
				st := open(t)
				defer st.Close()
				datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
					return runCommand(t, st, d)
				})
			})
		})
	}
}

func runCommand(t *testing.T, st graphstore.Store, d *datadriven.TestData) string {
	switch d.Cmd {
	case "query", "explain":
		eng := exec.New(st, engineOptions(d))
		src := strings.TrimSpace(d.Input)
		var qo exec.QueryOptions
		if rest, ok := strings.CutPrefix(src, "scope:"); ok {
			scope, query, _ := strings.Cut(rest, "\n")
			expr, err := lang.ParseFilter(strings.TrimSpace(scope))
			if err != nil {
				return "scope: " + lang.Render(scope, err)
			}
			qo.Scope, src = expr, strings.TrimSpace(query)
		}
		stmt, err := lang.Parse(src)
		if err != nil {
			return lang.Render(src, err)
		}
		if d.Cmd == "explain" {
			out, err := eng.ExplainWith(stmt, qo)
			if err != nil {
				return lang.Render(src, err)
			}
			return out
		}
		res, err := eng.RunWith(context.Background(), stmt, qo)
		checkRunJSON(t, eng, encodeCache(st), src, stmt, qo, res, err)
		if err != nil {
			return lang.Render(src, err) // positioned when the error has a span
		}
		return formatResult(res)
	case "health":
		return runHealth(t, st, d)
	case "load-sample":
		out, err := loadSample(st)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return out
	}
	if d.Cmd == "values" {
		return runValues(t, st, d)
	}
	out, err := graphtest.Exec(st, d)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return out
}

func runValues(t *testing.T, st graphstore.Store, d *datadriven.TestData) string {
	var key, prefix string
	limit := 100
	d.MaybeScanArgs(t, "key", &key)
	d.MaybeScanArgs(t, "prefix", &prefix)
	d.MaybeScanArgs(t, "limit", &limit)
	qo, bad := scopeInput(d)
	if bad != "" {
		return bad
	}
	vals, err := exec.New(st, engineOptions(d)).Values(context.Background(), key, prefix, limit, qo)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if len(vals) == 0 {
		return "(none)\n"
	}
	return strings.Join(vals, "\n") + "\n"
}

func engineOptions(d *datadriven.TestData) exec.Options {
	o := exec.Options{Now: graphtest.Clock}
	for _, a := range d.CmdArgs {
		switch a.Key {
		case "now":
			sec, _ := strconv.ParseInt(a.Vals[0], 10, 64)
			o.Now = func() time.Time { return graphtest.At(sec) }
		case "max":
			o.MaxElements, _ = strconv.Atoi(a.Vals[0])
		case "disable":
			o.Disabled = map[string]bool{}
			for _, v := range a.Vals {
				for _, name := range strings.Split(v, ",") {
					o.Disabled[name] = true
				}
			}
		}
	}
	return o
}

// formatResult prints a result compactly: one line per element.
func formatResult(res *exec.Result) string {
	var b strings.Builder
	if r := res.Topology; r != nil {
		fmt.Fprintf(&b, "at %s: %d components, %d relations\n", graphtest.Sec(r.EvaluatedAt), r.Components.Len(), r.Relations.Len())
		for _, c := range r.Components.All() {
			b.WriteString(formatComponent(c))
		}
		for _, rel := range r.Relations.All() {
			fmt.Fprintf(&b, "  relation %d %s %d->%d\n", rel.ID, rel.Type, rel.Source, rel.Target)
		}
	}
	if r := res.Changes; r != nil {
		fmt.Fprintf(&b, "changes from %s to %s\n", graphtest.Sec(r.From), graphtest.Sec(r.To))
		for _, c := range r.Added.Components {
			b.WriteString("added" + formatComponent(c))
		}
		for _, c := range r.Removed.Components {
			b.WriteString("removed" + formatComponent(c))
		}
		for _, c := range r.Changed.Components {
			fmt.Fprintf(&b, "changed  component %d %q fields=%s\n", c.After.ID, c.After.Name, strings.Join(c.Fields, ","))
		}
		for _, rel := range r.Added.Relations {
			fmt.Fprintf(&b, "added  relation %d %s %d->%d\n", rel.ID, rel.Type, rel.Source, rel.Target)
		}
		for _, rel := range r.Removed.Relations {
			fmt.Fprintf(&b, "removed  relation %d %s %d->%d\n", rel.ID, rel.Type, rel.Source, rel.Target)
		}
		for _, rel := range r.Changed.Relations {
			fmt.Fprintf(&b, "changed  relation %d fields=%s\n", rel.After.ID, strings.Join(rel.Fields, ","))
		}
	}
	return b.String()
}

func formatComponent(c exec.Component) string {
	s := fmt.Sprintf("  component %d %q type=%q", c.ID, c.Name, c.Type)
	if c.Layer != "" {
		s += fmt.Sprintf(" layer=%q", c.Layer)
	}
	if c.Domain != "" {
		s += fmt.Sprintf(" domain=%q", c.Domain)
	}
	if len(c.Environments) > 0 {
		s += fmt.Sprintf(" env=%v", c.Environments)
	}
	if len(c.Labels) > 0 {
		s += fmt.Sprintf(" labels=%v", c.Labels)
	}
	s += " health=" + c.HealthState
	if c.PropagatedHealthState != c.HealthState {
		s += " propagated=" + c.PropagatedHealthState
	}
	return s + "\n"
}

// runHealth runs Engine.Health and prints the component, its check states
// and its degraded dependencies.
func runHealth(t *testing.T, st graphstore.Store, d *datadriven.TestData) string {
	qo, bad := scopeInput(d)
	if bad != "" {
		return bad
	}
	var id uint64
	d.ScanArgs(t, "id", &id)
	h, err := exec.New(st, engineOptions(d)).Health(context.Background(), id, qo)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if h == nil {
		return "no such component\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "at %s:%s", graphtest.Sec(h.At), formatComponent(h.Component))
	for _, c := range h.Checks {
		fmt.Fprintf(&b, "  check %s/%s %q %s on=%q", c.Stream, c.CheckStateID, c.Name, c.Health, c.TopologyElementIdentifier)
		if c.Message != "" {
			fmt.Fprintf(&b, " message=%q", c.Message)
		}
		b.WriteByte('\n')
	}
	for _, dep := range h.Dependencies {
		fmt.Fprintf(&b, "  depends via relation %d on%s", dep.Relation, formatComponent(dep.Component))
	}
	return b.String()
}

// scopeInput reads a command's input that is empty or a "scope: EXPR" line
// into query options; bad is the rendered error of a scope that does not
// parse.
func scopeInput(d *datadriven.TestData) (qo exec.QueryOptions, bad string) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(d.Input), "scope:"); ok {
		expr, err := lang.ParseFilter(strings.TrimSpace(rest))
		if err != nil {
			return qo, "scope: " + lang.Render(rest, err)
		}
		qo.Scope = expr
	}
	return qo, ""
}
