package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/lang"
)

// Explain draws a planned query as a tree, with the planner's estimate of
// each node's size when a catalog is given:
//
//	topology at 2026-11-22T10:00:00Z
//	rewrites: choose-driving-scan
//	filter label = "stackpack:kubernetes"  (~60)
//	└── scan type IN ("pod")  (~120)
func Explain(q *Query, cat Catalog) string {
	var b strings.Builder
	if q.Changes {
		fmt.Fprintf(&b, "changes from %s to %s\n", stamp(q.From), stamp(q.At))
	} else {
		fmt.Fprintf(&b, "topology at %s\n", stamp(q.At))
	}
	if len(q.Rewrites) > 0 {
		fmt.Fprintf(&b, "rewrites: %s\n", strings.Join(q.Rewrites, ", "))
	}
	var e *env
	if cat != nil {
		e = &env{cat: cat, est: map[Plan]int{}}
	}
	draw(&b, q.Root, e, "", "")
	return b.String()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// draw prints a node line with its estimate, then its children with tree
// connectors.
func draw(b *strings.Builder, p Plan, e *env, first, rest string) {
	b.WriteString(first)
	b.WriteString(describe(p))
	if e != nil {
		if n, err := e.estimate(p); err == nil {
			fmt.Fprintf(b, "  (~%d)", n)
		}
	}
	b.WriteByte('\n')
	kids := children(p)
	for i, k := range kids {
		if i == len(kids)-1 {
			draw(b, k, e, rest+"└── ", rest+"    ")
		} else {
			draw(b, k, e, rest+"├── ", rest+"│   ")
		}
	}
}

// describe prints one node without its children.
func describe(p Plan) string {
	switch p := p.(type) {
	case *Scan:
		return "scan " + matchText(p.Field, p.Terms, nil)
	case *GlobScan:
		return "glob-scan " + matchText(p.Field, nil, p.Globs)
	case *IDs:
		ids := make([]string, len(p.IDs))
		for i, id := range p.IDs {
			ids[i] = strconv.FormatUint(id, 10)
		}
		return "ids " + strings.Join(ids, ", ")
	case *All:
		return "full-scan"
	case *Nothing:
		return "nothing"
	case *Filter:
		return "filter " + PredString(p.Pred)
	case *Union:
		return "union"
	case *Intersect:
		return "intersect"
	case *Except:
		return "except"
	case *Expand:
		s := fmt.Sprintf("expand levels=%d direction=%s", p.Levels, dirName(p.Direction))
		if p.RelationTypes != nil {
			s += " relationTypes=" + globList(p.RelationTypes)
		}
		return s
	}
	return fmt.Sprintf("%T", p)
}

// globList prints globs as a TQL list: ("a", "b*").
func globList(gs []Glob) string {
	vals := make([]string, len(gs))
	for i, g := range gs {
		vals[i] = `"` + g.String() + `"`
	}
	return "(" + strings.Join(vals, ", ") + ")"
}

func dirName(d lang.Direction) string {
	switch d {
	case lang.DirUp:
		return "up"
	case lang.DirDown:
		return "down"
	}
	return "both"
}

// PredString prints a predicate for EXPLAIN, close to TQL: values are the
// folded index terms, and an empty AND or OR prints as TRUE or FALSE.
func PredString(p Pred) string {
	switch p := p.(type) {
	case *Match:
		return matchText(p.Field, p.Terms, p.Globs)
	case *Not:
		return "NOT " + parenthesize(p.X)
	case *And:
		return joinPreds(p.Xs, " AND ", "TRUE")
	case *Or:
		return joinPreds(p.Xs, " OR ", "FALSE")
	}
	return fmt.Sprintf("%T", p)
}

func joinPreds(xs []Pred, sep, empty string) string {
	if len(xs) == 0 {
		return empty
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = parenthesize(x)
	}
	return strings.Join(parts, sep)
}

func parenthesize(p Pred) string {
	switch p := p.(type) {
	case *And:
		if len(p.Xs) > 1 {
			return "(" + PredString(p) + ")"
		}
	case *Or:
		if len(p.Xs) > 1 {
			return "(" + PredString(p) + ")"
		}
	}
	return PredString(p)
}

// escape writes a literal in TQL string syntax: quotes, backslashes and
// stars escaped.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `*`, `\*`).Replace(s)
}

// matchText prints field = "v" or field IN ("a", "b*").
func matchText(f Field, terms []string, globs []Glob) string {
	vals := make([]string, 0, len(terms)+len(globs))
	for _, t := range terms {
		vals = append(vals, `"`+escape(t)+`"`)
	}
	for _, g := range globs {
		vals = append(vals, `"`+g.String()+`"`)
	}
	if len(vals) == 1 {
		return f.String() + " = " + vals[0]
	}
	return f.String() + " IN (" + strings.Join(vals, ", ") + ")"
}
