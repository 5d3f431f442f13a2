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

// SamePostings reports, without computing them, whether two versions of a
// component carry the same postings: they do when their contributions and
// own state are equal, for every term is read off the merged view, which
// only those determine. A version that a change of health elsewhere wrote
// (a new propagated state, a check state that leaves the own state as it
// was) is such a version, and a batch that turns a large closure CRITICAL
// writes thousands of them: stores skip their posting work.
func SamePostings(before, after *graphstore.Element) bool {
	if before == nil || after == nil || before.Kind != graphstore.KindComponent || after.Kind != graphstore.KindComponent {
		return false
	}
	return before.Component().Health == after.Component().Health && equalContribs(before.Contribs, after.Contribs)
}
