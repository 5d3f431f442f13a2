package base

import (
	"fmt"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// ChangesOf turns a plan's writes into the changes a feed reports.
func ChangesOf(writes []Write) []graphstore.Change {
	out := make([]graphstore.Change, 0, len(writes))
	for _, w := range writes {
		c := graphstore.Change{ID: w.ID, Kind: w.Kind, Before: w.Before, After: w.After}
		switch {
		case w.Before == nil:
			c.Op = graphstore.Added
		case w.After == nil:
			c.Op = graphstore.Removed
		default:
			c.Op = graphstore.Changed
		}
		out = append(out, c)
	}
	return out
}

// Count tallies the changes of a commit into c.
func Count(c *graphstore.Commit, changes []graphstore.Change) {
	for _, ch := range changes {
		switch ch.Op {
		case graphstore.Added:
			c.Added++
		case graphstore.Changed:
			c.Changed++
		case graphstore.Removed:
			c.Removed++
		}
	}
}

// StampTime picks the commit time of a batch: the time it asks for (its own
// time, or now when it has none), moved one nanosecond past the last commit
// when needed so commit times are unique and increasing. asked is the
// latest time any batch asked for; a batch that gives a time before it is
// refused, since history only moves forward. Several batches may ask for
// the same time. A batch time more than maxSkew past now is refused too.
// It returns the commit time and the new latest asked time.
func StampTime(batch, now time.Time, last, asked int64, maxSkew time.Duration) (ts, newAsked int64, err error) {
	req := now.UnixNano()
	if !batch.IsZero() {
		if batch.After(now.Add(maxSkew)) {
			return 0, 0, fmt.Errorf("graphstore: batch time %s is more than %s in the future",
				batch.UTC().Format(time.RFC3339Nano), maxSkew)
		}
		req = batch.UnixNano()
		if req < asked {
			return 0, 0, &graphstore.TimeBackwardsError{Batch: batch, Last: time.Unix(0, asked)}
		}
	}
	return max(req, last+1), max(req, asked), nil
}
