package pebblestore

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/kv"
)

// Key layout (docs/storage-format.md draws it byte by byte). Every key starts
// with a one-byte table tag. Integers are big-endian so that byte order is
// numeric order. Strings inside keys are escaped (0x00 → 0x00 0xFF) and
// terminated by 0x00 0x01, which keeps byte order equal to string order and
// makes a string's encoding a prefix of no other string's.
const (
	tagMeta     byte = 0x01 // 0x01 name                                    → value
	tagVersion  byte = 0x02 // 0x02 id:8 ts:8                                → element record (empty: deleted)
	tagExternal byte = 0x03 // 0x03 kind:1 esc(source) esc(ext)              → id:8
	tagPosting  byte = 0x04 // 0x04 index:1 esc(term) id:8                   → from:8 [aux:8]
	tagHistory  byte = 0x05 // 0x05 index:1 esc(term) to:8 id:8 from:8       → [aux:8]
	tagLog      byte = 0x06 // 0x06 ts:8                                     → change list
	tagSupport  byte = 0x07 // 0x07 id:8                                     → via:8 (what a component's propagated health rests on)
	tagState    byte = 0x08 // 0x08 key                                      → writer state value
)

// Meta keys.
var (
	metaSchema  = []byte{tagMeta, 's', 'c', 'h', 'e', 'm', 'a'}
	metaNextID  = []byte{tagMeta, 'n', 'e', 'x', 't', '_', 'i', 'd'}
	metaLast    = []byte{tagMeta, 'l', 'a', 's', 't'}
	metaAsked   = []byte{tagMeta, 'a', 's', 'k', 'e', 'd'}
	metaHorizon = []byte{tagMeta, 'h', 'o', 'r', 'i', 'z', 'o', 'n'}
)

// schemaVersion is written on creation and checked on open. Version 2 added
// check states and the materialized health of components.
const schemaVersion = 2

// errCorrupt is a key or value that does not decode.
var errCorrupt = fmt.Errorf("pebblestore: corrupt key or value: %w", graphstore.ErrCorrupt)

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func u64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// appendEscaped appends the escaped, terminated form of s (kv's, shared
// with the telemetry and trace stores).
func appendEscaped(b []byte, s string) []byte { return kv.AppendEscaped(b, s) }

// appendEscapedPrefix appends the escaped form of s without a terminator:
// the common prefix of every string that starts with s.
func appendEscapedPrefix(b []byte, s string) []byte {
	b = appendEscaped(b, s)
	return b[:len(b)-2]
}

// readEscaped decodes an escaped, terminated string at the start of b and
// returns it with the rest of b.
func readEscaped(b []byte) (string, []byte, error) {
	str, rest, err := kv.Escaped(b)
	if err != nil {
		return "", nil, errCorrupt
	}
	return str, rest, nil
}

func versionKey(id graphstore.ID, ts int64) []byte {
	return appendVersionKey(make([]byte, 0, versionKeyLen), id, ts)
}

// versionKeyLen is the length of a version key.
const versionKeyLen = 17

func appendVersionKey(b []byte, id graphstore.ID, ts int64) []byte {
	b = append(b, tagVersion)
	b = appendU64(b, uint64(id))
	return appendU64(b, uint64(ts))
}

// versionPrefix is the prefix of every version key of an element.
func versionPrefix(id graphstore.ID) []byte {
	return appendU64([]byte{tagVersion}, uint64(id))
}

func externalKey(kind graphstore.Kind, source, ext string) []byte {
	return appendExternalKey(make([]byte, 0, 6+len(source)+len(ext)), kind, source, ext)
}

// appendExternalKey appends the external-id key of (kind, source, ext) to b.
func appendExternalKey(b []byte, kind graphstore.Kind, source, ext string) []byte {
	b = append(b, tagExternal, byte(kind))
	b = appendEscaped(b, source)
	return appendEscaped(b, ext)
}

// termPrefix is the prefix of every posting (tag = tagPosting) or history
// entry (tag = tagHistory) of a term.
func termPrefix(tag byte, ix graphstore.Index, term string) []byte {
	return appendTermPrefix(make([]byte, 0, 4+len(term)+24), tag, ix, term)
}

func appendTermPrefix(b []byte, tag byte, ix graphstore.Index, term string) []byte {
	b = append(b, tag, byte(ix))
	return appendEscaped(b, term)
}

func postingKey(ix graphstore.Index, term string, id graphstore.ID) []byte {
	return appendU64(termPrefix(tagPosting, ix, term), uint64(id))
}

func appendPostingKey(b []byte, ix graphstore.Index, term string, id graphstore.ID) []byte {
	return appendU64(appendTermPrefix(b, tagPosting, ix, term), uint64(id))
}

func historyKey(ix graphstore.Index, term string, to int64, id graphstore.ID, from int64) []byte {
	return appendHistoryKey(make([]byte, 0, 4+len(term)+24), ix, term, to, id, from)
}

func appendHistoryKey(b []byte, ix graphstore.Index, term string, to int64, id graphstore.ID, from int64) []byte {
	b = appendTermPrefix(b, tagHistory, ix, term)
	b = appendU64(b, uint64(to))
	b = appendU64(b, uint64(id))
	return appendU64(b, uint64(from))
}

func logKey(ts int64) []byte { return appendU64([]byte{tagLog}, uint64(ts)) }

func supportKey(id graphstore.ID) []byte { return appendU64([]byte{tagSupport}, uint64(id)) }

// comparer orders keys bytewise, like Pebble's default, and splits them
// into a prefix and a suffix so that Pebble builds its bloom filters on
// prefixes and SeekPrefixGE can skip every sstable that lacks one: the
// prefix of a posting or history key is its table, index and term; of a
// version key, its table and element id; every other key is all prefix.
// Looking up a term or an element that does not exist, the common case of a
// bulk load, then costs a few filter probes instead of a seek in every level.
var comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = splitKey
	c.ImmediateSuccessor = immediateSuccessor
	c.Name = "tetra.graph.v1"
	return &c
}()

// splitKey returns the length of a key's prefix (see comparer).
func splitKey(k []byte) int {
	if len(k) == 0 {
		return 0
	}
	switch k[0] {
	case tagVersion:
		if len(k) >= 9 {
			return 9
		}
	case tagPosting, tagHistory:
		if n := termEnd(k); n > 0 {
			return n
		}
	}
	return len(k)
}

// termEnd returns the length of the table, index and escaped term at the
// start of a posting or history key, terminator included, or 0 if the key
// has no terminated term (a scan bound, for example).
func termEnd(k []byte) int {
	for i := 2; i+1 < len(k); i++ {
		if k[i] != 0 {
			continue
		}
		switch k[i+1] {
		case 0x01:
			return i + 2
		case 0xFF:
			i++
		default:
			return 0
		}
	}
	return 0
}

// immediateSuccessor appends the smallest prefix key greater than the
// prefix key a: a term's prefix with its terminator 0x00 0x01 raised to
// 0x00 0x02, an element's prefix with the next id, anything else with 0x00
// appended.
func immediateSuccessor(dst, a []byte) []byte {
	switch {
	case len(a) > 0 && (a[0] == tagPosting || a[0] == tagHistory) && termEnd(a) == len(a):
		dst = append(dst, a...)
		dst[len(dst)-1]++
		return dst
	case len(a) == 9 && a[0] == tagVersion:
		if id := u64(a[1:]); id < ^uint64(0) {
			return appendU64(append(dst, tagVersion), id+1)
		}
		return append(dst, tagVersion+1)
	}
	return append(append(dst, a...), 0x00)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xFF: no upper bound
}

// decodedKey is a key taken apart, for tests, tools and docs.
type decodedKey struct {
	Table string
	Parts []string
}

// decodeKey takes any key of the store apart.
func decodeKey(k []byte) (decodedKey, error) {
	if len(k) == 0 {
		return decodedKey{}, errCorrupt
	}
	rest := k[1:]
	switch k[0] {
	case tagMeta:
		return decodedKey{"meta", []string{string(rest)}}, nil
	case tagVersion:
		if len(rest) != 16 {
			return decodedKey{}, errCorrupt
		}
		return decodedKey{"version", []string{fmt.Sprintf("id=%d", u64(rest)), fmt.Sprintf("ts=%d", u64(rest[8:]))}}, nil
	case tagExternal:
		return decodeExternalKey(rest)
	case tagPosting, tagHistory:
		return decodePostingKey(k[0], rest)
	case tagLog:
		if len(rest) != 8 {
			return decodedKey{}, errCorrupt
		}
		return decodedKey{"log", []string{fmt.Sprintf("ts=%d", u64(rest))}}, nil
	case tagState:
		return decodedKey{"state", []string{fmt.Sprintf("%q", rest)}}, nil
	case tagSupport:
		if len(rest) != 8 {
			return decodedKey{}, errCorrupt
		}
		return decodedKey{"support", []string{fmt.Sprintf("id=%d", u64(rest))}}, nil
	}
	return decodedKey{}, errCorrupt
}

func decodeExternalKey(rest []byte) (decodedKey, error) {
	if len(rest) < 1 {
		return decodedKey{}, errCorrupt
	}
	kind := graphstore.Kind(rest[0])
	source, rest, err := readEscaped(rest[1:])
	if err != nil {
		return decodedKey{}, err
	}
	ext, rest, err := readEscaped(rest)
	if err != nil || len(rest) != 0 {
		return decodedKey{}, errCorrupt
	}
	return decodedKey{"external", []string{"kind=" + kind.String(), fmt.Sprintf("source=%q", source), fmt.Sprintf("ext=%q", ext)}}, nil
}

func decodePostingKey(tag byte, rest []byte) (decodedKey, error) {
	if len(rest) < 1 {
		return decodedKey{}, errCorrupt
	}
	ix := graphstore.Index(rest[0])
	term, rest, err := readEscaped(rest[1:])
	if err != nil {
		return decodedKey{}, err
	}
	parts := []string{"index=" + ix.String(), "term=" + showTerm(ix, term)}
	if tag == tagPosting {
		if len(rest) != 8 {
			return decodedKey{}, errCorrupt
		}
		return decodedKey{"posting", append(parts, fmt.Sprintf("id=%d", u64(rest)))}, nil
	}
	if len(rest) != 24 {
		return decodedKey{}, errCorrupt
	}
	return decodedKey{"history", append(parts,
		fmt.Sprintf("to=%d", u64(rest)), fmt.Sprintf("id=%d", u64(rest[8:])), fmt.Sprintf("from=%d", u64(rest[16:])))}, nil
}

// showTerm prints component id terms (adjacency, bound check states) as
// numbers.
func showTerm(ix graphstore.Index, term string) string {
	if ix.IDTermIndex() && len(term) == 8 {
		return fmt.Sprintf("%d", u64([]byte(term)))
	}
	return fmt.Sprintf("%q", term)
}

// stateKey is the key of a writer state record.
func stateKey(k string) []byte { return append([]byte{tagState}, k...) }
