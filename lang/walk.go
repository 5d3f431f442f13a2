package lang

import "reflect"

// Inspect traverses the AST in depth-first order, like go/ast.Inspect: it
// calls f(n); if that returns true, it inspects each non-nil child of n, and
// then calls f(nil).
func Inspect(n Node, f func(Node) bool) {
	if isNilNode(n) || !f(n) {
		return
	}
	for _, c := range children(n) {
		Inspect(c, f)
	}
	f(nil)
}

// children returns the non-nil children of n in source order.
func children(n Node) []Node {
	var out []Node
	add := func(cs ...Node) {
		for _, c := range cs {
			if !isNilNode(c) {
				out = append(out, c)
			}
		}
	}
	switch n := n.(type) {
	case *TopologyStmt:
		add(n.Query, n.At, n.Changes)
	case *Changes:
		add(n.From, n.To)
	case *MetricsStmt:
		add(n.Where, n.For, n.Range, n.Aggregate)
		for _, k := range n.GroupBy {
			add(k)
		}
		add(n.Limit)
	case *EventsStmt:
		add(n.Where, n.For, n.Range, n.Limit)
	case *TracesStmt:
		add(n.Where, n.For, n.Range, n.OrderBy, n.Limit)
	case *Range:
		add(n.From, n.To)
	case *Aggregate:
		add(n.By)
	case *OrderBy:
		add(n.Key)
	case *BinaryExpr:
		add(n.X, n.Y)
	case *NotExpr:
		add(n.X)
	case *CompareExpr:
		add(n.Key)
		for _, v := range n.Values {
			add(v)
		}
	case *NeighborsExpr:
		add(n.Components)
		for _, v := range n.RelationTypes {
			add(v)
		}
	case *CauseOfExpr:
		add(n.Components)
	}
	return out
}

// isNilNode reports whether n is nil or a nil pointer of a node type, so
// that an absent optional field (a nil *Range) reads as no node.
func isNilNode(n Node) bool {
	if n == nil {
		return true
	}
	v := reflect.ValueOf(n)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
