package planner

import (
	"strings"
	"time"

	"github.com/tetrahq/tetra/internal/topokeys"
	"github.com/tetrahq/tetra/lang"
)

// Field is a topology key. The vocabulary (names, aliases, which keys
// compare case-insensitively) lives in internal/topokeys, shared by every
// layer.
type Field = topokeys.Key

// The topology keys.
const (
	FieldName        = topokeys.Name
	FieldType        = topokeys.Type
	FieldLayer       = topokeys.Layer
	FieldDomain      = topokeys.Domain
	FieldEnvironment = topokeys.Environment
	FieldLabel       = topokeys.Label
	FieldHealth      = topokeys.Health
	FieldIdentifier  = topokeys.Identifier
	FieldID          = topokeys.ID
)

// FieldOf maps a topology key as written (lang.Key.Name) to its field.
func FieldOf(key string) (Field, bool) { return topokeys.Lookup(key) }

// Plan is a node of a logical plan: a set of components. Plans are
// immutable values; they hold no results.
type Plan interface {
	plan()
}

// Scan is the components carrying any of Terms in Field: an index lookup
// per term. Terms are in index form (folded for folded fields).
type Scan struct {
	Field Field
	Terms []string
}

// GlobScan is the components with a value of Field matching any glob: the
// index's terms under each glob's literal prefix, matched in full.
type GlobScan struct {
	Field Field
	Globs []Glob
}

// IDs is the components with these ids (those that exist at the read time).
type IDs struct {
	IDs []uint64
}

// All is every component: a full scan.
type All struct{}

// Nothing is the empty set.
type Nothing struct{}

// Filter is the components of Input for which Pred holds, evaluated on each
// loaded component.
type Filter struct {
	Input Plan
	Pred  Pred
}

// Union is the components in any input.
type Union struct {
	Inputs []Plan
}

// Intersect is the components in every input.
type Intersect struct {
	Inputs []Plan
}

// Except is the components of Left that are not in Right.
type Except struct {
	Left, Right Plan
}

// Expand is the seed components plus every component within Levels hops
// of them, following relations in Direction; with RelationTypes, only
// relations whose type (in index form, folded) matches one of them.
type Expand struct {
	Seeds         Plan
	Levels        int
	Direction     lang.Direction
	RelationTypes []Glob // nil: every relation
}

func (*Scan) plan()      {}
func (*GlobScan) plan()  {}
func (*IDs) plan()       {}
func (*All) plan()       {}
func (*Nothing) plan()   {}
func (*Filter) plan()    {}
func (*Union) plan()     {}
func (*Intersect) plan() {}
func (*Except) plan()    {}
func (*Expand) plan()    {}

// Pred is a predicate on one component.
type Pred interface {
	pred()
}

// Match holds when any value of Field equals one of Terms (compared in
// index form) or matches one of Globs.
type Match struct {
	Field Field
	Terms []string
	Globs []Glob
}

// Not holds when X does not.
type Not struct{ X Pred }

// And holds when every X does.
type And struct{ Xs []Pred }

// Or holds when any X does.
type Or struct{ Xs []Pred }

func (*Match) pred() {}
func (*Not) pred()   {}
func (*And) pred()   {}
func (*Or) pred()    {}

// Glob is a pattern: literal parts separated by wildcards (lang's
// Value.Pattern, in index form).
type Glob struct {
	Parts []string
}

// Prefix is the literal text every match starts with.
func (g Glob) Prefix() string { return g.Parts[0] }

// Match reports whether s matches the glob.
func (g Glob) Match(s string) bool {
	if len(g.Parts) == 1 {
		return s == g.Parts[0]
	}
	first, last := g.Parts[0], g.Parts[len(g.Parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, p := range g.Parts[1 : len(g.Parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// String prints the glob in TQL string syntax (without quotes).
func (g Glob) String() string {
	quoted := make([]string, len(g.Parts))
	for i, p := range g.Parts {
		quoted[i] = escape(p)
	}
	return strings.Join(quoted, "*")
}

// Query is a planned topology statement.
type Query struct {
	Root Plan
	// At is the read time of a plain query; for CHANGES, the end time.
	At time.Time
	// From is the start time of CHANGES; zero for a plain query.
	From time.Time
	// Changes says whether the query is CHANGES FROM … TO ….
	Changes bool
	// Scope is the plan of the scope that Root is confined to, nil when the
	// query has none. CHANGES uses it to tell, at each time, which
	// components the scope lets the caller see.
	Scope Plan
	// Rewrites lists the rewrites that changed the plan, in order.
	Rewrites []string
}
