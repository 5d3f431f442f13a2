package graphstore

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ChecksOf returns the check states bound to a component at the
// snapshot's time, ordered by stream and check state id: the checks behind
// its own health state.
func ChecksOf(sn Snapshot, component ID) ([]*Check, error) {
	ids, err := sn.Postings(IdxBound, IDTerm(component))
	if err != nil {
		return nil, err
	}
	return loadChecks(sn, ids, func(c *Check) bool { return c.Component == component })
}

// StreamChecks returns the check states of a health stream at the
// snapshot's time, bound or not, ordered by check state id. It is what a
// receiver compares a stream's snapshot with, and what it expires. The
// streams themselves are the terms of IdxStream.
func StreamChecks(sn Snapshot, stream string) ([]*Check, error) {
	ids, err := sn.Postings(IdxStream, stream)
	if err != nil {
		return nil, err
	}
	return loadChecks(sn, ids, func(c *Check) bool { return c.Stream == stream })
}

// loadChecks loads check elements the index gave, verifying that each is
// what the index says it is.
func loadChecks(sn Snapshot, ids []ID, ok func(*Check) bool) ([]*Check, error) {
	out := make([]*Check, 0, len(ids))
	for _, id := range ids {
		e, err := sn.Element(id)
		if err != nil {
			return nil, err
		}
		if e == nil || e.Check() == nil || !ok(e.Check()) {
			return nil, fmt.Errorf("graphstore: element %d is indexed as a check state it is not at %s", id, sn.Time())
		}
		out = append(out, e.Check())
	}
	slices.SortFunc(out, func(a, b *Check) int {
		return cmp.Or(strings.Compare(a.Stream, b.Stream), strings.Compare(a.CheckID, b.CheckID))
	})
	return out, nil
}
