package pebblestore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
)

// TestWriteBufReuse records the posting changes of several commits in the
// two reused buffers, merging them as commit does, and compares each
// commit's changes with a fresh map's: lists kept as spares between
// commits must not carry an earlier commit's changes or share a backing
// array between two terms.
func TestWriteBufReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var bufs [2]writeBuf
	for commit := range 50 {
		bufs[0].reset(64)
		bufs[1].reset(0)
		want := termChanges{}
		for i := range 1 + rng.IntN(300) {
			// A few shared terms (many changes each) among many of one.
			term := fmt.Sprintf("own-%d-%d", commit, i)
			if rng.IntN(3) > 0 {
				term = fmt.Sprintf("shared-%d", rng.IntN(8))
			}
			k := termKey{graphstore.IdxType, term}
			ch := postingChange{id: graphstore.ID(commit*1000 + i), close: rng.IntN(2) == 0}
			bufs[rng.IntN(2)].change(k, ch)
			want[k] = append(want[k], ch)
		}
		bufs[0].changes.merge(bufs[1].changes)
		got := bufs[0].changes
		if len(got) != len(want) {
			t.Fatalf("commit %d: %d terms, want %d", commit, len(got), len(want))
		}
		for k, w := range want {
			g := slices.Clone(got[k])
			// merge keeps each buffer's order of a term's changes, not
			// their interleaving: compare as sets of distinct changes.
			byID := func(a, b postingChange) int { return int(a.id - b.id) }
			slices.SortFunc(g, byID)
			slices.SortFunc(w, byID)
			if !slices.Equal(g, w) {
				t.Fatalf("commit %d term %q: %v, want %v", commit, k.term, g, w)
			}
		}
	}
}

// TestSortedWritesOrder sorts keys that share long prefixes, are shorter
// than 8 bytes, or end in zeros, with repeated keys, and
// compares with a stable sort by the keys alone.
func TestSortedWritesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 1, 2, 0xff}
	var w sortedWrites
	type kv struct{ k, v []byte }
	var all []kv
	for i := range 2000 {
		k := make([]byte, rng.IntN(14))
		for j := range k {
			k[j] = alphabet[rng.IntN(len(alphabet))]
		}
		if len(k) == 0 {
			k = []byte{2}
		}
		v := fmt.Appendf(nil, "%d", i)
		w.setKV(k, v)
		all = append(all, kv{k, v})
	}
	w.sort()
	slices.SortStableFunc(all, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	for i, r := range w.ops {
		if !bytes.Equal(w.key(r), all[i].k) || !bytes.Equal(w.buf[r.mid:r.end], all[i].v) {
			t.Fatalf("op %d: %x=%s, want %x=%s", i, w.key(r), w.buf[r.mid:r.end], all[i].k, all[i].v)
		}
	}
}

// TestOpenPostingsOrder builds the opened postings of random changes
// (terms with bytes that escaping changes, prefixes of one another, several
// indexes, closes among the opens, ids in two ascending runs per term as
// two encoding buffers leave them, repeated ids) and compares them with
// every opened posting's key and value sorted stably by key, as the
// commit's sort of all keys wrote them before.
func TestOpenPostingsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"", "a", "ab", "a\x00", "a\x00b", "\xff", "a\xff", "b"}
	var o openPostings
	for commit := range 20 {
		ts := int64(1000 + commit)
		changes := termChanges{}
		type kv struct{ k, v []byte }
		var want []kv
		for range 1 + rng.IntN(40) {
			k := termKey{graphstore.Index(1 + rng.IntN(3)), alphabet[rng.IntN(len(alphabet))] + alphabet[rng.IntN(len(alphabet))]}
			if _, ok := changes[k]; ok {
				continue
			}
			var chs []postingChange
			for run := range 2 {
				id := graphstore.ID(1 + run*rng.IntN(50))
				for range rng.IntN(6) {
					id += graphstore.ID(rng.IntN(3)) // 0: the same id again
					ch := postingChange{id: id, aux: graphstore.ID(rng.IntN(2) * rng.IntN(100)), close: rng.IntN(4) == 0}
					chs = append(chs, ch)
					if !ch.close {
						v := appendU64(nil, uint64(ts))
						if ch.aux != 0 {
							v = appendU64(v, uint64(ch.aux))
						}
						want = append(want, kv{postingKey(k.ix, k.term, id), v})
					}
				}
			}
			changes[k] = chs
		}
		slices.SortStableFunc(want, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		o.build(changes, ts)
		if len(o.kv.ops) != len(want) {
			t.Fatalf("commit %d: %d keys, want %d", commit, len(o.kv.ops), len(want))
		}
		for i, r := range o.kv.ops {
			if r.del || !bytes.Equal(o.kv.key(r), want[i].k) || !bytes.Equal(o.kv.buf[r.mid:r.end], want[i].v) {
				t.Fatalf("commit %d op %d: %x=%x, want %x=%x", commit, i, o.kv.key(r), o.kv.buf[r.mid:r.end], want[i].k, want[i].v)
			}
		}
	}
}
