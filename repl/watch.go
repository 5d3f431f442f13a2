package repl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
)

// :watch follows a topology query live: the backend's Watcher gives its
// answer, then an update per change (api/live's subscriptions, in process
// or over a server's WebSocket), and the shell prints the answer, then
// each change as a table of what was added, removed and changed (before →
// after), until Ctrl-C.

func (s *shell) watch(ctx context.Context, q string) {
	switch {
	case q == "":
		s.failf("usage: %s", metaCommands[":watch"].usage)
		return
	case !s.at.IsZero():
		s.failf(":watch follows the graph as it changes from now on; it does not run at a past time (:at now first)")
		return
	case !s.parses(q):
		return
	}
	updates := 0
	err := s.cancellable(ctx, false, func(ctx context.Context) error {
		w, err := s.backend.Watch(ctx, q)
		if err != nil {
			return err
		}
		defer w.Close()
		for {
			u, err := w.Next(ctx)
			if err != nil {
				return err
			}
			if err := s.printUpdate(u, updates == 0); err != nil {
				return err
			}
			updates++
			if u.Final {
				return nil
			}
		}
	})
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		fmt.Fprintf(s.out, "watch stopped after %s\n", plural(max(updates-1, 0), "change"))
		s.gap()
	case err != nil:
		s.queryError(q, err)
	}
}

// printUpdate prints the first answer of a watch, or a change to it.
func (s *shell) printUpdate(u *client.Update, first bool) error {
	if s.format == "json" {
		return s.printUpdateJSON(u)
	}
	o := Options{Width: s.width()}
	switch {
	case first && u.Final:
		if err := Render(s.out, &exec.Result{Topology: u.Answer}, o); err != nil {
			return err
		}
		line(s.out, o, "(the answer at a fixed time does not change: there is nothing more to watch)")
		return nil
	case first:
		line(s.out, o, "watching; Ctrl-C stops")
		return Render(s.out, &exec.Result{Topology: u.Answer}, o)
	case u.Diff == nil:
		line(s.out, o, "── %s: the answer was replaced (%s)", stamp(u.Seq.Time()), u.Resync)
		return Render(s.out, &exec.Result{Topology: u.Answer}, o)
	}
	cs, err := watchChanges(u)
	if err != nil {
		return err
	}
	line(s.out, o, "── %s", stamp(u.Seq.Time()))
	return cs.write(s.out, o)
}

// printUpdateJSON prints an update as one JSON line: the answer, or the
// diff, with its seq, as the protocol has them.
func (s *shell) printUpdateJSON(u *client.Update) error {
	var doc any
	if u.Diff == nil {
		b, err := exec.AppendJSON(context.Background(), nil, &exec.Result{Topology: u.Answer}, exec.EncodeOptions{})
		if err != nil {
			return err
		}
		doc = struct {
			Seq    string          `json:"seq"`
			Result json.RawMessage `json:"result"`
		}{strconv.FormatInt(int64(u.Seq), 10), b}
	} else {
		doc = struct {
			Seq string `json:"seq"`
			*client.Diff
		}{strconv.FormatInt(int64(u.Seq), 10), u.Diff}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = io.WriteString(s.out, string(escapeJSON(append(b, '\n'))))
	return err
}

// watchChanges lists what a diff changed, from the answers before and
// after it.
func watchChanges(u *client.Update) (*changeSet, error) {
	cs := &changeSet{names: map[uint64]string{}}
	before := map[uint64]*exec.Component{}
	for _, c := range u.Before.Components.All() {
		before[c.ID], cs.names[c.ID] = &c, c.Name
	}
	after := map[uint64]*exec.Component{}
	for _, c := range u.Answer.Components.All() {
		after[c.ID], cs.names[c.ID] = &c, c.Name
	}
	d := u.Diff
	for _, c := range d.Added.Components {
		cs.components = append(cs.components, elementChange{op: "+", id: c.ID, name: c.Name, typ: c.Type})
	}
	for _, id := range d.Removed.Components {
		ch := elementChange{op: "-", id: id}
		if c := before[id]; c != nil {
			ch.name, ch.typ = c.Name, c.Type
		}
		cs.components = append(cs.components, ch)
	}
	for _, fc := range d.Changed.Components {
		b, a := before[fc.ID], after[fc.ID]
		if b == nil || a == nil {
			return nil, fmt.Errorf("a change to component %d, which the answer does not hold", fc.ID)
		}
		ch, err := changedElement(fc, a.Name, a.Type, 0, 0, b, a)
		if err != nil {
			return nil, err
		}
		cs.components = append(cs.components, ch)
	}
	return cs, watchRelationChanges(cs, u)
}

func watchRelationChanges(cs *changeSet, u *client.Update) error {
	before := map[uint64]*exec.Relation{}
	for _, r := range u.Before.Relations.All() {
		before[r.ID] = &r
	}
	after := map[uint64]*exec.Relation{}
	for _, r := range u.Answer.Relations.All() {
		after[r.ID] = &r
	}
	d := u.Diff
	for _, r := range d.Added.Relations {
		cs.relations = append(cs.relations, elementChange{op: "+", id: r.ID, typ: r.Type, source: r.Source, target: r.Target})
	}
	for _, id := range d.Removed.Relations {
		ch := elementChange{op: "-", id: id}
		if r := before[id]; r != nil {
			ch.typ, ch.source, ch.target = r.Type, r.Source, r.Target
		}
		cs.relations = append(cs.relations, ch)
	}
	for _, fc := range d.Changed.Relations {
		b, a := before[fc.ID], after[fc.ID]
		if b == nil || a == nil {
			return fmt.Errorf("a change to relation %d, which the answer does not hold", fc.ID)
		}
		ch, err := changedElement(fc, "", a.Type, a.Source, a.Target, b, a)
		if err != nil {
			return err
		}
		cs.relations = append(cs.relations, ch)
	}
	return nil
}

// changedElement is the row of an element a diff changed, with its
// fields before and after.
//
// lastUpdateTimestamp changes with every report of an element; the time
// of the update heads the table, so it is listed only when nothing else
// changed.
func changedElement(fc client.FieldChange, name, typ string, source, target uint64, before, after any) (elementChange, error) {
	fields := fc.Fields
	if len(fields) > 1 {
		fields = slices.DeleteFunc(slices.Clone(fields), func(f string) bool { return f == "lastUpdateTimestamp" })
	}
	ch := elementChange{op: "~", id: fc.ID, name: name, typ: typ, source: source, target: target, fields: fields}
	var err error
	if ch.before, err = jsonFields(before); err != nil {
		return ch, err
	}
	ch.after, err = jsonFields(after)
	return ch, err
}
