package base

import (
	"bytes"
	"slices"

	"github.com/tetrahq/tetra/graphstore"
)

// equalContribs reports whether two contribution lists say the same thing,
// including when each was last updated.
func equalContribs(a, b []graphstore.Contribution) bool {
	return slices.EqualFunc(a, b, func(x, y graphstore.Contribution) bool {
		return x.Source == y.Source && x.ExternalID == y.ExternalID && x.Updated == y.Updated &&
			sameData(&x, &y)
	})
}

// sameData reports whether two contributions carry equal data, ignoring
// when they were updated.
func sameData(x, y *graphstore.Contribution) bool {
	switch {
	case x.Component != nil && y.Component != nil:
		a, b := x.Component, y.Component
		return a.Name == b.Name && a.Type == b.Type && a.Layer == b.Layer && a.Domain == b.Domain &&
			slices.Equal(a.Identifiers, b.Identifiers) && slices.Equal(a.Environments, b.Environments) &&
			slices.Equal(a.Labels, b.Labels) && a.Health == b.Health && bytes.Equal(a.Properties, b.Properties)
	case x.Relation != nil && y.Relation != nil:
		a, b := x.Relation, y.Relation
		return a.Type == b.Type && a.SourceRef == b.SourceRef && a.TargetRef == b.TargetRef &&
			slices.Equal(a.Identifiers, b.Identifiers) && a.Dependency == b.Dependency &&
			slices.Equal(a.Labels, b.Labels) && bytes.Equal(a.Properties, b.Properties)
	case x.Check != nil && y.Check != nil:
		return *x.Check == *y.Check
	}
	return false
}
