package pebblestore

import (
	"fmt"
	"strings"
)

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
