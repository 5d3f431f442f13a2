package lang

import (
	"time"
)

// Span is a half-open byte range [Start, End) of the source text.
type Span struct {
	Start, End int
}

// Node is implemented by every AST node. The AST is sealed: only this package
// defines node types, and every node carries the span of source it came from.
// Nodes hold no execution state; the planner and executor never modify them.
type Node interface {
	Span() Span
	node()
}

// Statement is one TQL statement: *TopologyStmt, *MetricsStmt, *EventsStmt or
// *TracesStmt.
type Statement interface {
	Node
	stmt()
}

// Expr is a filter expression: a topology query (STQL) or the WHERE filter of
// a data statement. It is one of *BinaryExpr, *NotExpr, *CompareExpr,
// *NeighborsExpr, *CauseOfExpr.
type Expr interface {
	Node
	expr()
}

// ---- statements ----

// TopologyStmt selects components (and the relations among them) at a time,
// or the changes between two times. A bare STQL query parses to a
// TopologyStmt with Keyword false.
type TopologyStmt struct {
	Keyword bool       // the statement was written with the TOPOLOGY keyword
	Query   Expr       // never nil
	At      *TimeValue // AT <time>; nil means now
	Changes *Changes   // CHANGES FROM … [TO …]; nil unless written. At and Changes are exclusive.
	Src     Span
}

// Changes is the CHANGES FROM <t1> [TO <t2>] clause.
type Changes struct {
	From *TimeValue // never nil
	To   *TimeValue // nil means now
	Src  Span
}

// MetricsStmt is METRICS [WHERE …] [FOR (…)] [FROM … [TO …]] [AGGREGATE …
// [BY …]] [GROUP BY …] [LIMIT n].
type MetricsStmt struct {
	Where     Expr          // nil when absent
	For       *TopologyStmt // nil when absent; never has Changes
	Range     *Range        // nil means the last hour
	Aggregate *Aggregate    // nil when absent
	GroupBy   []*Key        // nil when absent
	Limit     *Limit        // nil when absent
	Src       Span
}

// EventsStmt is EVENTS [WHERE …] [FOR (…)] [FROM … [TO …]] [LIMIT n].
type EventsStmt struct {
	Where Expr
	For   *TopologyStmt
	Range *Range
	Limit *Limit
	Src   Span
}

// TracesStmt is TRACES [WHERE …] [FOR (…)] [FROM … [TO …]] [ORDER BY f
// [ASC|DESC]] [LIMIT n].
type TracesStmt struct {
	Where   Expr
	For     *TopologyStmt
	Range   *Range
	OrderBy *OrderBy
	Limit   *Limit
	Src     Span
}

// Range is FROM <time> [TO <time>].
type Range struct {
	From *TimeValue // never nil
	To   *TimeValue // nil means now
	Src  Span
}

// AggMethod is an aggregation of a metrics statement.
type AggMethod int

const (
	AggMean AggMethod = iota + 1 // mean, avg
	AggMin
	AggMax
	AggSum
	AggCount // count, event_count
	AggLast
	AggPercentile // percentile(p), percentile_99, "99th percentile"
	AggSumNoZeros
	AggCountNoZeros // event_count_no_zeros
)

// Aggregate is AGGREGATE <method> [BY <duration>].
type Aggregate struct {
	Method     AggMethod
	Percentile float64        // 0 < p ≤ 100, for AggPercentile only
	By         *DurationValue // bucket width; nil means one value per series
	Src        Span
}

// OrderBy is ORDER BY <field> [ASC|DESC].
type OrderBy struct {
	Key  *Key
	Desc bool
	Src  Span
}

// Limit is LIMIT <n>, n ≥ 1.
type Limit struct {
	N   int
	Src Span
}

// ---- expressions ----

// BinaryOp is a boolean set operator.
type BinaryOp int

const (
	OpAnd    BinaryOp = iota + 1 // X AND Y: intersection
	OpOr                         // X OR Y: union
	OpExcept                     // X NOT Y (infix NOT): X minus Y, at AND's level
)

// BinaryExpr is X op Y. Binary operators associate to the left.
type BinaryExpr struct {
	Op   BinaryOp
	X, Y Expr
	Src  Span
}

// NotExpr is prefix NOT X: everything except X.
type NotExpr struct {
	X   Expr
	Src Span
}

// CompareOp is the operator of a comparison.
type CompareOp int

const (
	CmpEq    CompareOp = iota + 1 // =
	CmpNe                         // !=
	CmpLt                         // <
	CmpLe                         // <=
	CmpGt                         // >
	CmpGe                         // >=
	CmpIn                         // IN (v, …)
	CmpNotIn                      // NOT IN (v, …)
)

// CompareExpr is key op value, or key [NOT] IN (values…). For every operator
// other than IN and NOT IN, Values has exactly one element.
type CompareExpr struct {
	Key    *Key
	Op     CompareOp
	Values []*Value
	Src    Span
}

// Direction is the direction of a withNeighborsOf traversal.
type Direction int

const (
	DirBoth Direction = iota + 1 // either way at every step (default)
	DirUp                        // target to source: what depends on the seeds
	DirDown                      // source to target: what the seeds depend on
)

// MaxLevels is the deepest withNeighborsOf traversal; levels "all" means it.
const MaxLevels = 15

// NeighborsExpr is withNeighborsOf(components = (…), levels = "n",
// direction = "d", relationTypes = ("t", …)): the seed components plus
// everything within Levels hops, following only relations of the given
// types (a Tetra extension; nil follows every relation).
type NeighborsExpr struct {
	Components    Expr      // the seeds; nil means all components (the default)
	Levels        int       // 1..MaxLevels
	AllLevels     bool      // levels was written "all" (Levels is then MaxLevels)
	Direction     Direction // DirBoth by default
	RelationTypes []*Value  // relation types to follow, globs allowed; nil: every relation
	Src           Span
}

// CauseOfExpr is withCauseOf(…): accepted for StackState compatibility and
// evaluated as its seed components (it adds nothing, as StackState deprecated
// it). The arguments are those of withNeighborsOf.
type CauseOfExpr struct {
	Components Expr // nil means all components
	Levels     int  // 0 when not written
	AllLevels  bool
	Direction  Direction // 0 when not written
	Src        Span
}

// ---- leaves ----

// Key is the left side of a comparison or a GROUP BY / ORDER BY field, in
// canonical form: topology keys lower-cased with aliases resolved
// (environments → environment); known data fields lower-cased; tag and
// attribute names as written (attributes.<key>, resource.<key>).
type Key struct {
	Name string
	Src  Span
}

// ValueKind says how a value was written.
type ValueKind int

const (
	ValString   ValueKind = iota + 1 // quoted, or a bare word that is neither a number nor a duration
	ValNumber                        // a bare number: 42, 1.5, -3
	ValDuration                      // a bare duration: 500ms, 5m, 1w
)

// Value is a literal on the right side of a comparison.
//
// Text is the value with escapes resolved. A string value may be a glob: an
// unescaped * matches any run of characters; Pattern then holds the literal
// pieces between the stars (len(Pattern) = stars+1). Pattern is nil for a
// value without wildcards, so a value "*" has Pattern ["", ""] and matches
// everything. A \* in the source is a literal star and does not split Text.
type Value struct {
	Kind    ValueKind
	Text    string
	Pattern []string
	Number  float64       // for ValNumber
	Dur     time.Duration // for ValDuration
	Src     Span
}

// IsWildcard reports whether the value is exactly "*": match everything.
func (v *Value) IsWildcard() bool {
	return len(v.Pattern) == 2 && v.Pattern[0] == "" && v.Pattern[1] == ""
}

// IsGlob reports whether the value contains an unescaped wildcard.
func (v *Value) IsGlob() bool { return v.Pattern != nil }

// TimeKind says how a time was written.
type TimeKind int

const (
	TimeNow      TimeKind = iota + 1 // "now"
	TimeRelative                     // "-15m", "+1h": an offset from now
	TimeAbsolute                     // ISO-8601: "2026-11-20T10:00:00Z"
	TimeEpochMs                      // 1763632800000
)

// TimeValue is a point in time as written in a query. Relative times resolve
// against the query's start time (see Resolve), once.
type TimeValue struct {
	Kind   TimeKind
	Offset time.Duration // for TimeRelative (signed)
	Abs    time.Time     // for TimeAbsolute and TimeEpochMs
	Src    Span
}

// Resolve returns the time the value denotes when the query starts at now.
func (t *TimeValue) Resolve(now time.Time) time.Time {
	switch t.Kind {
	case TimeRelative:
		return now.Add(t.Offset)
	case TimeAbsolute, TimeEpochMs:
		return t.Abs
	default:
		return now
	}
}

// DurationValue is a duration as written: 500ms, 5m, "1h", 2d, 1w.
type DurationValue struct {
	D   time.Duration
	Src Span
}

// ---- node plumbing ----

func (n *TopologyStmt) Span() Span  { return n.Src }
func (n *MetricsStmt) Span() Span   { return n.Src }
func (n *EventsStmt) Span() Span    { return n.Src }
func (n *TracesStmt) Span() Span    { return n.Src }
func (n *Changes) Span() Span       { return n.Src }
func (n *Range) Span() Span         { return n.Src }
func (n *Aggregate) Span() Span     { return n.Src }
func (n *OrderBy) Span() Span       { return n.Src }
func (n *Limit) Span() Span         { return n.Src }
func (n *BinaryExpr) Span() Span    { return n.Src }
func (n *NotExpr) Span() Span       { return n.Src }
func (n *CompareExpr) Span() Span   { return n.Src }
func (n *NeighborsExpr) Span() Span { return n.Src }
func (n *CauseOfExpr) Span() Span   { return n.Src }
func (n *Key) Span() Span           { return n.Src }
func (n *Value) Span() Span         { return n.Src }
func (n *TimeValue) Span() Span     { return n.Src }
func (n *DurationValue) Span() Span { return n.Src }

func (*TopologyStmt) node()  {}
func (*MetricsStmt) node()   {}
func (*EventsStmt) node()    {}
func (*TracesStmt) node()    {}
func (*Changes) node()       {}
func (*Range) node()         {}
func (*Aggregate) node()     {}
func (*OrderBy) node()       {}
func (*Limit) node()         {}
func (*BinaryExpr) node()    {}
func (*NotExpr) node()       {}
func (*CompareExpr) node()   {}
func (*NeighborsExpr) node() {}
func (*CauseOfExpr) node()   {}
func (*Key) node()           {}
func (*Value) node()         {}
func (*TimeValue) node()     {}
func (*DurationValue) node() {}

func (*TopologyStmt) stmt() {}
func (*MetricsStmt) stmt()  {}
func (*EventsStmt) stmt()   {}
func (*TracesStmt) stmt()   {}

func (*BinaryExpr) expr()    {}
func (*NotExpr) expr()       {}
func (*CompareExpr) expr()   {}
func (*NeighborsExpr) expr() {}
func (*CauseOfExpr) expr()   {}
