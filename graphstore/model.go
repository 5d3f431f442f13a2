package graphstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ID identifies a component, a relation or a check state. They share one
// id space; ids are assigned by the store from 1 upwards and never reused
// for another element.
type ID uint64

// Kind says what an element is.
type Kind uint8

const (
	KindComponent Kind = 1
	KindRelation  Kind = 2
	// KindCheck is a check state: one health source's verdict about one
	// component, bound to it by an identifier (see CheckData).
	KindCheck Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindComponent:
		return "component"
	case KindRelation:
		return "relation"
	case KindCheck:
		return "check"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// HealthState is a component's health. The order is severity: merging
// sources keeps the worst.
type HealthState uint8

const (
	HealthUnknown   HealthState = iota // no health source
	HealthClear                        // CLEAR
	HealthDeviating                    // DEVIATING
	HealthCritical                     // CRITICAL
)

// healthNames are the states by value, in order of severity; the names are
// the key vocabulary's (topokeys.HealthStates; a test keeps them equal).
var healthNames = [...]string{"UNKNOWN", "CLEAR", "DEVIATING", "CRITICAL"}

func (h HealthState) String() string {
	if int(h) < len(healthNames) {
		return healthNames[h]
	}
	return fmt.Sprintf("HealthState(%d)", uint8(h))
}

// ParseHealthState reads a health state in any case ("critical",
// "Deviating"). The empty string is UNKNOWN.
func ParseHealthState(s string) (HealthState, error) {
	if s == "" {
		return HealthUnknown, nil
	}
	for i, n := range healthNames {
		if strings.EqualFold(s, n) {
			return HealthState(i), nil
		}
	}
	return HealthUnknown, fmt.Errorf("graphstore: unknown health state %q (want CLEAR, DEVIATING, CRITICAL or UNKNOWN)", s)
}

// DependencyDirection says which way a relation's dependency runs.
type DependencyDirection uint8

const (
	DependencyOneWay DependencyDirection = iota // the source depends on the target (default)
	DependencyBoth                              // each depends on the other
	DependencyNone                              // no dependency, only association
)

var dependencyNames = [...]string{"ONE_WAY", "BOTH", "NONE"}

// SourceDepends reports whether a relation of this direction makes its
// source depend on its target (ONE_WAY, BOTH), and TargetDepends whether
// it makes its target depend on its source (BOTH). A dependency carries
// health against the relation's arrow: from what is depended on to what
// depends on it.
func (d DependencyDirection) SourceDepends() bool {
	return d == DependencyOneWay || d == DependencyBoth
}

// TargetDepends: see SourceDepends.
func (d DependencyDirection) TargetDepends() bool { return d == DependencyBoth }

func (d DependencyDirection) String() string {
	if int(d) < len(dependencyNames) {
		return dependencyNames[d]
	}
	return fmt.Sprintf("DependencyDirection(%d)", uint8(d))
}

// ParseDependencyDirection reads "one-way"/"ONE_WAY", "both", "none" in any
// case; the empty string is ONE_WAY.
func ParseDependencyDirection(s string) (DependencyDirection, error) {
	norm := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	if norm == "" {
		return DependencyOneWay, nil
	}
	for i, n := range dependencyNames {
		if norm == n {
			return DependencyDirection(i), nil
		}
	}
	return DependencyOneWay, fmt.Errorf("graphstore: unknown dependency direction %q (want ONE_WAY, BOTH or NONE)", s)
}

// Severe reports whether a state propagates to the components that depend
// on its holder: DEVIATING and CRITICAL do, CLEAR and UNKNOWN do not.
func (h HealthState) Severe() bool { return h >= HealthDeviating }

// ComponentData is what one source says about a component.
type ComponentData struct {
	Name         string
	Type         string
	Layer        string
	Domain       string
	Identifiers  []string
	Environments []string
	Labels       []string // "value" or "key:value"; stored lower-cased
	Health       HealthState
	Properties   json.RawMessage // a JSON object, or nil
}

// RelationData is what one source says about a relation.
type RelationData struct {
	Type        string
	SourceRef   string // the source component: an identifier or external id
	TargetRef   string // the target component: an identifier or external id
	Identifiers []string
	Dependency  DependencyDirection
	Labels      []string
	Properties  json.RawMessage
}

// CheckData is a check state: what a health stream says about one
// component (StackState's CheckState). Source and external id of its
// operation are the stream and the check state's id within it.
type CheckData struct {
	Name    string      // what is checked ("Disk Usage"); required
	State   HealthState // UNKNOWN is allowed: the check knows nothing (yet)
	Message string      // markdown, at most MaxMessageBytes
	// Identifier names the component the state is about, by one of its
	// identifiers or external ids (StackState's topologyElementIdentifier).
	// A check whose identifier no component holds is kept unbound and
	// counts for nothing until one does; required.
	Identifier string
}

// Contribution is one source's description of an element. An element is the
// merge of its contributions; keeping them is how the store knows which
// source said what. A check state has exactly one contribution: its
// stream's.
type Contribution struct {
	Source     string
	ExternalID string
	Updated    int64 // commit time (ns) at which this contribution last changed
	Component  *ComponentData
	Relation   *RelationData
	Check      *CheckData
}

// SourceRef names one contribution of an element.
type SourceRef struct {
	Source     string `json:"source"`
	ExternalID string `json:"externalId"`
}

// Element is one version of a component, relation or check state as
// stored: its contributions and what the store derived for it from the rest
// of the graph when the version was written. Elements are immutable once
// built; the merged view (Component, Relation or Check) is computed once at
// construction.
type Element struct {
	ID       ID
	Kind     Kind
	Version  int64          // commit time (ns) of this version
	Contribs []Contribution // sorted by (Source, ExternalID); never empty
	// Resolved endpoints of a relation; 0 while the endpoint does not exist.
	// A check state's SourceID is the component it is bound to (0 while
	// unbound); its TargetID is 0.
	SourceID, TargetID ID
	// A component's health beyond what its sources say, materialized by the
	// store in every version: CheckState is the worst state of the check
	// states bound to it (UNKNOWN when none), Propagated its propagated
	// state (see Component). Both are UNKNOWN for relations and checks.
	CheckState, Propagated HealthState

	comp  *Component
	rel   *Relation
	check *Check
}

// Component is the merged view of a component version.
type Component struct {
	ID           ID
	Name         string
	Type         string
	Layer        string
	Domain       string
	Identifiers  []string // sorted; includes each contribution's external id
	Environments []string // sorted
	Labels       []string // sorted, lower-cased
	// Health is the component's own state: the most severe of what its
	// sources say and of the check states bound to it (STQL's healthstate).
	Health HealthState
	// Propagated is the most severe of its own state and of the propagated
	// states of the components it depends on, counting only DEVIATING and
	// CRITICAL from them (see docs/query-language.md, "Health").
	Propagated HealthState
	Properties json.RawMessage
	Sources    []SourceRef
	Updated    int64 // commit time (ns) of this version
}

// Relation is the merged view of a relation version.
type Relation struct {
	ID          ID
	Type        string
	Source      ID // resolved source component; 0 while it does not exist
	Target      ID // resolved target component; 0 while it does not exist
	SourceRef   string
	TargetRef   string
	Identifiers []string
	Dependency  DependencyDirection
	Labels      []string
	Properties  json.RawMessage
	Sources     []SourceRef
	Updated     int64
}

// Check is the view of a check state version.
type Check struct {
	ID         ID
	Stream     string // the health stream that reports it
	CheckID    string // its id within the stream (checkStateId)
	Name       string
	State      HealthState
	Message    string
	Identifier string // the identifier it is bound by
	Component  ID     // the component holding Identifier; 0 while none does
	Updated    int64  // commit time (ns) of this version
}

// Component returns the merged view of a component element (nil for
// other kinds).
func (e *Element) Component() *Component { return e.comp }

// Relation returns the merged view of a relation element (nil for other
// kinds).
func (e *Element) Relation() *Relation { return e.rel }

// Check returns the view of a check state element (nil for other kinds).
func (e *Element) Check() *Check { return e.check }

// Traversable reports whether a relation has both endpoints and so takes
// part in traversals.
func (e *Element) Traversable() bool {
	return e.Kind == KindRelation && e.SourceID != 0 && e.TargetID != 0
}

// NewElement builds an element version and computes its merged view. It
// takes ownership of contribs, which must be sorted by (Source, ExternalID).
// A component built here has no check states bound and depends on nothing
// severe (its propagated state is its own); stores build component versions
// with NewComponentElement.
func NewElement(id ID, kind Kind, version int64, contribs []Contribution, src, dst ID) *Element {
	if kind == KindComponent {
		e := newComponentElement()
		*e = Element{ID: id, Kind: kind, Version: version, Contribs: contribs, comp: e.comp}
		mergeComponent(e)
		e.Propagated = e.comp.Health
		e.comp.Propagated = e.Propagated
		return e
	}
	if kind == KindRelation {
		x := &relationElement{}
		x.e = Element{ID: id, Kind: kind, Version: version, Contribs: contribs, SourceID: src, TargetID: dst, rel: &x.r}
		mergeRelation(&x.e)
		return &x.e
	}
	e := &Element{ID: id, Kind: kind, Version: version, Contribs: contribs, SourceID: src, TargetID: dst}
	switch kind {
	case KindCheck:
		e.check = checkView(e)
	}
	return e
}

// NewComponentElement builds a component version with the health the store
// derived for it: the worst state of the check states bound to it and its
// propagated state. It takes ownership of contribs, as NewElement does.
func NewComponentElement(id ID, version int64, contribs []Contribution, checkState, propagated HealthState) *Element {
	e := newComponentElement()
	*e = Element{ID: id, Kind: KindComponent, Version: version, Contribs: contribs,
		CheckState: checkState, Propagated: propagated, comp: e.comp}
	mergeComponent(e)
	return e
}

// A component or relation element and its merged view are allocated
// together: a read of a result row then touches one object in neighbouring
// cache lines instead of two in different spans, which at a million
// components (every read a miss of the processor's caches) was a fifth of
// loading a row.
type (
	componentElement struct {
		e Element
		c Component
	}
	relationElement struct {
		e Element
		r Relation
	}
)

// newComponentElement returns an element whose comp points at its own
// view.
func newComponentElement() *Element {
	x := &componentElement{}
	x.e.comp = &x.c
	return &x.e
}

// byPriority returns the contributions ordered from most to least
// authoritative: the most recently updated first, ties by (source, external
// id) so the order is deterministic. It appends to buf, which the merges
// keep on their stack: most elements have one or two contributions, and
// the allocations of merging were a tenth of a bulk load's.
func byPriority(buf []*Contribution, cs []Contribution) []*Contribution {
	out := buf[:0]
	for i := range cs {
		out = append(out, &cs[i])
	}
	if len(out) < 2 {
		return out
	}
	slices.SortStableFunc(out, func(a, b *Contribution) int {
		if a.Updated != b.Updated {
			if a.Updated > b.Updated {
				return -1
			}
			return 1
		}
		return compareRef(a.Source, a.ExternalID, b.Source, b.ExternalID)
	})
	return out
}

func compareRef(s1, x1, s2, x2 string) int {
	if c := strings.Compare(s1, s2); c != 0 {
		return c
	}
	return strings.Compare(x1, x2)
}

// firstNonEmpty returns the first non-empty value of f over the ordered
// contributions.
func firstNonEmpty(cs []*Contribution, f func(*Contribution) string) string {
	for _, c := range cs {
		if v := f(c); v != "" {
			return v
		}
	}
	return ""
}

// Merge rules: scalar fields come from the most recently updated
// contribution that has them; identifiers, environments and labels are
// united; health is the worst; properties are merged key by key with the
// most recent contribution winning. A component without a name is named
// after its primary external id, as StackState's templates do.
// mergeComponent fills e's view (e.comp, zero) from its contributions.
//
// The merges gather their lists in buffers of mergeStack entries on their
// stack (append moves a larger element's to the heap).
func mergeComponent(e *Element) {
	var (
		obuf                 [mergeStack]*Contribution
		idBuf, envBuf, lbBuf [mergeStack][]string
		extBuf               [mergeStack]string
		propBuf              [mergeStack]json.RawMessage
	)
	ordered := byPriority(obuf[:0], e.Contribs)
	c := e.comp
	*c = Component{ID: e.ID, Updated: e.Version}
	c.Name = firstNonEmpty(ordered, func(x *Contribution) string { return x.Component.Name })
	if c.Name == "" && len(ordered) > 0 {
		c.Name = ordered[0].ExternalID
	}
	c.Type = firstNonEmpty(ordered, func(x *Contribution) string { return x.Component.Type })
	c.Layer = firstNonEmpty(ordered, func(x *Contribution) string { return x.Component.Layer })
	c.Domain = firstNonEmpty(ordered, func(x *Contribution) string { return x.Component.Domain })
	ids, envs, labels, exts, props := idBuf[:0], envBuf[:0], lbBuf[:0], extBuf[:0], propBuf[:0]
	for _, x := range ordered {
		d := x.Component
		ids = append(ids, d.Identifiers)
		exts = append(exts, x.ExternalID)
		envs = append(envs, d.Environments)
		labels = append(labels, d.Labels)
		c.Health = max(c.Health, d.Health)
		props = append(props, d.Properties)
	}
	c.Health = max(c.Health, e.CheckState)
	c.Propagated = e.Propagated
	c.Identifiers = unionWith(exts, ids...)
	c.Environments = union(envs...)
	c.Labels = union(labels...)
	c.Properties = mergeProperties(props)
	c.Sources = sourceRefs(e.Contribs)
}

// mergeRelation fills e's view (e.rel, zero) from its contributions.
func mergeRelation(e *Element) {
	var (
		obuf         [mergeStack]*Contribution
		idBuf, lbBuf [mergeStack][]string
		extBuf       [mergeStack]string
		propBuf      [mergeStack]json.RawMessage
	)
	ordered := byPriority(obuf[:0], e.Contribs)
	r := e.rel
	*r = Relation{ID: e.ID, Updated: e.Version, Source: e.SourceID, Target: e.TargetID}
	r.Type = firstNonEmpty(ordered, func(x *Contribution) string { return x.Relation.Type })
	r.SourceRef, r.TargetRef, r.Dependency = relationRefs(ordered)
	ids, labels, exts, props := idBuf[:0], lbBuf[:0], extBuf[:0], propBuf[:0]
	for _, x := range ordered {
		ids = append(ids, x.Relation.Identifiers)
		exts = append(exts, x.ExternalID)
		labels = append(labels, x.Relation.Labels)
		props = append(props, x.Relation.Properties)
	}
	r.Identifiers = unionWith(exts, ids...)
	r.Labels = union(labels...)
	r.Properties = mergeProperties(props)
	r.Sources = sourceRefs(e.Contribs)
}

// RelationRefs returns the source and target references and the
// dependency direction of the relation merged from contribs (sorted by
// (Source, ExternalID)), as the view NewElement builds has them, without
// building the view: planning resolves the ends of every relation it
// writes, and building an element for that was a twentieth of a bulk
// load's allocations.
func RelationRefs(contribs []Contribution) (source, target string, dep DependencyDirection) {
	var obuf [mergeStack]*Contribution
	return relationRefs(byPriority(obuf[:0], contribs))
}

func relationRefs(ordered []*Contribution) (source, target string, dep DependencyDirection) {
	source = firstNonEmpty(ordered, func(x *Contribution) string { return x.Relation.SourceRef })
	target = firstNonEmpty(ordered, func(x *Contribution) string { return x.Relation.TargetRef })
	if len(ordered) > 0 {
		dep = ordered[0].Relation.Dependency
	}
	return source, target, dep
}

func checkView(e *Element) *Check {
	c := &e.Contribs[0] // a check state has exactly one contribution
	d := c.Check
	return &Check{ID: e.ID, Stream: c.Source, CheckID: c.ExternalID, Name: d.Name, State: d.State,
		Message: d.Message, Identifier: d.Identifier, Component: e.SourceID, Updated: e.Version}
}

// mergeStack is how many contributions the merges' buffers hold on the
// stack.
const mergeStack = 4

func sourceRefs(cs []Contribution) []SourceRef {
	out := make([]SourceRef, len(cs))
	for i, c := range cs {
		out[i] = SourceRef{Source: c.Source, ExternalID: c.ExternalID}
	}
	return out
}

// union returns the sorted distinct non-empty strings of all lists.
func union(lists ...[]string) []string { return unionWith(nil, lists...) }

// unionWith returns the sorted distinct non-empty strings of first and all
// lists (first apart so that a caller's list on its stack stays there).
func unionWith(first []string, lists ...[]string) []string {
	n := len(first)
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for _, s := range first {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, l := range lists {
		for _, s := range l {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mergeProperties merges JSON objects given most authoritative first. With
// one non-empty object it is returned as is.
func mergeProperties(objs []json.RawMessage) json.RawMessage {
	var buf [mergeStack]json.RawMessage
	nonEmpty := buf[:0]
	for _, o := range objs {
		if len(o) > 0 {
			nonEmpty = append(nonEmpty, o)
		}
	}
	switch len(nonEmpty) {
	case 0:
		return nil
	case 1:
		return nonEmpty[0]
	}
	merged := map[string]json.RawMessage{}
	for i := len(nonEmpty) - 1; i >= 0; i-- { // least authoritative first
		var m map[string]json.RawMessage
		if json.Unmarshal(nonEmpty[i], &m) != nil {
			continue // validated on the way in; never happens for stored data
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nonEmpty[0]
	}
	return out
}

// ChangedFields lists the fields whose merged values differ between two
// versions of the same element, in a fixed order. It is what CHANGES
// reports for a changed component (healthState is the own state,
// propagatedHealthState the propagated one).
func ChangedFields(before, after *Element) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	if a, b := before.Component(), after.Component(); a != nil && b != nil {
		add("name", a.Name != b.Name)
		add("type", a.Type != b.Type)
		add("layer", a.Layer != b.Layer)
		add("domain", a.Domain != b.Domain)
		add("identifiers", !slices.Equal(a.Identifiers, b.Identifiers))
		add("environments", !slices.Equal(a.Environments, b.Environments))
		add("labels", !slices.Equal(a.Labels, b.Labels))
		add("healthState", a.Health != b.Health)
		add("propagatedHealthState", a.Propagated != b.Propagated)
		add("properties", !bytes.Equal(a.Properties, b.Properties))
		add("sources", !slices.Equal(a.Sources, b.Sources))
	}
	if a, b := before.Relation(), after.Relation(); a != nil && b != nil {
		add("type", a.Type != b.Type)
		add("source", a.Source != b.Source || a.SourceRef != b.SourceRef)
		add("target", a.Target != b.Target || a.TargetRef != b.TargetRef)
		add("identifiers", !slices.Equal(a.Identifiers, b.Identifiers))
		add("dependencyDirection", a.Dependency != b.Dependency)
		add("labels", !slices.Equal(a.Labels, b.Labels))
		add("properties", !bytes.Equal(a.Properties, b.Properties))
		add("sources", !slices.Equal(a.Sources, b.Sources))
	}
	if a, b := before.Check(), after.Check(); a != nil && b != nil {
		add("name", a.Name != b.Name)
		add("state", a.State != b.State)
		add("message", a.Message != b.Message)
		add("identifier", a.Identifier != b.Identifier)
		add("component", a.Component != b.Component)
	}
	return out
}
