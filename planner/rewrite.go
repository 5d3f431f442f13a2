package planner

import (
	"slices"
	"strconv"
)

// A rewrite transforms one plan node whose children are already rewritten.
// Each has a name that EXPLAIN prints, tests refer to, and Options.Disabled
// switches off.
type rewriteRule struct {
	name  string
	apply func(p Plan, env *env) (Plan, bool, error)
}

// Rewrite names.
const (
	RuleFlatten    = "flatten-set-operations" // (a OR b) OR c → OR(a, b, c); same for AND
	RuleFold       = "fold-constants"         // AND with everything, OR with nothing, … disappear
	RuleMergeScans = "merge-scans"            // type = a OR type = b → one scan of type IN (a, b)
	RuleAntiJoin   = "except-to-antijoin"     // a AND NOT b → a minus b, without scanning everything
	RuleDriver     = "choose-driving-scan"    // scan the most selective input; filter the rest on loaded components
)

// rules run in this order, repeatedly, until none changes the plan.
var rules = []rewriteRule{
	{RuleFlatten, flatten},
	{RuleFold, fold},
	{RuleMergeScans, mergeScans},
	{RuleAntiJoin, antiJoin},
	{RuleDriver, chooseDriver},
}

// RuleNames lists every rewrite, in the order they run.
func RuleNames() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// env is the state of one rewrite pass: the catalog and memoised estimates.
type env struct {
	cat  Catalog
	est  map[Plan]int
	tot  int
	totk bool
}

const maxRewritePasses = 8

func rewrite(p Plan, cat Catalog, disabled map[string]bool) (Plan, []string, error) {
	e := &env{cat: cat, est: map[Plan]int{}}
	var fired []string
	for range maxRewritePasses {
		changedAny := false
		for _, r := range rules {
			if disabled[r.name] {
				continue
			}
			np, changed, err := bottomUp(p, r, e)
			if err != nil {
				return nil, nil, err
			}
			if changed {
				p, changedAny = np, true
				if !slices.Contains(fired, r.name) {
					fired = append(fired, r.name)
				}
			}
		}
		if !changedAny {
			break
		}
	}
	return p, fired, nil
}

// bottomUp applies a rule to every node, children first.
func bottomUp(p Plan, r rewriteRule, e *env) (Plan, bool, error) {
	kids := children(p)
	changed := false
	if len(kids) > 0 {
		nk := make([]Plan, len(kids))
		for i, k := range kids {
			np, c, err := bottomUp(k, r, e)
			if err != nil {
				return nil, false, err
			}
			nk[i], changed = np, changed || c
		}
		if changed {
			p = withChildren(p, nk)
		}
	}
	np, c, err := r.apply(p, e)
	if err != nil {
		return nil, false, err
	}
	return np, changed || c, nil
}

// children returns the inputs of a plan node.
func children(p Plan) []Plan {
	switch p := p.(type) {
	case *Filter:
		return []Plan{p.Input}
	case *Union:
		return p.Inputs
	case *Intersect:
		return p.Inputs
	case *Except:
		return []Plan{p.Left, p.Right}
	case *Expand:
		return []Plan{p.Seeds}
	}
	return nil
}

// withChildren returns a copy of p with new inputs.
func withChildren(p Plan, kids []Plan) Plan {
	switch p := p.(type) {
	case *Filter:
		return &Filter{Input: kids[0], Pred: p.Pred}
	case *Union:
		return &Union{Inputs: kids}
	case *Intersect:
		return &Intersect{Inputs: kids}
	case *Except:
		return &Except{Left: kids[0], Right: kids[1]}
	case *Expand:
		return &Expand{Seeds: kids[0], Levels: p.Levels, Direction: p.Direction, RelationTypes: p.RelationTypes}
	}
	return p
}

// flatten splices nested unions into unions and intersections into
// intersections, collapses single-input ones and merges stacked filters.
func flatten(p Plan, _ *env) (Plan, bool, error) {
	switch p := p.(type) {
	case *Union:
		ins, changed := splice(p.Inputs, func(x Plan) []Plan {
			if u, ok := x.(*Union); ok {
				return u.Inputs
			}
			return nil
		})
		if len(ins) == 1 {
			return ins[0], true, nil
		}
		if changed {
			return &Union{Inputs: ins}, true, nil
		}
	case *Intersect:
		ins, changed := splice(p.Inputs, func(x Plan) []Plan {
			if i, ok := x.(*Intersect); ok {
				return i.Inputs
			}
			return nil
		})
		if len(ins) == 1 {
			return ins[0], true, nil
		}
		if changed {
			return &Intersect{Inputs: ins}, true, nil
		}
	case *Filter:
		if in, ok := p.Input.(*Filter); ok {
			return &Filter{Input: in.Input, Pred: andPreds(in.Pred, p.Pred)}, true, nil
		}
	}
	return p, false, nil
}

func splice(ins []Plan, inner func(Plan) []Plan) ([]Plan, bool) {
	var out []Plan
	changed := false
	for _, x := range ins {
		if sub := inner(x); sub != nil {
			out = append(out, sub...)
			changed = true
			continue
		}
		out = append(out, x)
	}
	return out, changed
}

func andPreds(a, b Pred) Pred {
	var xs []Pred
	for _, p := range []Pred{a, b} {
		if and, ok := p.(*And); ok {
			xs = append(xs, and.Xs...)
		} else {
			xs = append(xs, p)
		}
	}
	return &And{Xs: xs}
}

func is[T Plan](p Plan) bool {
	_, ok := p.(T)
	return ok
}

// fold removes what set algebra with All and Nothing makes redundant.
func fold(p Plan, _ *env) (Plan, bool, error) {
	switch p := p.(type) {
	case *Intersect:
		if slices.ContainsFunc(p.Inputs, is[*Nothing]) {
			return &Nothing{}, true, nil
		}
		ins := slices.DeleteFunc(slices.Clone(p.Inputs), is[*All])
		return collapse(ins, len(ins) != len(p.Inputs), &All{}, func(x []Plan) Plan { return &Intersect{Inputs: x} }, p)
	case *Union:
		if slices.ContainsFunc(p.Inputs, is[*All]) {
			return &All{}, true, nil
		}
		ins := slices.DeleteFunc(slices.Clone(p.Inputs), is[*Nothing])
		return collapse(ins, len(ins) != len(p.Inputs), &Nothing{}, func(x []Plan) Plan { return &Union{Inputs: x} }, p)
	case *Except:
		switch {
		case is[*All](p.Right), is[*Nothing](p.Left):
			return &Nothing{}, true, nil
		case is[*Nothing](p.Right):
			return p.Left, true, nil
		}
	case *Expand:
		if is[*Nothing](p.Seeds) || is[*All](p.Seeds) {
			return p.Seeds, true, nil // no seeds: nothing; all seeds: already everything
		}
	case *Filter:
		if is[*Nothing](p.Input) {
			return p.Input, true, nil
		}
	}
	return p, false, nil
}

// collapse builds the folded node: the identity when no input is left, the
// single input, or a new node when inputs were dropped.
func collapse(ins []Plan, dropped bool, identity Plan, build func([]Plan) Plan, orig Plan) (Plan, bool, error) {
	switch {
	case len(ins) == 0:
		return identity, true, nil
	case len(ins) == 1 && dropped:
		return ins[0], true, nil
	case dropped:
		return build(ins), true, nil
	}
	return orig, false, nil
}

// mergeScans merges the scans of one field inside a union into one scan.
func mergeScans(p Plan, _ *env) (Plan, bool, error) {
	u, ok := p.(*Union)
	if !ok {
		return p, false, nil
	}
	var out []Plan
	scans := map[Field]*Scan{}
	globs := map[Field]*GlobScan{}
	var ids *IDs
	changed := false
	for _, x := range u.Inputs {
		switch x := x.(type) {
		case *Scan:
			if s := scans[x.Field]; s != nil {
				s.Terms = slices.Compact(slices.Sorted(slices.Values(append(s.Terms, x.Terms...))))
				changed = true
				continue
			}
			s := &Scan{Field: x.Field, Terms: slices.Clone(x.Terms)}
			scans[x.Field] = s
			out = append(out, s)
		case *GlobScan:
			if g := globs[x.Field]; g != nil {
				g.Globs = append(g.Globs, x.Globs...)
				changed = true
				continue
			}
			g := &GlobScan{Field: x.Field, Globs: slices.Clone(x.Globs)}
			globs[x.Field] = g
			out = append(out, g)
		case *IDs:
			if ids != nil {
				ids.IDs = slices.Compact(slices.Sorted(slices.Values(append(ids.IDs, x.IDs...))))
				changed = true
				continue
			}
			ids = &IDs{IDs: slices.Clone(x.IDs)}
			out = append(out, ids)
		default:
			out = append(out, x)
		}
	}
	if !changed {
		return p, false, nil
	}
	if len(out) == 1 {
		return out[0], true, nil
	}
	return &Union{Inputs: out}, true, nil
}

// antiJoin turns AND NOT into a difference: x AND NOT y (which would scan
// every component for NOT y) becomes x minus y.
func antiJoin(p Plan, _ *env) (Plan, bool, error) {
	in, ok := p.(*Intersect)
	if !ok {
		return p, false, nil
	}
	var keep, minus []Plan
	for _, x := range in.Inputs {
		if ex, ok := x.(*Except); ok && is[*All](ex.Left) {
			minus = append(minus, ex.Right)
			continue
		}
		keep = append(keep, x)
	}
	if len(minus) == 0 || len(keep) == 0 {
		return p, false, nil
	}
	left := keep[0]
	if len(keep) > 1 {
		left = &Intersect{Inputs: keep}
	}
	right := minus[0]
	if len(minus) > 1 {
		right = &Union{Inputs: minus}
	}
	return &Except{Left: left, Right: right}, true, nil
}

// filterCost is what loading one component and testing a predicate on it
// costs, in posting reads.
const filterCost = 4

// chooseDriver scans only the most selective input of an intersection (or
// the left side of a difference) and turns inputs whose postings would cost
// more to read than filtering the driver's components into a filter.
func chooseDriver(p Plan, e *env) (Plan, bool, error) {
	switch p := p.(type) {
	case *Intersect:
		return driveIntersect(p, e)
	case *Except:
		pred, ok := predOf(p.Right)
		if !ok {
			return p, false, nil
		}
		l, err := e.estimate(p.Left)
		if err != nil {
			return nil, false, err
		}
		r, err := e.estimate(p.Right)
		if err != nil || r <= l*filterCost {
			return p, false, err
		}
		return &Filter{Input: p.Left, Pred: &Not{X: pred}}, true, nil
	}
	return p, false, nil
}

func driveIntersect(p *Intersect, e *env) (Plan, bool, error) {
	ests := make([]int, len(p.Inputs))
	driver := 0
	for i, x := range p.Inputs {
		n, err := e.estimate(x)
		if err != nil {
			return nil, false, err
		}
		ests[i] = n
		if n < ests[driver] {
			driver = i
		}
	}
	var keep []Plan
	var preds []Pred
	for i, x := range p.Inputs {
		if i != driver && ests[i] > ests[driver]*filterCost {
			if pred, ok := predOf(x); ok {
				preds = append(preds, pred)
				continue
			}
		}
		keep = append(keep, x)
	}
	if len(preds) == 0 {
		return p, false, nil
	}
	var input Plan = &Intersect{Inputs: keep}
	if len(keep) == 1 {
		input = keep[0]
	}
	pred := preds[0]
	if len(preds) > 1 {
		pred = &And{Xs: preds}
	}
	return &Filter{Input: input, Pred: pred}, true, nil
}

// predOf expresses a plan as a predicate on one component, when it can be
// (an expansion cannot: it depends on the neighbours).
func predOf(p Plan) (Pred, bool) {
	switch p := p.(type) {
	case *Scan:
		return &Match{Field: p.Field, Terms: p.Terms}, true
	case *GlobScan:
		return &Match{Field: p.Field, Globs: p.Globs}, true
	case *IDs:
		terms := make([]string, len(p.IDs))
		for i, id := range p.IDs {
			terms[i] = strconv.FormatUint(id, 10)
		}
		return &Match{Field: FieldID, Terms: terms}, true
	case *All:
		return &And{}, true
	case *Nothing:
		return &Or{}, true
	case *Filter:
		in, ok := predOf(p.Input)
		return andPreds(in, p.Pred), ok
	case *Union:
		xs, ok := predsOf(p.Inputs)
		return &Or{Xs: xs}, ok
	case *Intersect:
		xs, ok := predsOf(p.Inputs)
		return &And{Xs: xs}, ok
	case *Except:
		l, lok := predOf(p.Left)
		r, rok := predOf(p.Right)
		return andPreds(l, &Not{X: r}), lok && rok
	}
	return nil, false
}

func predsOf(ps []Plan) ([]Pred, bool) {
	out := make([]Pred, len(ps))
	for i, p := range ps {
		x, ok := predOf(p)
		if !ok {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// globShare is the share of all components a glob is assumed to match.
const globShare = 10

// neighbourFanout is the growth per traversal level the planner assumes.
const neighbourFanout = 8

// estimate guesses how many components a plan yields.
func (e *env) estimate(p Plan) (int, error) {
	if n, ok := e.est[p]; ok {
		return n, nil
	}
	n, err := e.guess(p)
	if err != nil {
		return 0, err
	}
	e.est[p] = n
	return n, nil
}

func (e *env) total() (int, error) {
	if !e.totk {
		n, err := e.cat.Total()
		if err != nil {
			return 0, err
		}
		e.tot, e.totk = n, true
	}
	return e.tot, nil
}

func (e *env) guess(p Plan) (int, error) {
	tot, err := e.total()
	if err != nil {
		return 0, err
	}
	switch p := p.(type) {
	case *Scan:
		n := 0
		for _, t := range p.Terms {
			c, err := e.cat.Estimate(p.Field, t)
			if err != nil {
				return 0, err
			}
			n += c
		}
		return min(n, tot), nil
	case *GlobScan:
		return min(len(p.Globs)*max(tot/globShare, 1), tot), nil
	case *IDs:
		return len(p.IDs), nil
	case *All:
		return tot, nil
	case *Nothing:
		return 0, nil
	case *Filter:
		n, err := e.estimate(p.Input)
		return (n + 1) / 2, err
	case *Except:
		return e.estimate(p.Left)
	case *Expand:
		n, err := e.estimate(p.Seeds)
		for range p.Levels {
			if n >= tot {
				break
			}
			n *= neighbourFanout
		}
		return min(n, tot), err
	}
	return e.combine(p, tot)
}

// combine estimates unions (sum) and intersections (smallest input).
func (e *env) combine(p Plan, tot int) (int, error) {
	kids := children(p)
	_, isUnion := p.(*Union)
	n := 0
	if !isUnion {
		n = tot
	}
	for _, k := range kids {
		c, err := e.estimate(k)
		if err != nil {
			return 0, err
		}
		if isUnion {
			n += c
		} else {
			n = min(n, c)
		}
	}
	return min(n, tot), nil
}
