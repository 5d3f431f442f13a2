package planner

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/lang"
)

// Catalog is what the planner needs to know of the data: how many live
// components carry a term now. Estimates guide the choice of scans; they
// need not be exact.
type Catalog interface {
	// Estimate returns the number of components carrying term (in index
	// form) in field.
	Estimate(f Field, term string) (int, error)
	// Total returns the number of live components.
	Total() (int, error)
}

// Options configure planning.
type Options struct {
	// Now is the query's start time: relative times resolve against it.
	Now time.Time
	// Disabled names rewrites to skip (for tests and for diagnosing plans).
	Disabled map[string]bool
	// Scope, when not nil, confines the query to the components this
	// topology filter selects (an API key's scope): the plan is the
	// intersection of the query's and the scope's, at every time the
	// query reads, so no component outside the scope reaches a result.
	Scope lang.Expr
}

// PlanError is a statement the planner cannot plan; it carries the span of
// the offending node for positioned reporting.
type PlanError struct {
	Span lang.Span
	Msg  string
}

func (e *PlanError) Error() string { return "planner: " + e.Msg }

// SourceSpan and SourceMessage make a PlanError a lang.Spanned, so it is
// rendered with a caret under the part of the query it is about.
func (e *PlanError) SourceSpan() lang.Span { return e.Span }
func (e *PlanError) SourceMessage() string { return e.Msg }

var _ lang.Spanned = (*PlanError)(nil)

// resolveTime resolves a query time against now and refuses one the store
// cannot represent (lang.CheckTime is the one rule for every way a time
// enters).
func resolveTime(tv *lang.TimeValue, now time.Time) (time.Time, error) {
	return tv.ResolveChecked(now)
}

// Build plans a topology statement: it translates the query into set
// operations over scans, then applies the rewrites in order.
func Build(stmt *lang.TopologyStmt, cat Catalog, o Options) (*Query, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	root, err := translate(stmt.Query)
	if err != nil {
		return nil, err
	}
	q := &Query{At: o.Now}
	if o.Scope != nil {
		scope, err := translate(o.Scope)
		if err != nil {
			return nil, err
		}
		root = &Intersect{Inputs: []Plan{scope, root}}
		if q.Scope, _, err = rewrite(scope, cat, o.Disabled); err != nil {
			return nil, err
		}
	}
	if stmt.At != nil {
		if q.At, err = resolveTime(stmt.At, o.Now); err != nil {
			return nil, err
		}
	}
	if stmt.Changes != nil {
		q.Changes = true
		if q.From, err = resolveTime(stmt.Changes.From, o.Now); err != nil {
			return nil, err
		}
		if stmt.Changes.To != nil {
			if q.At, err = resolveTime(stmt.Changes.To, o.Now); err != nil {
				return nil, err
			}
		}
		if q.From.After(q.At) {
			return nil, &PlanError{Span: stmt.Changes.Src, Msg: fmt.Sprintf("CHANGES FROM %s is after TO %s",
				q.From.UTC().Format(time.RFC3339), q.At.UTC().Format(time.RFC3339))}
		}
	}
	q.Root, q.Rewrites, err = rewrite(root, cat, o.Disabled)
	if err != nil {
		return nil, err
	}
	return q, nil
}

// translate turns a topology expression into a plan, one node per AST node.
func translate(e lang.Expr) (Plan, error) {
	switch e := e.(type) {
	case *lang.BinaryExpr:
		x, err := translate(e.X)
		if err != nil {
			return nil, err
		}
		y, err := translate(e.Y)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case lang.OpAnd:
			return &Intersect{Inputs: []Plan{x, y}}, nil
		case lang.OpOr:
			return &Union{Inputs: []Plan{x, y}}, nil
		case lang.OpExcept:
			return &Except{Left: x, Right: y}, nil
		}
	case *lang.NotExpr:
		x, err := translate(e.X)
		if err != nil {
			return nil, err
		}
		return &Except{Left: &All{}, Right: x}, nil
	case *lang.CompareExpr:
		return translateCompare(e)
	case *lang.NeighborsExpr:
		seeds, err := translateSeeds(e.Components)
		if err != nil {
			return nil, err
		}
		return &Expand{Seeds: seeds, Levels: e.Levels, Direction: e.Direction, RelationTypes: relationTypes(e.RelationTypes)}, nil
	case *lang.CauseOfExpr:
		return translateSeeds(e.Components) // accepted, adds nothing
	}
	return nil, &PlanError{Span: e.Span(), Msg: fmt.Sprintf("cannot plan %T", e)}
}

// relationTypes puts the relation types to follow in index form: relation
// types compare case-insensitively, as a component's type does.
func relationTypes(vals []*lang.Value) []Glob {
	if vals == nil {
		return nil
	}
	out := make([]Glob, len(vals))
	for i, v := range vals {
		parts := v.Pattern
		if parts == nil {
			parts = []string{v.Text}
		}
		out[i] = indexGlob(FieldType, parts)
	}
	return out
}

func translateSeeds(e lang.Expr) (Plan, error) {
	if e == nil {
		return &All{}, nil
	}
	return translate(e)
}

// translateCompare plans key = v, key IN (…) and their negations. A value
// "*" matches every component; other values with wildcards are globs.
func translateCompare(c *lang.CompareExpr) (Plan, error) {
	f, ok := FieldOf(c.Key.Name)
	if !ok {
		return nil, &PlanError{Span: c.Key.Src, Msg: fmt.Sprintf("%q is not a topology key", c.Key.Name)}
	}
	var pos Plan
	switch c.Op {
	case lang.CmpEq, lang.CmpIn, lang.CmpNe, lang.CmpNotIn:
		pos = positive(f, c.Values)
	default:
		return nil, &PlanError{Span: c.Src, Msg: fmt.Sprintf("operator %s does not apply to the topology key %s", c.Op, f)}
	}
	if c.Op == lang.CmpNe || c.Op == lang.CmpNotIn {
		return &Except{Left: &All{}, Right: pos}, nil
	}
	return pos, nil
}

// positive plans "the field equals (or matches) one of the values".
func positive(f Field, values []*lang.Value) Plan {
	var terms []string
	var globs []Glob
	for _, v := range values {
		switch {
		case v.IsWildcard():
			return &All{}
		case v.IsGlob():
			globs = append(globs, indexGlob(f, v.Pattern))
		default:
			terms = append(terms, IndexTerm(f, v.Text))
		}
	}
	if f == FieldID {
		return idPlan(terms, globs)
	}
	var parts []Plan
	if len(terms) > 0 {
		slices.Sort(terms)
		parts = append(parts, &Scan{Field: f, Terms: slices.Compact(terms)})
	}
	if len(globs) > 0 {
		parts = append(parts, &GlobScan{Field: f, Globs: globs})
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return &Union{Inputs: parts}
}

// idPlan looks ids up directly; a value that is not a number names no
// component, and an id glob is matched against every component's id.
func idPlan(terms []string, globs []Glob) Plan {
	var ids []uint64
	for _, t := range terms {
		if n, err := strconv.ParseUint(t, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	slices.Sort(ids)
	var parts []Plan
	if len(ids) > 0 {
		parts = append(parts, &IDs{IDs: slices.Compact(ids)})
	}
	if len(globs) > 0 {
		parts = append(parts, &Filter{Input: &All{}, Pred: &Match{Field: FieldID, Globs: globs}})
	}
	switch len(parts) {
	case 0:
		return &Nothing{}
	case 1:
		return parts[0]
	}
	return &Union{Inputs: parts}
}

// IndexTerm puts a value in index form (see topokeys.Key.Term).
func IndexTerm(f Field, s string) string { return f.Term(s) }

func indexGlob(f Field, parts []string) Glob {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = IndexTerm(f, p)
	}
	return Glob{Parts: out}
}
