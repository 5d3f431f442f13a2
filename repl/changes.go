package repl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/exec"
)

// Tables of changes: what CHANGES returns and what :watch prints as diffs
// arrive. Components and relations are counted and listed apart; an element
// that changed gets one row per changed field, showing the field before →
// after (lists as the items added and removed, properties as the paths that
// changed).

var (
	componentChangeColumns = []Column{
		{Header: "OP", Fixed: true, Keep: 6},
		{Header: "ID", Fixed: true, Keep: 5},
		{Header: "NAME", Keep: 4, Min: 12, ElideMiddle: true, Name: true},
		{Header: "TYPE", Keep: 2},
		{Header: "FIELD", Keep: 3, Blank: true},
		{Header: "CHANGE", Keep: 1, Min: 16, Blank: true},
	}
	relationChangeColumns = []Column{
		{Header: "OP", Fixed: true, Keep: 6},
		{Header: "ID", Fixed: true, Keep: 5},
		{Header: "TYPE", Keep: 3},
		{Header: "SOURCE", Keep: 2, Min: 12, ElideMiddle: true},
		{Header: "TARGET", Keep: 2, Min: 12, ElideMiddle: true},
		{Header: "FIELD", Keep: 3, Blank: true},
		{Header: "CHANGE", Keep: 1, Min: 16, Blank: true},
	}
)

// elementChange is one element added (+), removed (-) or changed (~), as a
// change table lists it. before and after are the element's JSON fields
// (exec.Component's or exec.Relation's names); fields names the ones that
// changed.
type elementChange struct {
	op            string
	id            uint64
	name, typ     string // the component's, or the relation's type
	source        uint64 // relations
	target        uint64
	fields        []string
	before, after map[string]json.RawMessage
}

// changeSet is the changes of one CHANGES result or one diff.
type changeSet struct {
	components, relations []elementChange
	names                 map[uint64]string // component names, for relation endpoints
}

func writeChanges(w io.Writer, r *exec.ChangesResult, o Options) error {
	cs, err := changesOf(r)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	line(bw, o, "changes from %s to %s", stamp(r.From), stamp(r.To))
	if err := cs.write(bw, o); err != nil {
		return err
	}
	return bw.Flush()
}

// write prints the component changes, then the relation changes, each
// under a line that counts them.
func (cs *changeSet) write(w io.Writer, o Options) error {
	line(w, o, "%s", countLine(cs.components, "component"))
	if len(cs.components) > 0 {
		if err := o.table(w, cs.componentTable()); err != nil {
			return err
		}
	}
	if len(cs.relations) == 0 {
		return nil
	}
	if o.forPeople() {
		fmt.Fprintln(w)
	}
	line(w, o, "%s", countLine(cs.relations, "relation"))
	return o.table(w, cs.relationTable())
}

// countLine says "7 components: 1 added, 0 removed, 6 changed".
func countLine(l []elementChange, noun string) string {
	var add, rem, chg int
	for _, c := range l {
		switch c.op {
		case "+":
			add++
		case "-":
			rem++
		default:
			chg++
		}
	}
	return fmt.Sprintf("%s: %d added, %d removed, %d changed", plural(len(l), noun), add, rem, chg)
}

func (cs *changeSet) componentTable() Table {
	t := Table{Columns: componentChangeColumns}
	for _, c := range cs.components {
		lead := []string{c.op, strconv.FormatUint(c.id, 10), c.name, c.typ}
		t.addChangeRows(lead, c)
	}
	return t
}

func (cs *changeSet) relationTable() Table {
	t := Table{Columns: relationChangeColumns}
	for _, c := range cs.relations {
		lead := []string{c.op, strconv.FormatUint(c.id, 10), c.typ, endpoint(c.source, cs.names), endpoint(c.target, cs.names)}
		t.addChangeRows(lead, c)
	}
	return t
}

// addChangeRows adds an element's rows: one for an added or removed
// element, one per changed field for a changed one.
func (t *Table) addChangeRows(lead []string, c elementChange) {
	if c.op != "~" || len(c.fields) == 0 {
		t.Rows = append(t.Rows, append(lead, "", ""))
		t.Cont = append(t.Cont, false)
		return
	}
	for i, f := range c.fields {
		row := append(slices.Clone(lead), f, describeChange(f, c.before[f], c.after[f]))
		t.Rows = append(t.Rows, row)
		t.Cont = append(t.Cont, i > 0)
	}
}

// changesOf lists a CHANGES result's elements.
func changesOf(r *exec.ChangesResult) (*changeSet, error) {
	cs := &changeSet{names: map[uint64]string{}}
	for _, l := range [][]exec.Component{r.Added.Components, r.Removed.Components} {
		for _, c := range l {
			cs.names[c.ID] = c.Name
		}
	}
	for _, c := range r.Changed.Components {
		cs.names[c.After.ID] = c.After.Name
	}
	for _, c := range r.Added.Components {
		cs.components = append(cs.components, elementChange{op: "+", id: c.ID, name: c.Name, typ: c.Type})
	}
	for _, c := range r.Removed.Components {
		cs.components = append(cs.components, elementChange{op: "-", id: c.ID, name: c.Name, typ: c.Type})
	}
	for _, c := range r.Changed.Components {
		ch := elementChange{op: "~", id: c.After.ID, name: c.After.Name, typ: c.After.Type, fields: c.Fields}
		var err error
		if ch.before, err = jsonFields(c.Before); err != nil {
			return nil, err
		}
		if ch.after, err = jsonFields(c.After); err != nil {
			return nil, err
		}
		cs.components = append(cs.components, ch)
	}
	for _, l := range []struct {
		op   string
		rels []exec.Relation
	}{{"+", r.Added.Relations}, {"-", r.Removed.Relations}} {
		for _, rel := range l.rels {
			cs.relations = append(cs.relations, elementChange{op: l.op, id: rel.ID, typ: rel.Type, source: rel.Source, target: rel.Target})
		}
	}
	for _, c := range r.Changed.Relations {
		ch := elementChange{op: "~", id: c.After.ID, typ: c.After.Type, source: c.After.Source, target: c.After.Target, fields: c.Fields}
		var err error
		if ch.before, err = jsonFields(c.Before); err != nil {
			return nil, err
		}
		if ch.after, err = jsonFields(c.After); err != nil {
			return nil, err
		}
		cs.relations = append(cs.relations, ch)
	}
	return cs, nil
}

// jsonFields returns an element's fields as the result JSON writes them.
func jsonFields(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	err = json.Unmarshal(b, &m)
	return m, err
}

// maxChangeParts bounds the items or paths one CHANGE cell lists.
const maxChangeParts = 12

// describeChange shows a field's change: "before → after" for a value,
// the items added (+) and removed (-) for a list, and the paths that
// changed for an object (properties), each with its values when they are
// short. An absent or null value shows as (none).
func describeChange(field string, before, after json.RawMessage) string {
	if field == "lastUpdateTimestamp" {
		return timeValue(before) + " → " + timeValue(after)
	}
	b, a := decodeJSON(before), decodeJSON(after)
	var parts []string
	switch {
	case isList(b) && isList(a) && (b != nil || a != nil):
		parts = listChange(asList(b), asList(a))
	case isObject(b) || isObject(a):
		parts = objectChange("", asObject(b), asObject(a))
	}
	if len(parts) == 0 {
		return short(b) + " → " + short(a)
	}
	return strings.Join(limitParts(parts), ", ")
}

// timeValue shows epoch milliseconds as a time.
func timeValue(raw json.RawMessage) string {
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return short(decodeJSON(raw))
	}
	return millis(ms)
}

func decodeJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(raw)
	}
	return v
}

func isList(v any) bool { _, ok := v.([]any); return ok || v == nil }

func asList(v any) []any { l, _ := v.([]any); return l }

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

func asObject(v any) map[string]any { m, _ := v.(map[string]any); return m }

// listChange lists the items added and removed. Items that are objects
// with a "source" (an element's sources) are matched by it, so a source
// whose external id changed shows as changed (~).
func listChange(before, after []any) []string {
	key := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["source"].(string); ok {
				return s
			}
		}
		return compact(v)
	}
	inBefore := map[string]any{}
	for _, v := range before {
		inBefore[key(v)] = v
	}
	inAfter := map[string]bool{}
	var out []string
	for _, v := range after {
		k := key(v)
		inAfter[k] = true
		old, had := inBefore[k]
		switch {
		case !had:
			out = append(out, "+"+k)
		case compact(old) != compact(v):
			out = append(out, "~"+k)
		}
	}
	for _, v := range before {
		if k := key(v); !inAfter[k] {
			out = append(out, "-"+k)
		}
	}
	if len(out) == 0 && compact(before) != compact(after) {
		return []string{"the same items in another order"}
	}
	return out
}

// objectChange lists the paths under prefix whose values differ:
// "+path: v", "-path", "path: a → b".
func objectChange(prefix string, before, after map[string]any) []string {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		b, hadB := before[k]
		a, hadA := after[k]
		path := prefix + k
		switch {
		case !hadB:
			out = append(out, "+"+path+": "+short(a))
		case !hadA:
			out = append(out, "-"+path)
		case isObject(b) && isObject(a):
			out = append(out, objectChange(path+".", asObject(b), asObject(a))...)
		case compact(b) != compact(a):
			out = append(out, path+": "+short(b)+" → "+short(a))
		}
	}
	return out
}

// limitParts keeps the first maxChangeParts parts and says how many more
// there were.
func limitParts(parts []string) []string {
	if len(parts) <= maxChangeParts {
		return parts
	}
	return append(parts[:maxChangeParts:maxChangeParts], fmt.Sprintf("… %d more", len(parts)-maxChangeParts))
}

// short shows a value: a string as it is, anything else as compact JSON,
// cut to a few dozen characters; nil as (none).
func short(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" {
			return `""`
		}
		s = x
	default:
		s = compact(v)
	}
	const maxValue = 60
	if r := []rune(s); len(r) > maxValue {
		s = string(r[:maxValue-1]) + "…"
	}
	return s
}

func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
