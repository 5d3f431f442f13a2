package pebblestore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
)

// SplitCommits returns o with which a commit encodes its writes one at a
// time, by two goroutines as each is free (write.go's chunkWrites), so
// that commits of a few writes split them as commits of hundreds do.
func SplitCommits(o Options) Options {
	o.chunkWrites = 1
	return o
}

// DumpKeys prints every key of the store decoded, with a short form of its
// value, in key order: the storage format as it is on disk.
func (s *Store) DumpKeys() (string, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return "", err
	}
	defer it.Close()
	var b strings.Builder
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		dk, err := decodeKey(k)
		if err != nil {
			return "", fmt.Errorf("key %x: %v", k, err)
		}
		fmt.Fprintf(&b, "%-8s %s → %s\n", dk.Table, strings.Join(dk.Parts, " "), describeValue(k[0], it.Value()))
	}
	return b.String(), it.Error()
}

func describeValue(tag byte, v []byte) string {
	switch {
	case tag == tagVersion && len(v) == 0:
		return "(deleted)"
	case tag == tagVersion:
		return fmt.Sprintf("record %d bytes", len(v))
	case tag == tagLog:
		entries, err := decodeLog(v)
		if err != nil {
			return "corrupt"
		}
		parts := make([]string, len(entries))
		for i, e := range entries {
			parts[i] = fmt.Sprintf("%s %s %d (before=%d)", e.op, e.kind, e.id, e.before)
		}
		return strings.Join(parts, "; ")
	case tag == tagPosting && len(v) == 16:
		return fmt.Sprintf("from=%d aux=%d", u64(v), u64(v[8:]))
	case tag == tagPosting && len(v) == 8:
		return fmt.Sprintf("from=%d", u64(v))
	case tag == tagHistory && len(v) == 8:
		return fmt.Sprintf("aux=%d", u64(v))
	case tag == tagHistory:
		return "-"
	case len(v) == 8:
		return fmt.Sprintf("%d", u64(v))
	}
	return fmt.Sprintf("%x", v)
}

// BlockCacheBlocks returns how many blocks Pebble's block cache holds.
func (s *Store) BlockCacheBlocks() int64 { return s.db.Metrics().BlockCache.Count }

// RawKVs returns every key and value of the store, in key order, as one
// string per pair: what two stores must agree on byte for byte.
func (s *Store) RawKVs() ([]string, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for valid := it.First(); valid; valid = it.Next() {
		out = append(out, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	return out, it.Error()
}

// CheckSupports verifies the support table against the latest graph: every
// live component with a severe propagated state rests on its own state
// (no entry, own = propagated) or on a dependency with the same propagated
// state, through a chain that ends at an own state; no other component has
// an entry.
func (s *Store) CheckSupports() error {
	sn, err := s.Snapshot(time.Time{})
	if err != nil {
		return err
	}
	defer sn.Close()
	supports := map[graphstore.ID]graphstore.ID{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagSupport}, UpperBound: []byte{tagSupport + 1}})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		supports[graphstore.ID(u64(it.Key()[1:]))] = graphstore.ID(u64(it.Value()))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	comps, err := sn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	if err != nil {
		return err
	}
	live := map[graphstore.ID]*graphstore.Component{}
	for _, id := range comps {
		e, err := sn.Element(id)
		if err != nil {
			return err
		}
		live[id] = e.Component()
	}
	for id, via := range supports {
		c := live[id]
		switch {
		case c == nil:
			return fmt.Errorf("component %d is not live but has a support (%d)", id, via)
		case !c.Propagated.Severe():
			return fmt.Errorf("component %d is %s yet rests on %d", id, c.Propagated, via)
		case live[via] == nil || live[via].Propagated != c.Propagated:
			return fmt.Errorf("component %d (%s) rests on %d, which is not live with that state", id, c.Propagated, via)
		}
		deps, err := s.dependsOn(sn, id)
		if err != nil {
			return err
		}
		if !slices.Contains(deps, via) {
			return fmt.Errorf("component %d rests on %d, which it does not depend on", id, via)
		}
	}
	for id, c := range live {
		if _, ok := supports[id]; !ok && c.Propagated.Severe() && c.Health != c.Propagated {
			return fmt.Errorf("component %d is %s (own %s) and rests on nothing", id, c.Propagated, c.Health)
		}
		seen := map[graphstore.ID]bool{}
		for x := id; supports[x] != 0; x = supports[x] {
			if seen[x] {
				return fmt.Errorf("the support chain of component %d runs in a cycle through %d", id, x)
			}
			seen[x] = true
		}
	}
	return nil
}

// dependsOn lists the components a component depends on at a snapshot.
func (s *Store) dependsOn(sn graphstore.Snapshot, id graphstore.ID) ([]graphstore.ID, error) {
	var out []graphstore.ID
	for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
		adj, err := sn.Adjacent(id, ix, nil)
		if err != nil {
			return nil, err
		}
		for _, a := range adj {
			e, err := sn.Element(a.Relation)
			if err != nil {
				return nil, err
			}
			dir := e.Relation().Dependency
			if (ix == graphstore.IdxOut && dir.SourceDepends()) || (ix == graphstore.IdxIn && dir.TargetDepends()) {
				out = append(out, a.Other)
			}
		}
	}
	return out, nil
}

// SetSchema overwrites the store's schema version, to test what opening a
// store of another format does.
func (s *Store) SetSchema(v uint64) error {
	return s.db.Set(metaSchema, appendU64(nil, v), pebble.Sync)
}

// DumpPresent prints the in-memory index of the present graph, sorted: the
// commit it reflects, every set and every adjacency entry; and where the
// index came from when the store opened ("file" or "build").
func (s *Store) DumpPresent() (dump, from string) {
	p := s.now
	var lines []string
	for i := range p.shards {
		p.shards[i].mu.RLock()
		for k, set := range p.shards[i].sets {
			lines = append(lines, fmt.Sprintf("set %s %q %v", k.ix, k.term, set.ids()))
		}
		p.shards[i].mu.RUnlock()
	}
	p.eachAdjacency(func(id graphstore.ID, out, in []adjPair) {
		lines = append(lines, fmt.Sprintf("adj %08d %v %v", id, appendAdjacency(nil, out), appendAdjacency(nil, in)))
	})
	slices.Sort(lines)
	return fmt.Sprintf("ver %d\n%s\n", p.ver.Load(), strings.Join(lines, "\n")), s.presentFrom
}

// Runs returns how many runs the loader ingested in line and how many in
// the background.
func (l *Loader) Runs() (inLine, background int) { return l.runs[0], l.runs[1] }

// Spills returns how many times the loader spilled a run's writes to a
// file in the middle of a batch.
func (l *Loader) Spills() int { return l.spills }
