package repl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Description is one component with its relations and the components at
// their other ends: what tetra describe and :describe show.
type Description struct {
	At        time.Time
	Component exec.Component
	// Out are the relations from the component (it is their source), In
	// those to it; each with the component at the other end.
	Out, In []Neighbour
	// TooMany is set when the component has more neighbours than the
	// element limit lets one query hold: Out and In are then empty.
	TooMany bool
	// Health is what the component's health rests on at At: the check
	// states bound to it and its degraded dependencies (nil when the
	// backend had none for it).
	Health *exec.ComponentHealth
}

// Neighbour is a relation of the described component and the component at
// its other end.
type Neighbour struct {
	Relation exec.Relation
	Other    exec.Component
}

// AmbiguousError is a name that several components have.
type AmbiguousError struct {
	Name string
	// Matches is the answer of the name's query: the components so named.
	Matches *exec.TopologyResult
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%d components are named %q; describe one by its id", e.Matches.Components.Len(), e.Name)
}

// NotFoundError is an id, name or identifier no component has.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no component has the id, name or identifier %q", e.What)
}

// Describe finds one component by id (a number), name, or identifier, in
// that order, and reads its neighbourhood, through the backend's queries.
func Describe(ctx context.Context, b Backend, what string, o RunOptions) (*Description, error) {
	c, at, err := findComponent(ctx, b, strings.TrimSpace(what), o)
	if err != nil {
		return nil, err
	}
	d := &Description{At: at, Component: *c}
	// The health as of the time the component was found at, so that the
	// two agree while the graph moves.
	if d.Health, err = b.Health(ctx, c.ID, RunOptions{At: at}); err != nil {
		return nil, err
	}
	q := fmt.Sprintf(`withNeighborsOf(components = (id = %d), levels = "1", direction = "both")`, c.ID)
	res, err := b.Run(ctx, q, o)
	var le *exec.LimitError
	switch {
	case errors.As(err, &le):
		d.TooMany = true
		return d, nil
	case err != nil:
		return nil, err
	case res.Topology == nil:
		return d, nil
	}
	byID := map[uint64]exec.Component{}
	for _, n := range res.Topology.Components.All() {
		byID[n.ID] = n
	}
	for _, r := range res.Topology.Relations.All() {
		switch {
		case r.Source == c.ID:
			d.Out = append(d.Out, Neighbour{Relation: r, Other: byID[r.Target]})
		case r.Target == c.ID:
			d.In = append(d.In, Neighbour{Relation: r, Other: byID[r.Source]})
		}
	}
	return d, nil
}

// findComponent resolves what to one component.
func findComponent(ctx context.Context, b Backend, what string, o RunOptions) (*exec.Component, time.Time, error) {
	if what == "" {
		return nil, time.Time{}, errors.New("describe what? give a component's id, name or identifier")
	}
	var queries []string
	if _, err := strconv.ParseUint(what, 10, 64); err == nil {
		queries = append(queries, "id = "+what)
	}
	quoted := `"` + lang.Escape(what) + `"`
	queries = append(queries, "name = "+quoted, "identifier = "+quoted)
	for i, q := range queries {
		res, err := b.Run(ctx, q, o)
		if err != nil {
			return nil, time.Time{}, err
		}
		comps := res.Topology.Components
		switch {
		case comps.Len() == 1:
			c := comps.At(0)
			return &c, res.Topology.EvaluatedAt, nil
		case comps.Len() > 1 && strings.HasPrefix(queries[i], "name"):
			return nil, time.Time{}, &AmbiguousError{Name: what, Matches: res.Topology}
		}
	}
	return nil, time.Time{}, &NotFoundError{What: what}
}

// WriteAmbiguous lists the components an ambiguous name has, to pick one.
func WriteAmbiguous(w io.Writer, e *AmbiguousError, o Options) error {
	return writeTopology(w, e.Matches, Options{Width: o.Width})
}

// WriteDescription prints a description: the component's fields, its
// sources, its properties, and its relations with the components at their
// other ends.
func WriteDescription(w io.Writer, d *Description, o Options) error {
	bw := bufio.NewWriter(w)
	c := d.Component
	field := func(name string, vals ...string) {
		if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
			vals = []string{"-"}
		}
		for i, v := range vals {
			label := ""
			if i == 0 {
				label = name + ":"
			}
			line(bw, o, "%-14s %s", label, v)
		}
	}
	field("Name", c.Name)
	field("ID", strconv.FormatUint(c.ID, 10))
	field("Type", c.Type)
	field("Layer", c.Layer)
	field("Domain", c.Domain)
	field("Environments", c.Environments...)
	field("Health", healthText(c))
	field("Labels", c.Labels...)
	field("Identifiers", c.Identifiers...)
	field("Last update", millis(c.LastUpdateTimestamp))
	field("As of", stamp(d.At))
	if err := writeSources(bw, c, o); err != nil {
		return err
	}
	if err := writeHealth(bw, d.Health, o); err != nil {
		return err
	}
	writeProperties(bw, c.Properties, o)
	if err := writeNeighbours(bw, d, o); err != nil {
		return err
	}
	return bw.Flush()
}

// healthText is a component's own health state, and its propagated state
// when what it depends on makes that worse.
func healthText(c exec.Component) string {
	if c.PropagatedHealthState == "" || c.PropagatedHealthState == c.HealthState {
		return c.HealthState
	}
	return c.HealthState + " (propagated: " + c.PropagatedHealthState + ")"
}

// writeHealth lists the check states behind the component's own state
// and the degraded dependencies its propagated state comes from.
func writeHealth(w io.Writer, h *exec.ComponentHealth, o Options) error {
	if h == nil {
		return nil
	}
	fmt.Fprintln(w)
	if len(h.Checks) == 0 {
		line(w, o, "Check states:  none")
	} else {
		line(w, o, "Check states:")
		t := Table{Columns: []Column{{Header: "  HEALTH", Fixed: true, Keep: 4}, {Header: "NAME", Keep: 3},
			{Header: "MESSAGE", Keep: 2, Min: 20}, {Header: "STREAM", Keep: 1, Min: 12, ElideMiddle: true}}}
		for _, c := range h.Checks {
			t.Rows = append(t.Rows, []string{"  " + c.Health, c.Name, c.Message, c.Stream})
		}
		if err := t.Write(w, o.Width); err != nil {
			return err
		}
	}
	if len(h.Dependencies) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	line(w, o, "Degraded dependencies (where its propagated health comes from):")
	t := Table{Columns: []Column{{Header: "  RELATION", Fixed: true, Keep: 3}, {Header: "COMPONENT", Keep: 4, Min: 12, ElideMiddle: true},
		{Header: "COMPONENT TYPE", Keep: 1}, {Header: "PROPAGATED", Fixed: true, Keep: 2}}}
	for _, d := range h.Dependencies {
		t.Rows = append(t.Rows, []string{"  " + strconv.FormatUint(d.Relation, 10), endpoint(d.Component.ID, map[uint64]string{d.Component.ID: d.Component.Name}),
			d.Component.Type, d.Component.PropagatedHealthState})
	}
	return t.Write(w, o.Width)
}

func writeSources(w io.Writer, c exec.Component, o Options) error {
	fmt.Fprintln(w)
	line(w, o, "Sources:")
	t := Table{Columns: []Column{{Header: "  SOURCE", Keep: 2}, {Header: "EXTERNAL ID", Keep: 1, Min: 12, ElideMiddle: true}}}
	for _, s := range c.Sources {
		t.Rows = append(t.Rows, []string{"  " + s.Source, s.ExternalID})
	}
	return t.Write(w, o.Width)
}

// writeProperties prints the properties as indented keys and values:
// objects nested, lists of plain values joined, other lists as JSON.
func writeProperties(w io.Writer, props json.RawMessage, o Options) {
	fmt.Fprintln(w)
	if len(props) == 0 {
		line(w, o, "Properties:    -")
		return
	}
	line(w, o, "Properties:")
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		line(w, o, "  %s", props)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		line(w, o, "  %s", compact(v))
		return
	}
	writeObject(w, obj, "  ", o)
}

func writeObject(w io.Writer, obj map[string]any, indent string, o Options) {
	keys := make([]string, 0, len(obj))
	pad := 0
	for k, v := range obj {
		keys = append(keys, k)
		if _, nested := v.(map[string]any); !nested {
			pad = max(pad, len([]rune(k)))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, nested := obj[k].(map[string]any); nested {
			line(w, o, "%s%s:", indent, k)
			writeObject(w, sub, indent+"  ", o)
			continue
		}
		line(w, o, "%s%-*s  %s", indent, pad+1, k+":", propertyValue(obj[k]))
	}
}

// propertyValue shows a property: a string as it is, a list of plain
// values joined with ", ", anything else as compact JSON.
func propertyValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				return compact(v)
			case string:
				parts = append(parts, e.(string))
			default:
				parts = append(parts, compact(e))
			}
		}
		return strings.Join(parts, ", ")
	}
	return compact(v)
}

func writeNeighbours(w io.Writer, d *Description, o Options) error {
	fmt.Fprintln(w)
	if d.TooMany {
		line(w, o, "Relations:     more than the element limit; list them with withNeighborsOf(components = (id = %d), levels = \"1\")", d.Component.ID)
		return nil
	}
	if len(d.Out)+len(d.In) == 0 {
		line(w, o, "Relations:     none")
		return nil
	}
	line(w, o, "Relations: %d out (it depends on), %d in (they depend on it)", len(d.Out), len(d.In))
	t := Table{Columns: []Column{
		{Header: "  ", Fixed: true, Keep: 5},
		{Header: "RELATION", Fixed: true, Keep: 3},
		{Header: "TYPE", Keep: 3},
		{Header: "COMPONENT", Keep: 4, Min: 12, ElideMiddle: true},
		{Header: "COMPONENT TYPE", Keep: 2},
		{Header: "HEALTH", Fixed: true, Keep: 1},
	}}
	add := func(arrow string, ns []Neighbour) {
		for _, n := range ns {
			t.Rows = append(t.Rows, []string{"  " + arrow, strconv.FormatUint(n.Relation.ID, 10), n.Relation.Type,
				endpoint(n.Other.ID, map[uint64]string{n.Other.ID: n.Other.Name}), n.Other.Type, n.Other.HealthState})
		}
	}
	add("→", d.Out)
	add("←", d.In)
	return t.Write(w, o.Width)
}

func (s *shell) describe(ctx context.Context, what string) {
	if what == "" {
		s.failf("usage: %s", metaCommands[":describe"].usage)
		return
	}
	var d *Description
	err := s.cancellable(ctx, true, func(ctx context.Context) (err error) {
		d, err = Describe(ctx, s.backend, strings.Trim(what, `"'`), s.runOptions())
		return err
	})
	var amb *AmbiguousError
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		s.failf("cancelled")
		return
	case errors.As(err, &amb):
		s.failf("%v", err)
		WriteAmbiguous(s.out, amb, Options{Width: s.width()})
		return
	case err != nil:
		s.failf("%s", errorText(err))
		return
	}
	if err := WriteDescription(s.out, d, Options{Width: s.width()}); err != nil {
		s.failf("%v", err)
	}
	s.gap()
}
