package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// describe finds one component and tells everything about it: itself, its
// neighbours (one level, both directions), and recent changes around it.
func (t *tools) describe(ctx context.Context, _ *mcp.CallToolRequest, in DescribeInput) (*mcp.CallToolResult, any, error) {
	o, err := t.options(in.At)
	if err != nil {
		return nil, nil, err
	}
	sel, err := selector(in)
	if err != nil {
		return nil, nil, err
	}
	res, err := t.run(ctx, sel, o)
	if err != nil {
		return nil, nil, err
	}
	w := newWriter(t.cfg.MaxText)
	cs := res.Topology.Components
	switch {
	case cs.Len() == 0:
		return nil, nil, fmt.Errorf("no component matches %s at that time (in what this key may see); list_values or query finds names and ids", sel)
	case cs.Len() > 1:
		w.line("%d components match %s; describe one by its id:", cs.Len(), sel)
		w.list("components", cs.Len(), defaultLimit, func(i int) { w.line("%s", componentLine(cs.At(i))) })
		return text(w.String()), nil, nil
	}
	c := cs.At(0)
	w.component(c)
	if err := t.health(ctx, w, c.ID, o); err != nil {
		return nil, nil, err
	}
	if err := t.neighbours(ctx, w, c, o); err != nil {
		return nil, nil, err
	}
	if err := t.recentChanges(ctx, w, c, or(in.Since, "-24h"), o); err != nil {
		return nil, nil, err
	}
	return text(w.String()), nil, nil
}

// selector is the filter that finds the component the input names.
func selector(in DescribeInput) (string, error) {
	n := 0
	for _, set := range []bool{in.ID > 0, in.Identifier != "", in.Name != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", errors.New("name the component by exactly one of id, identifier or name")
	}
	switch {
	case in.ID > 0:
		return fmt.Sprintf("id = %d", in.ID), nil
	case in.Identifier != "":
		return "identifier = " + lang.Quote(in.Identifier), nil
	}
	return "name = " + lang.Quote(in.Name), nil
}

func (w *writer) component(c exec.Component) {
	w.line("#%d %s", c.ID, c.Name)
	w.line("type: %s; layer: %s; domain: %s; environments: %s", c.Type, c.Layer, c.Domain, strings.Join(c.Environments, ", "))
	w.line("health: %s (propagated: %s)", c.HealthState, c.PropagatedHealthState)
	w.line("identifiers: %s", strings.Join(c.Identifiers, ", "))
	if len(c.Labels) > 0 {
		w.line("labels: %s", strings.Join(c.Labels, ", "))
	}
	var srcs []string
	for _, s := range c.Sources {
		srcs = append(srcs, s.Source)
	}
	w.line("sources: %s", strings.Join(srcs, ", "))
	if len(c.Properties) > 0 {
		w.line("properties: %s", compactJSON(c.Properties, 2048))
	}
}

// health lists the check states behind a component's own health and the
// degraded dependencies its propagated health comes from, so that an
// assistant can follow a problem to its cause (describe_component by id).
func (t *tools) health(ctx context.Context, w *writer, id uint64, o exec.QueryOptions) error {
	h, err := t.cfg.Engine.Health(ctx, id, o)
	if err != nil || h == nil {
		return err
	}
	w.list("check states (behind its own health)", len(h.Checks), defaultLimit, func(i int) {
		c := h.Checks[i]
		s := fmt.Sprintf("%s %s (stream %s)", c.Health, c.Name, c.Stream)
		if c.Message != "" {
			s += ": " + clip(c.Message)
		}
		w.line("  %s", s)
	})
	w.list("degraded dependencies (where its propagated health comes from)", len(h.Dependencies), defaultLimit, func(i int) {
		d := h.Dependencies[i]
		w.line("  %s (propagated: %s) via #%d", componentLine(d.Component), d.Component.PropagatedHealthState, d.Relation)
	})
	return nil
}

// neighbours lists what the component depends on and what depends on it.
func (t *tools) neighbours(ctx context.Context, w *writer, c exec.Component, o exec.QueryOptions) error {
	src := fmt.Sprintf(`withNeighborsOf(components = (id = %d), levels = "1", direction = "both")`, c.ID)
	res, err := t.run(ctx, src, o)
	if err != nil {
		return err
	}
	names := map[uint64]string{}
	byID := map[uint64]exec.Component{}
	for _, n := range res.Topology.Components.All() {
		names[n.ID], byID[n.ID] = n.Name, n
	}
	var out, in []string
	for _, r := range res.Topology.Relations.All() {
		switch {
		case r.Source == c.ID && r.Target != c.ID:
			out = append(out, fmt.Sprintf("%s via %s (#%d)", componentLine(byID[r.Target]), r.Type, r.ID))
		case r.Target == c.ID && r.Source != c.ID:
			in = append(in, fmt.Sprintf("%s via %s (#%d)", componentLine(byID[r.Source]), r.Type, r.ID))
		}
	}
	w.list("depends on (its outgoing relations)", len(out), defaultLimit, func(i int) { w.line("  %s", out[i]) })
	if len(out) == 0 {
		w.line("depends on: nothing")
	}
	w.list("depended on by (its incoming relations)", len(in), defaultLimit, func(i int) { w.line("  %s", in[i]) })
	if len(in) == 0 {
		w.line("depended on by: nothing")
	}
	return nil
}

// recentChanges lists what changed on the component and its neighbours
// since a time.
func (t *tools) recentChanges(ctx context.Context, w *writer, c exec.Component, since string, o exec.QueryOptions) error {
	src := fmt.Sprintf(`withNeighborsOf(components = (id = %d), levels = "1", direction = "both") CHANGES FROM %s TO "now"`, c.ID, lang.Quote(since))
	res, err := t.run(ctx, src, o)
	if err != nil {
		return err
	}
	ch := res.Changes
	if len(ch.Added.Components)+len(ch.Removed.Components)+len(ch.Changed.Components)+
		len(ch.Added.Relations)+len(ch.Removed.Relations)+len(ch.Changed.Relations) == 0 {
		w.line("recent changes (since %s, on it and its neighbours): none", since)
		return nil
	}
	w.line("recent changes (since %s, on it and its neighbours):", since)
	w.changes(ch, 20)
	return nil
}
