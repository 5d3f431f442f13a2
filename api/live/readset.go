package live

import (
	"cmp"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// termKey names one term of one index.
type termKey struct {
	ix   graphstore.Index
	term string
}

// readSet is what one evaluation read from the graph. A commit can change
// the answer only by changing something the evaluation read: an element it
// loaded, the postings of a term it looked up (adjacency is postings too:
// the relations at a component are the postings of its id term in IdxOut or
// IdxIn), or the terms under a prefix it listed. A commit that touches none
// of these leaves every read, and so the answer, as it was; the evaluation
// is deterministic given what it reads. Planner estimates are not recorded:
// they choose between plans with the same answer.
//
// A readSet is filled by one evaluation goroutine, then handed to the
// dispatcher and never modified again.
type readSet struct {
	ids      map[graphstore.ID]struct{}
	terms    map[termKey]struct{}
	prefixes map[termKey]struct{}
	// all is set by a read the set cannot describe: every commit then
	// counts as affecting the answer.
	all bool
}

func newReadSet() *readSet {
	return &readSet{
		ids:      make(map[graphstore.ID]struct{}, 64),
		terms:    make(map[termKey]struct{}, 16),
		prefixes: map[termKey]struct{}{},
	}
}

// size is the number of entries, for the index's bookkeeping.
func (rs *readSet) size() int { return len(rs.ids) + len(rs.terms) + len(rs.prefixes) }

// hits reports whether a commit changes anything the set read.
func (rs *readSet) hits(changes []graphstore.Change) bool {
	if rs.all {
		return true
	}
	for i := range changes {
		if _, ok := rs.ids[changes[i].ID]; ok {
			return true
		}
		for _, p := range changedPostings(&changes[i]) {
			if _, ok := rs.terms[termKey{p.Index, p.Term}]; ok {
				return true
			}
			if len(rs.prefixes) > 0 && rs.hasPrefixOf(p.Index, p.Term) {
				return true
			}
		}
	}
	return false
}

// hasPrefixOf reports whether the set listed the terms of index ix under a
// prefix of term.
func (rs *readSet) hasPrefixOf(ix graphstore.Index, term string) bool {
	for n := 0; n <= len(term); n++ {
		if _, ok := rs.prefixes[termKey{ix, term[:n]}]; ok {
			return true
		}
	}
	return false
}

// changedPostings returns the postings a change adds or removes: the
// symmetric difference of the element's postings before and after. A term
// whose postings did not change reads the same before and after the commit.
func changedPostings(ch *graphstore.Change) []graphstore.Posting {
	before, after := graphstore.Postings(ch.Before), graphstore.Postings(ch.After)
	if len(before) == 0 || len(after) == 0 {
		return append(before, after...)
	}
	slices.SortFunc(before, comparePosting)
	slices.SortFunc(after, comparePosting)
	var out []graphstore.Posting
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		var c int
		switch {
		case i == len(before):
			c = 1
		case j == len(after):
			c = -1
		default:
			c = comparePosting(before[i], after[j])
		}
		switch {
		case c < 0:
			out = append(out, before[i])
			i++
		case c > 0:
			out = append(out, after[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}

func comparePosting(a, b graphstore.Posting) int {
	return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Term, b.Term), cmp.Compare(a.Aux, b.Aux))
}

// recordingGraph opens snapshots that record every read into one read set;
// the engine runs one evaluation over it (exec.Engine.Over).
type recordingGraph struct {
	store Store
	rs    *readSet
}

func (g *recordingGraph) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	s, err := g.store.Snapshot(t)
	if err != nil {
		return nil, err
	}
	return &recorder{s: s, rs: g.rs}, nil
}

// recorder is a graphstore.Snapshot that records what is read through it.
// It forwards each method explicitly (no embedding): a read method added to
// graphstore.Snapshot must be added here too, recording what it reads, or
// setting rs.all when its reads cannot be described, else subscriptions
// would miss the changes it sees.
type recorder struct {
	s  graphstore.Snapshot
	rs *readSet
}

var _ graphstore.Snapshot = (*recorder)(nil)

func (r *recorder) Time() time.Time { return r.s.Time() }

func (r *recorder) Postings(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	r.rs.terms[termKey{ix, term}] = struct{}{}
	return r.s.Postings(ix, term)
}

func (r *recorder) Terms(ix graphstore.Index, prefix string, fn func(term string) error) error {
	r.rs.prefixes[termKey{ix, prefix}] = struct{}{}
	return r.s.Terms(ix, prefix, fn)
}

func (r *recorder) Element(id graphstore.ID) (*graphstore.Element, error) {
	r.rs.ids[id] = struct{}{}
	return r.s.Element(id)
}

// Adjacent is the postings of the component's id term in IdxOut or IdxIn
// (graphstore.Postings files a traversable relation there), so a relation
// that starts or stops touching the component is a changed posting of it.
func (r *recorder) Adjacent(id graphstore.ID, ix graphstore.Index, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	r.rs.terms[termKey{ix, graphstore.IDTerm(id)}] = struct{}{}
	return r.s.Adjacent(id, ix, dst)
}

// AdjacentPage reads part of the same term as Adjacent; recording the whole
// term is conservative and right.
func (r *recorder) AdjacentPage(id graphstore.ID, ix graphstore.Index, after graphstore.ID, max int, dst []graphstore.Adjacency) ([]graphstore.Adjacency, error) {
	r.rs.terms[termKey{ix, graphstore.IDTerm(id)}] = struct{}{}
	return r.s.AdjacentPage(id, ix, after, max, dst)
}

// PostingSet is Postings as a bitmap (graphstore.SetReader), when the
// snapshot it wraps hands them out.
func (r *recorder) PostingSet(ix graphstore.Index, term string) (*roaring.Bitmap, bool, error) {
	sr, ok := r.s.(graphstore.SetReader)
	if !ok {
		return nil, false, nil
	}
	r.rs.terms[termKey{ix, term}] = struct{}{}
	return sr.PostingSet(ix, term)
}

var _ graphstore.SetReader = (*recorder)(nil)

// PostingBlocks is PostingSet with the set's dense blocks
// (graphstore.DenseSetReader), when the snapshot it wraps keeps them.
func (r *recorder) PostingBlocks(ix graphstore.Index, term string) (*roaring.Bitmap, graphstore.DenseBlocks, bool, error) {
	dr, ok := r.s.(graphstore.DenseSetReader)
	if !ok {
		bm, ok, err := r.PostingSet(ix, term)
		return bm, nil, ok, err
	}
	r.rs.terms[termKey{ix, term}] = struct{}{}
	return dr.PostingBlocks(ix, term)
}

var _ graphstore.DenseSetReader = (*recorder)(nil)

// LookupExternal is not used by query evaluation; were it, the external-id
// index is not among the postings a change lists, so its reads are not
// followed.
func (r *recorder) LookupExternal(kind graphstore.Kind, source, ext string) (graphstore.ID, error) {
	r.rs.all = true
	return r.s.LookupExternal(kind, source, ext)
}

// Estimate guides the planner's choice between plans with the same answer.
func (r *recorder) Estimate(ix graphstore.Index, term string) (int, error) {
	return r.s.Estimate(ix, term)
}

func (r *recorder) Close() error { return r.s.Close() }
