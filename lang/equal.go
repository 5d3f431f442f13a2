package lang

import "slices"

// Equal reports whether a and b are the same AST, ignoring spans. Times are
// compared as instants (time.Time.Equal). Equal is what the round-trip law
// of Format is stated in.
func Equal(a, b Node) bool {
	if isNilNode(a) || isNilNode(b) {
		return isNilNode(a) && isNilNode(b)
	}
	switch a := a.(type) {
	case *TopologyStmt:
		b, ok := b.(*TopologyStmt)
		return ok && a.Keyword == b.Keyword && Equal(a.Query, b.Query) && Equal(a.At, b.At) && Equal(a.Changes, b.Changes)
	case *Changes:
		b, ok := b.(*Changes)
		return ok && Equal(a.From, b.From) && Equal(a.To, b.To)
	case *MetricsStmt:
		b, ok := b.(*MetricsStmt)
		return ok && dataEqual(a.Where, b.Where, a.For, b.For, a.Range, b.Range, a.Limit, b.Limit) &&
			Equal(a.Aggregate, b.Aggregate) && slices.EqualFunc(a.GroupBy, b.GroupBy, keyEqual)
	case *EventsStmt:
		b, ok := b.(*EventsStmt)
		return ok && dataEqual(a.Where, b.Where, a.For, b.For, a.Range, b.Range, a.Limit, b.Limit)
	case *TracesStmt:
		b, ok := b.(*TracesStmt)
		return ok && dataEqual(a.Where, b.Where, a.For, b.For, a.Range, b.Range, a.Limit, b.Limit) && Equal(a.OrderBy, b.OrderBy)
	case Expr:
		return exprEqual(a, b)
	}
	return leafEqual(a, b)
}

// dataEqual compares the clauses the data statements share.
func dataEqual(wa, wb Expr, fa, fb *TopologyStmt, ra, rb *Range, la, lb *Limit) bool {
	return Equal(wa, wb) && Equal(fa, fb) && Equal(ra, rb) && Equal(la, lb)
}

func exprEqual(a Expr, b Node) bool {
	switch a := a.(type) {
	case *BinaryExpr:
		b, ok := b.(*BinaryExpr)
		return ok && a.Op == b.Op && Equal(a.X, b.X) && Equal(a.Y, b.Y)
	case *NotExpr:
		b, ok := b.(*NotExpr)
		return ok && Equal(a.X, b.X)
	case *CompareExpr:
		b, ok := b.(*CompareExpr)
		return ok && a.Op == b.Op && keyEqual(a.Key, b.Key) && slices.EqualFunc(a.Values, b.Values, valueEqual)
	case *NeighborsExpr:
		b, ok := b.(*NeighborsExpr)
		return ok && a.Levels == b.Levels && a.AllLevels == b.AllLevels && a.Direction == b.Direction && Equal(a.Components, b.Components) &&
			slices.EqualFunc(a.RelationTypes, b.RelationTypes, valueEqual)
	case *CauseOfExpr:
		b, ok := b.(*CauseOfExpr)
		return ok && a.Levels == b.Levels && a.AllLevels == b.AllLevels && a.Direction == b.Direction && Equal(a.Components, b.Components)
	}
	return false
}

func leafEqual(a, b Node) bool {
	switch a := a.(type) {
	case *Range:
		b, ok := b.(*Range)
		return ok && Equal(a.From, b.From) && Equal(a.To, b.To)
	case *Aggregate:
		b, ok := b.(*Aggregate)
		return ok && a.Method == b.Method && a.Percentile == b.Percentile && Equal(a.By, b.By)
	case *OrderBy:
		b, ok := b.(*OrderBy)
		return ok && a.Desc == b.Desc && keyEqual(a.Key, b.Key)
	case *Limit:
		b, ok := b.(*Limit)
		return ok && a.N == b.N
	case *Key:
		b, ok := b.(*Key)
		return ok && keyEqual(a, b)
	case *Value:
		b, ok := b.(*Value)
		return ok && valueEqual(a, b)
	case *TimeValue:
		b, ok := b.(*TimeValue)
		return ok && a.Kind == b.Kind && a.Offset == b.Offset && a.Abs.Equal(b.Abs)
	case *DurationValue:
		b, ok := b.(*DurationValue)
		return ok && a.D == b.D
	}
	return false
}

func keyEqual(a, b *Key) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name
}

func valueEqual(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Text == b.Text && a.Number == b.Number && a.Dur == b.Dur &&
		(a.Pattern == nil) == (b.Pattern == nil) && slices.Equal(a.Pattern, b.Pattern)
}
