package live

import (
	"github.com/tetrahq/tetra/graphstore"
)

// index finds the views whose read sets a change hits without looking at
// the others: views are filed under every id, term and prefix they read.
// It is owned by the dispatcher goroutine.
type index struct {
	ids      map[graphstore.ID][]*view
	terms    map[termKey][]*view
	prefixes map[termKey][]*view
	// prefixCount counts prefix entries per index, so a change in an index
	// no view listed terms of skips the prefix walk.
	prefixCount map[graphstore.Index]int
	all         map[*view]struct{}
}

func newIndex() *index {
	return &index{
		ids:         map[graphstore.ID][]*view{},
		terms:       map[termKey][]*view{},
		prefixes:    map[termKey][]*view{},
		prefixCount: map[graphstore.Index]int{},
		all:         map[*view]struct{}{},
	}
}

// replace files v under the entries of next instead of prev (either may
// be nil). Entries in both stay where they are: a re-evaluation usually
// reads almost what the previous one read.
func (x *index) replace(v *view, prev, next *readSet) {
	if prev == nil {
		prev = &readSet{}
	}
	if next == nil {
		next = &readSet{}
	}
	for id := range prev.ids {
		if _, keep := next.ids[id]; !keep {
			x.ids[id] = drop(x.ids[id], v)
			if len(x.ids[id]) == 0 {
				delete(x.ids, id)
			}
		}
	}
	for id := range next.ids {
		if _, had := prev.ids[id]; !had {
			x.ids[id] = append(x.ids[id], v)
		}
	}
	replaceTerms(x.terms, v, prev.terms, next.terms, nil)
	replaceTerms(x.prefixes, v, prev.prefixes, next.prefixes, x.prefixCount)
	if next.all {
		x.all[v] = struct{}{}
	} else {
		delete(x.all, v)
	}
}

func replaceTerms(m map[termKey][]*view, v *view, prev, next map[termKey]struct{}, count map[graphstore.Index]int) {
	for k := range prev {
		if _, keep := next[k]; !keep {
			m[k] = drop(m[k], v)
			if len(m[k]) == 0 {
				delete(m, k)
			}
			if count != nil {
				count[k.ix]--
			}
		}
	}
	for k := range next {
		if _, had := prev[k]; !had {
			m[k] = append(m[k], v)
			if count != nil {
				count[k.ix]++
			}
		}
	}
}

// drop removes v from l (order does not matter).
func drop(l []*view, v *view) []*view {
	for i, w := range l {
		if w == v {
			l[i] = l[len(l)-1]
			l[len(l)-1] = nil
			return l[:len(l)-1]
		}
	}
	return l
}

// match calls fn for every view a commit's changes may affect; a view may
// be reported more than once.
func (x *index) match(changes []graphstore.Change, fn func(*view)) {
	for v := range x.all {
		fn(v)
	}
	for i := range changes {
		for _, v := range x.ids[changes[i].ID] {
			fn(v)
		}
		if len(x.terms) == 0 && len(x.prefixes) == 0 {
			continue
		}
		for _, p := range changedPostings(&changes[i]) {
			for _, v := range x.terms[termKey{p.Index, p.Term}] {
				fn(v)
			}
			if x.prefixCount[p.Index] > 0 {
				for n := 0; n <= len(p.Term); n++ {
					for _, v := range x.prefixes[termKey{p.Index, p.Term[:n]}] {
						fn(v)
					}
				}
			}
		}
	}
}
