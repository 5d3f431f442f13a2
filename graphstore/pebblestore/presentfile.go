package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/kv"
)

// The present graph's file. Building the index from Pebble's postings
// reads every current posting of the held indexes (some sixteen million
// keys at a million components); closing the store writes the index to a
// file beside Pebble's, and opening reads it back when it describes
// exactly the store's last commit, which is a sequential read of a tenth
// of the bytes with none of the merging iterators' work. The file is a
// cache: anything wrong with it (missing, from another commit, damaged)
// means a rebuild from Pebble, never an error.
//
//	file    = str(magic) last:uvarint next:uvarint sets adjacency crc32c:4
//	sets    = n:uvarint { index:1 str(term) kind:1 body }×n
//	body    = kind 0: n:uvarint (id delta:uvarint)×n   (a small set)
//	          kind 1: bytes(roaring bitmap, portable format)
//	adjacency = n:uvarint { id delta:uvarint side side }×n
//	side    = n:uvarint { relation:uvarint other:uvarint }×n
//
// last is the commit the index reflects; next the next element id then.
// The checksum covers everything before it (Castagnoli).
const presentFile = "tetra-present"

const presentMagic = "tetra present graph 1"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encode writes the index (which must reflect the commit at last and not
// change meanwhile: the caller holds the writer lock) in the file's form.
func (p *present) encode(last int64, next graphstore.ID) []byte {
	b := kv.AppendString(nil, presentMagic)
	b = kv.AppendUvarint(b, uint64(last))
	b = kv.AppendUvarint(b, uint64(next))
	n := 0
	for i := range p.shards {
		n += len(p.shards[i].sets)
	}
	b = kv.AppendUvarint(b, uint64(n))
	for i := range p.shards {
		for k, set := range p.shards[i].sets {
			b = append(b, byte(k.ix))
			b = kv.AppendString(b, k.term)
			b = appendSet(b, set)
		}
	}
	n = 0
	p.eachAdjacency(func(graphstore.ID, []adjPair, []adjPair) { n++ })
	b = kv.AppendUvarint(b, uint64(n))
	prev := graphstore.ID(0)
	p.eachAdjacency(func(id graphstore.ID, out, in []adjPair) {
		b = kv.AppendUvarint(b, uint64(id-prev))
		prev = id
		for _, l := range [2][]adjPair{out, in} {
			b = kv.AppendUvarint(b, uint64(len(l)))
			for _, a := range l {
				b = kv.AppendUvarint(b, uint64(a.rel))
				b = kv.AppendUvarint(b, uint64(a.other))
			}
		}
	})
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func appendSet(b []byte, set pset) []byte {
	if set.bm == nil {
		b = append(b, 0)
		b = kv.AppendUvarint(b, uint64(len(set.small)))
		prev := uint32(0)
		for _, id := range set.small {
			b = kv.AppendUvarint(b, uint64(id-prev))
			prev = id
		}
		return b
	}
	raw, err := set.bm.ToBytes()
	if err != nil { // only a writer's error, and this one writes to memory
		panic(fmt.Sprintf("pebblestore: encoding a bitmap: %v", err))
	}
	return kv.AppendBytes(append(b, 1), raw)
}

// decodePresent reads the file's form into a fresh index, if it reflects
// the commit at last with next as the next id (errStale when not).
func decodePresent(raw []byte, budget, last int64, next graphstore.ID) (*present, error) {
	if len(raw) < 4 {
		return nil, errCorrupt
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, errCorrupt
	}
	d := kv.NewReader(body)
	if d.String() != presentMagic {
		return nil, errCorrupt
	}
	if int64(d.Uvarint()) != last || graphstore.ID(d.Uvarint()) != next || d.Err() != nil {
		return nil, errStale
	}
	fresh := newPresent(budget)
	if err := fresh.decodeSets(d); err != nil {
		return nil, err
	}
	if err := fresh.decodeAdjacency(d, next); err != nil {
		return nil, err
	}
	return fresh, d.Done()
}

// errStale: the file describes another commit than the store's last.
var errStale = errors.New("pebblestore: the present graph's file is of another commit")

func (p *present) decodeSets(d *kv.Reader) error {
	n := d.Uvarint()
	if n > uint64(d.Len()) {
		return errCorrupt
	}
	var ids []uint32
	for range n {
		k := termKey{ix: graphstore.Index(d.Byte()), term: d.String()}
		var set pset
		switch d.Byte() {
		case 0:
			m := d.Uvarint()
			if m > uint64(d.Len()) {
				return errCorrupt
			}
			ids = ids[:0]
			prev := uint64(0)
			for range m {
				prev += d.Uvarint()
				ids = append(ids, uint32(prev))
			}
			set = pset{small: slices.Clone(ids)}
		case 1:
			bm := roaring.New()
			if _, err := bm.FromUnsafeBytes(slices.Clone(d.Bytes())); err != nil {
				return errCorrupt
			}
			set = bitmapSet(bm, denseOf(bm))
		default:
			return errCorrupt
		}
		if d.Err() != nil || !presentTerm(k) {
			return errCorrupt
		}
		p.shard(k).sets[k] = set
	}
	return d.Err()
}

func (p *present) decodeAdjacency(d *kv.Reader, next graphstore.ID) error {
	n := d.Uvarint()
	if n > uint64(d.Len()) {
		return errCorrupt
	}
	var b adjBuild
	id := graphstore.ID(0)
	for range n {
		delta := graphstore.ID(d.Uvarint())
		id += delta
		if d.Err() != nil || delta == 0 || id >= next || id > math.MaxUint32 {
			return errCorrupt
		}
		for sd := range b.side {
			m := d.Uvarint()
			if m > uint64(d.Len()) {
				return errCorrupt
			}
			for range m {
				rel, other := d.Uvarint(), d.Uvarint()
				if rel > math.MaxUint32 || other > math.MaxUint32 {
					return errCorrupt
				}
				b.add(sd, id, adjPair{rel: uint32(rel), other: uint32(other)})
			}
		}
		if d.Err() != nil {
			return errCorrupt
		}
	}
	packs := b.packs()
	p.adj.Store(&packs)
	return d.Err()
}

// savePresent writes the index to its file (through a temporary file and
// a rename). The caller
// holds the writer lock and the index reflects the commit at last.
func (s *Store) savePresent(last int64, next graphstore.ID) error {
	fs := s.po.FS
	path, tmp := fs.PathJoin(s.dir, presentFile), fs.PathJoin(s.dir, presentFile+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	// Not synced: a file a crash left half-written fails its checksum and
	// is rebuilt from, like any other that does not hold.
	_, err = f.Write(s.now.encode(last, next))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("pebblestore: writing the present graph: %w", err)
	}
	return nil
}

// loadPresent installs the index from its file if the file describes the
// commit at last; ok is false when it does not (or cannot be read), and
// the caller builds the index from Pebble.
func (s *Store) loadPresent(last int64, next graphstore.ID) (ok bool) {
	fs := s.po.FS
	f, err := fs.Open(fs.PathJoin(s.dir, presentFile))
	if err != nil {
		return false
	}
	raw, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return false
	}
	fresh, err := decodePresent(raw, s.now.budget, last, next)
	if err != nil {
		return false
	}
	s.now.install(fresh, last, next)
	return true
}
