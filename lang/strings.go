package lang

import "fmt"

// String returns the operator as written in canonical TQL: AND, OR, or NOT
// for OpExcept (infix NOT).
func (op BinaryOp) String() string {
	switch op {
	case OpAnd:
		return "AND"
	case OpOr:
		return "OR"
	case OpExcept:
		return "NOT"
	}
	return fmt.Sprintf("BinaryOp(%d)", int(op))
}

var compareOpNames = [...]string{CmpEq: "=", CmpNe: "!=", CmpLt: "<", CmpLe: "<=", CmpGt: ">", CmpGe: ">=", CmpIn: "IN", CmpNotIn: "NOT IN"}

// String returns the operator as written in canonical TQL: =, !=, <, <=, >,
// >=, IN, NOT IN.
func (op CompareOp) String() string {
	if op >= CmpEq && int(op) < len(compareOpNames) {
		return compareOpNames[op]
	}
	return fmt.Sprintf("CompareOp(%d)", int(op))
}

// String returns the direction as written in a query: both, up, down.
func (d Direction) String() string {
	switch d {
	case DirBoth:
		return "both"
	case DirUp:
		return "up"
	case DirDown:
		return "down"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

var aggMethodNames = [...]string{
	AggMean: "mean", AggMin: "min", AggMax: "max", AggSum: "sum", AggCount: "count", AggLast: "last",
	AggPercentile: "percentile", AggSumNoZeros: "sum_no_zeros", AggCountNoZeros: "event_count_no_zeros",
}

// String returns the canonical name of the aggregation (without the
// percentile's argument).
func (m AggMethod) String() string {
	if m >= AggMean && int(m) < len(aggMethodNames) {
		return aggMethodNames[m]
	}
	return fmt.Sprintf("AggMethod(%d)", int(m))
}

// String returns now, relative, absolute or epoch_ms.
func (k TimeKind) String() string {
	switch k {
	case TimeNow:
		return "now"
	case TimeRelative:
		return "relative"
	case TimeAbsolute:
		return "absolute"
	case TimeEpochMs:
		return "epoch_ms"
	}
	return fmt.Sprintf("TimeKind(%d)", int(k))
}

// String returns string, number or duration.
func (k ValueKind) String() string {
	switch k {
	case ValString:
		return "string"
	case ValNumber:
		return "number"
	case ValDuration:
		return "duration"
	}
	return fmt.Sprintf("ValueKind(%d)", int(k))
}
