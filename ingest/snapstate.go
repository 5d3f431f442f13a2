package ingest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// Durable snapshot state, in the store's writer state (graphstore.Batch
// State), committed with the elements it describes. Per source with an
// open snapshot:
//
//	ingest/snap/<len(source)>:<source>/o            the snapshot is open
//	ingest/snap/<len(source)>:<source>/c<external>  it has seen this component
//	ingest/snap/<len(source)>:<source>/r<external>  it has seen this relation
//
// The length makes one source's prefix the prefix of no other source's
// keys, so a source's state goes with one prefix delete.

const snapPrefix = "ingest/snap/"

func snapKey(src string) string {
	return snapPrefix + strconv.Itoa(len(src)) + ":" + src + "/"
}

func seenKey(src string, k elemKey) string {
	tag := "c"
	if k.kind == graphstore.KindRelation {
		tag = "r"
	}
	return snapKey(src) + tag + k.ext
}

// stateOps returns the writer state operations that record the run's
// snapshot changes (none for an Applier without durable state).
func (r *run) stateOps() []graphstore.StateOp {
	if r.a.durable == nil {
		return nil
	}
	var b graphstore.Batch
	r.healthStateOps(&b)
	r.expiryStateOps(&b)
	for src, st := range r.states {
		_, wasOpen := r.a.open[src]
		fresh := !st.open || st.base == nil // stopped, or (re)started in this run
		if wasOpen && fresh {
			b.DeleteStatePrefix(snapKey(src))
		}
		if !st.open {
			continue
		}
		if st.base == nil {
			b.SetState(snapKey(src)+"o", nil)
		}
		for k, v := range st.seen {
			switch {
			case v:
				b.SetState(seenKey(src, k), nil)
			case st.base != nil:
				b.DeleteState(seenKey(src, k))
			}
		}
	}
	return b.State
}

// loadSnapshots reads the open snapshots from the store's writer state.
func (a *Applier) loadSnapshots() error {
	return a.durable.ReadState(snapPrefix, func(key string, _ []byte) error {
		src, rest, err := parseSnapKey(key)
		if err != nil {
			return err
		}
		seen := a.open[src]
		if seen == nil {
			seen = map[elemKey]struct{}{}
			a.open[src] = seen
		}
		switch {
		case rest == "o":
		case strings.HasPrefix(rest, "c"):
			seen[elemKey{graphstore.KindComponent, rest[1:]}] = struct{}{}
		case strings.HasPrefix(rest, "r"):
			seen[elemKey{graphstore.KindRelation, rest[1:]}] = struct{}{}
		default:
			return fmt.Errorf("ingest: snapshot state key %q: %w", key, graphstore.ErrCorrupt)
		}
		return nil
	})
}

// parseSnapKey splits a snapshot state key into its source and the rest.
func parseSnapKey(key string) (src, rest string, err error) { return parseLenKey(key, snapPrefix) }

// parseLenKey splits a writer state key <prefix><len(name)>:<name>/<rest>.
func parseLenKey(key, prefix string) (name, rest string, err error) {
	body := strings.TrimPrefix(key, prefix)
	n, after, ok := strings.Cut(body, ":")
	l, perr := strconv.Atoi(n)
	if !ok || perr != nil || l < 0 || len(after) < l+1 || after[l] != '/' {
		return "", "", fmt.Errorf("ingest: snapshot state key %q: %w", key, graphstore.ErrCorrupt)
	}
	return after[:l], after[l+1:], nil
}
