package lang

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// lowerer turns the participle parse tree into the AST. It resolves what
// the grammar cannot express (escapes, numbers, times, durations, function
// arguments, limits) and reports problems as *Error; context-dependent
// checks (which keys exist where) are the checker's.
//
// After an error, lowering goes on to find more, so the nodes it returns may
// be incomplete; Parse discards them.
type lowerer struct {
	src  string
	lim  Limits
	errs []*Error
}

func (l *lowerer) errorf(span Span, hint, format string, args ...any) {
	l.errs = append(l.errs, newError(l.src, span, hint, format, args...))
}

// tokSpan is the span of one token.
func tokSpan(t lexer.Token) Span {
	return Span{t.Pos.Offset, t.Pos.Offset + len(t.Value)}
}

// tokensSpan is the span from the first token to the end of the last.
func tokensSpan(toks []lexer.Token) Span {
	if len(toks) == 0 {
		return Span{}
	}
	return Span{toks[0].Pos.Offset, tokSpan(toks[len(toks)-1]).End}
}

func (l *lowerer) statement(p *pStatement) Statement {
	switch {
	case p.Metrics != nil:
		return l.metrics(p.Metrics)
	case p.Events != nil:
		return l.events(p.Events)
	case p.Traces != nil:
		return l.traces(p.Traces)
	}
	return l.topology(p.Topology)
}

func (l *lowerer) topology(p *pTopology) *TopologyStmt {
	s := &TopologyStmt{Keyword: p.Keyword, Query: l.or(p.Query), Src: tokensSpan(p.Tokens)}
	if p.At != nil {
		s.At = l.time(*p.At)
	}
	if p.Changes != nil {
		s.Changes = &Changes{From: l.time(p.Changes.From), Src: tokensSpan(p.Changes.Tokens)}
		if p.Changes.To != nil {
			s.Changes.To = l.time(*p.Changes.To)
		}
	}
	return s
}

func (l *lowerer) metrics(p *pMetrics) *MetricsStmt {
	s := &MetricsStmt{Src: tokensSpan(p.Tokens)}
	s.Where, s.For, s.Range = l.common(p.Where, p.For, p.Range)
	if p.Aggregate != nil {
		s.Aggregate = l.aggregate(p.Aggregate)
	}
	if p.GroupBy != nil {
		for _, k := range p.GroupBy.Keys {
			s.GroupBy = append(s.GroupBy, &Key{Name: k.Tok.Value, Src: tokSpan(k.Tok)})
		}
	}
	s.Limit = l.limit(p.Limit)
	return s
}

func (l *lowerer) events(p *pEvents) *EventsStmt {
	s := &EventsStmt{Src: tokensSpan(p.Tokens)}
	s.Where, s.For, s.Range = l.common(p.Where, p.For, p.Range)
	s.Limit = l.limit(p.Limit)
	return s
}

func (l *lowerer) traces(p *pTraces) *TracesStmt {
	s := &TracesStmt{Src: tokensSpan(p.Tokens)}
	s.Where, s.For, s.Range = l.common(p.Where, p.For, p.Range)
	if p.OrderBy != nil {
		s.OrderBy = &OrderBy{
			Key:  &Key{Name: p.OrderBy.Key.Value, Src: tokSpan(p.OrderBy.Key)},
			Desc: p.OrderBy.Dir != nil && strings.EqualFold(p.OrderBy.Dir.Value, "DESC"),
			Src:  tokensSpan(p.OrderBy.Tokens),
		}
	}
	s.Limit = l.limit(p.Limit)
	return s
}

// common lowers the clauses every data statement has.
func (l *lowerer) common(where *pOr, f *pFor, r *pRange) (Expr, *TopologyStmt, *Range) {
	var (
		x   Expr
		top *TopologyStmt
		rng *Range
	)
	if where != nil {
		x = l.or(where)
	}
	if f != nil {
		top = l.topology(f.Query)
	}
	if r != nil {
		rng = &Range{From: l.time(r.From), Src: tokensSpan(r.Tokens)}
		if r.To != nil {
			rng.To = l.time(*r.To)
		}
	}
	return x, top, rng
}

// ---- expressions ----

func (l *lowerer) or(p *pOr) Expr {
	x := l.and(p.Head)
	start := tokensSpan(p.Tokens).Start
	for _, arm := range p.Tail {
		y := l.and(arm)
		x = &BinaryExpr{Op: OpOr, X: x, Y: y, Src: Span{start, tokensSpan(arm.Tokens).End}}
	}
	return x
}

func (l *lowerer) and(p *pAnd) Expr {
	x := l.unary(p.Head)
	start := tokensSpan(p.Tokens).Start
	for _, arm := range p.Tail {
		op := OpAnd
		if strings.EqualFold(arm.Op, "NOT") {
			op = OpExcept
		}
		y := l.unary(arm.X)
		x = &BinaryExpr{Op: op, X: x, Y: y, Src: Span{start, tokensSpan(arm.X.Tokens).End}}
	}
	return x
}

// unary wraps the primary in one NotExpr per prefix NOT, innermost last.
func (l *lowerer) unary(p *pUnary) Expr {
	x := l.primary(p.Primary)
	end := tokensSpan(p.Tokens).End
	for i := len(p.Nots) - 1; i >= 0; i-- {
		x = &NotExpr{X: x, Src: Span{p.Tokens[i].Pos.Offset, end}}
	}
	return x
}

func (l *lowerer) primary(p *pPrimary) Expr {
	switch {
	case p.Paren != nil:
		return l.or(p.Paren)
	case p.Func != nil:
		return l.function(p.Func)
	}
	return l.compare(p.Compare)
}

var compareOps = map[string]CompareOp{
	"=": CmpEq, "!=": CmpNe, "<": CmpLt, "<=": CmpLe, ">": CmpGt, ">=": CmpGe,
}

func (l *lowerer) compare(p *pCompare) Expr {
	c := &CompareExpr{Key: &Key{Name: p.Key.Value, Src: tokSpan(p.Key)}, Src: tokensSpan(p.Tokens)}
	if p.Op != nil {
		c.Op = compareOps[p.Op.Value]
		c.Values = []*Value{l.value(p.Value.Tok)}
		return c
	}
	c.Op = CmpIn
	if p.Not {
		c.Op = CmpNotIn
	}
	if len(p.List) > l.lim.MaxListValues {
		l.errorf(tokSpan(p.List[l.lim.MaxListValues].Tok), "split the list, or raise the limit",
			"IN list has more than %d values (MaxListValues)", l.lim.MaxListValues)
		return c
	}
	c.Values = make([]*Value, len(p.List))
	for i, v := range p.List {
		c.Values[i] = l.value(v.Tok)
	}
	return c
}

// ---- functions ----

// funcArgs are the arguments of withNeighborsOf or withCauseOf; zero
// fields were not written.
type funcArgs struct {
	components Expr
	levels     int
	all        bool
	dir        Direction
	relTypes   []*Value
	relTypesAt Span // where relationTypes was written, for withCauseOf's error
}

func (l *lowerer) function(p *pFunc) Expr {
	span := tokensSpan(p.Tokens)
	name := p.Name.Value
	var cause bool
	switch strings.ToLower(name) {
	case "withneighborsof":
	case "withcauseof":
		cause = true
	default:
		l.errorf(tokSpan(p.Name), suggest(name, functionNames, "the functions are withNeighborsOf and withCauseOf"), "unknown function %q", name)
		return &NeighborsExpr{Levels: 1, Direction: DirBoth, Src: span}
	}
	a := l.args(p.Args)
	if cause && a.relTypes != nil {
		l.errorf(a.relTypesAt, "relationTypes applies to withNeighborsOf; withCauseOf adds nothing to its seeds",
			"withCauseOf takes no relationTypes")
	}
	if cause {
		return &CauseOfExpr{Components: a.components, Levels: a.levels, AllLevels: a.all, Direction: a.dir, Src: span}
	}
	n := &NeighborsExpr{Components: a.components, Levels: 1, Direction: DirBoth, RelationTypes: a.relTypes, Src: span}
	if a.levels != 0 {
		n.Levels, n.AllLevels = a.levels, a.all
	}
	if a.dir != 0 {
		n.Direction = a.dir
	}
	return n
}

var functionNames = []string{"withNeighborsOf", "withCauseOf"}

var argumentNames = []string{"components", "levels", "direction", "relationTypes"}

func (l *lowerer) args(args []*pArg) funcArgs {
	var a funcArgs
	seen := map[string]bool{}
	for _, arg := range args {
		name := strings.ToLower(arg.Name.Value)
		if seen[name] {
			l.errorf(tokSpan(arg.Name), "each argument may be given once", "argument %s given twice", name)
			continue
		}
		switch name {
		case "components":
			seen[name] = true
			a.components = l.componentsArg(arg)
		case "levels":
			seen[name] = true
			a.levels, a.all = l.levelsArg(arg)
		case "direction":
			seen[name] = true
			a.dir = l.directionArg(arg)
		case "relationtypes":
			seen[name] = true
			a.relTypes, a.relTypesAt = l.relationTypesArg(arg), tokensSpan(arg.Tokens)
		default:
			l.errorf(tokSpan(arg.Name), suggest(arg.Name.Value, argumentNames, "the arguments are components, levels, direction and relationTypes"),
				"unknown argument %q", arg.Name.Value)
		}
	}
	return a
}

const relationTypesHint = `write the relation types as values in parentheses: relationTypes = ("calls", "uses")`

// relationTypesArg reads relationTypes = ("a", "b*") or relationTypes = "a".
func (l *lowerer) relationTypesArg(arg *pArg) []*Value {
	switch {
	case arg.Query != nil:
		l.errorf(tokensSpan(arg.Tokens), relationTypesHint, "relationTypes takes relation types, not a query")
		return nil
	case arg.Value != nil:
		return []*Value{l.value(*arg.Value)}
	}
	if len(arg.List) > l.lim.MaxListValues {
		l.errorf(tokSpan(arg.List[l.lim.MaxListValues].Tok), "split the list, or raise the limit",
			"relationTypes has more than %d values (MaxListValues)", l.lim.MaxListValues)
		return nil
	}
	out := make([]*Value, len(arg.List))
	for i, v := range arg.List {
		out[i] = l.value(v.Tok)
	}
	return out
}

func (l *lowerer) componentsArg(arg *pArg) Expr {
	if arg.List != nil {
		l.errorf(tokensSpan(arg.Tokens), `write the seed components as a query in parentheses: components = (name = "x")`,
			"components takes a topology query in parentheses, not a list of values")
		return nil
	}
	if arg.Query == nil {
		l.errorf(tokSpan(*arg.Value), `write the seed components as a query in parentheses: components = (name = "x")`,
			"components takes a topology query in parentheses")
		return nil
	}
	return l.or(arg.Query)
}

// scalarArg returns the text of a value argument, or reports a query where
// a value was expected.
func (l *lowerer) scalarArg(arg *pArg, what string) (string, Span, bool) {
	if arg.Value == nil {
		span := tokensSpan(arg.Tokens)
		l.errorf(span, what, "%s takes a value, not a query", strings.ToLower(arg.Name.Value))
		return "", span, false
	}
	return scalarText(*arg.Value), tokSpan(*arg.Value), true
}

const levelsHint = `levels must be 1–15 or "all"`

func (l *lowerer) levelsArg(arg *pArg) (int, bool) {
	text, span, ok := l.scalarArg(arg, levelsHint)
	if !ok {
		return 1, false
	}
	if strings.EqualFold(text, "all") {
		return MaxLevels, true
	}
	n, ok := smallInt(text)
	if !ok || n < 1 || n > MaxLevels {
		l.errorf(span, levelsHint, "bad levels %q", text)
		return 1, false
	}
	return n, false
}

const directionHint = `direction must be "up", "down" or "both"`

func (l *lowerer) directionArg(arg *pArg) Direction {
	text, span, ok := l.scalarArg(arg, directionHint)
	if !ok {
		return DirBoth
	}
	switch strings.ToLower(text) {
	case "both":
		return DirBoth
	case "up":
		return DirUp
	case "down":
		return DirDown
	}
	l.errorf(span, directionHint, "bad direction %q", text)
	return DirBoth
}

// ---- clauses ----

func (l *lowerer) limit(p *pLimit) *Limit {
	if p == nil {
		return nil
	}
	n, ok := smallInt(p.N.Value)
	if p.N.Type != tokWord || !ok || n < 1 {
		l.errorf(tokSpan(p.N), "write a bare number such as LIMIT 100", "LIMIT must be a positive integer, not %s", p.N.Value)
	}
	return &Limit{N: n, Src: tokensSpan(p.Tokens)}
}

func (l *lowerer) aggregate(p *pAggregate) *Aggregate {
	a := &Aggregate{Src: tokensSpan(p.Tokens)}
	var arg *string
	if p.Arg != nil {
		s := scalarText(*p.Arg)
		arg = &s
	}
	m, pct, err := aggMethod(scalarText(p.Method), arg)
	if err != nil {
		span := tokSpan(p.Method)
		if err.onArg && p.Arg != nil {
			span = tokSpan(*p.Arg)
		}
		l.errorf(span, err.hint, "%s", err.msg)
	}
	a.Method, a.Percentile = m, pct
	if p.By != nil {
		a.By = l.duration(*p.By)
	}
	return a
}

// ---- leaves ----

// scalarText is the text of a value token: a string with its escapes
// resolved, or a bare word as written.
func scalarText(t lexer.Token) string {
	if t.Type == tokString {
		text, _ := unquote(t.Value)
		return text
	}
	return t.Value
}

func (l *lowerer) value(t lexer.Token) *Value {
	v := &Value{Src: tokSpan(t)}
	if t.Type == tokString {
		v.Kind = ValString
		v.Text, v.Pattern = unquote(t.Value)
		return v
	}
	v.Text = t.Value
	var err *valueError
	switch {
	case isNumberWord(t.Value):
		v.Kind = ValNumber
		v.Number, err = parseNumber(t.Value)
	case isDurationWord(t.Value):
		v.Kind = ValDuration
		v.Dur, err = parseDuration(t.Value)
	default:
		v.Kind = ValString
		v.Pattern = wordPattern(t.Value)
	}
	if err != nil {
		l.errorf(v.Src, err.hint, "%s", err.msg)
	}
	return v
}

func (l *lowerer) time(t lexer.Token) *TimeValue {
	tv, err := parseTime(scalarText(t))
	if err != nil {
		l.errorf(tokSpan(t), err.hint, "%s", err.msg)
	}
	tv.Src = tokSpan(t)
	return &tv
}

func (l *lowerer) duration(t lexer.Token) *DurationValue {
	text := scalarText(t)
	d, err := parseDuration(text)
	if err == nil && d <= 0 {
		err = &valueError{msg: "BY needs a positive duration", hint: "e.g. BY 1m"}
	}
	if err != nil {
		l.errorf(tokSpan(t), err.hint, "%s", err.msg)
	}
	return &DurationValue{D: d, Src: tokSpan(t)}
}
